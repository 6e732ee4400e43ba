"""The RLVR GPU path on the CPU: synced generation under sharding, the reference prepared like
the policy, vLLM's V1 weight loading (against a stand-in of its LLM class) and the
truncated importance-sampling correction."""

import sys
import types
from dataclasses import replace
from types import SimpleNamespace
from typing import ClassVar

import pytest
import torch
from accelerate.utils import DistributedType

from trainers.data.collate import Layout, collate
from trainers.data.prompts import Prompt
from trainers.rl import generation
from trainers.rl.generation import (
    WEIGHT_LOADER,
    Completion,
    Sampling,
    TransformersGenerator,
    needs_synced_gpus,
    sampler_logps,
    truncated_importance_weights,
)

from .test_rlvr_run import LOWERCASE, FixedGenerator, config


def fake_accelerator(kind, processes=2, zero_stage=None):
    plugin = SimpleNamespace(zero_stage=zero_stage) if zero_stage is not None else None
    return SimpleNamespace(
        num_processes=processes,
        distributed_type=kind,
        state=SimpleNamespace(deepspeed_plugin=plugin),
        device=torch.device("cpu"),
    )


def test_synced_gpus_exactly_when_parameters_are_sharded():
    assert needs_synced_gpus(fake_accelerator(DistributedType.FSDP))
    assert needs_synced_gpus(fake_accelerator(DistributedType.DEEPSPEED, zero_stage=3))
    assert not needs_synced_gpus(fake_accelerator(DistributedType.DEEPSPEED, zero_stage=2))
    assert not needs_synced_gpus(fake_accelerator(DistributedType.MULTI_GPU))
    assert not needs_synced_gpus(fake_accelerator(DistributedType.FSDP, processes=1))


def test_transformers_generator_passes_synced_gpus(tokenizer, new_model):
    model = new_model()
    seen = []
    real = model.generate

    def spy(**kwargs):  # one process here: synced generation itself needs a process group
        seen.append(kwargs["synced_gpus"])
        return real(**{**kwargs, "synced_gpus": False})

    model.generate = spy
    for synced in (True, False):
        gen = TransformersGenerator(lambda: model, tokenizer, "cpu", synced_gpus=synced)
        out = gen.generate([[5, 6, 7]], 2, Sampling(temperature=0.0, max_new_tokens=3))
        assert len(out[0]) == 2
    assert seen == [True, False]


def test_reference_is_prepared_like_the_policy(monkeypatch, new_model):
    from trainers.core import reference

    calls = []
    fsdp = fake_accelerator(DistributedType.FSDP)
    fsdp._models = ["policy"]
    fsdp.prepare_model = lambda m: calls.append("fsdp") or fsdp._models.append(m) or m
    model = new_model().train()
    assert reference.prepare_reference(fsdp, model) is model and not model.training
    assert fsdp._models == ["policy"]  # the frozen reference is not saved in checkpoints
    monkeypatch.setattr(
        reference,
        "deepspeed_inference",
        lambda acc, m: calls.append(("zero", acc.state.deepspeed_plugin.zero_stage)) or m,
    )
    reference.prepare_reference(fake_accelerator(DistributedType.DEEPSPEED, zero_stage=3), model)
    single = fake_accelerator(DistributedType.NO, processes=1)
    single.prepare_model = lambda m: calls.append("wrong") or m
    assert reference.prepare_reference(single, model) is model
    assert calls == ["fsdp", ("zero", 3)]


class FakeLLM:
    """Records the calls VLLMGenerator makes on vllm.LLM (V1 API)."""

    instances: ClassVar[list] = []

    def __init__(self, **kwargs):
        self.kwargs, self.rpcs, self.resets = kwargs, [], 0
        FakeLLM.instances.append(self)

    def collective_rpc(self, method, args=(), kwargs=None):
        self.rpcs.append((method, args))
        return [len(args[0])]

    def reset_prefix_cache(self):
        self.resets += 1

    def generate(self, prompts, params, use_tqdm=False):
        step = {9: SimpleNamespace(logprob=-0.5)}
        out = SimpleNamespace(
            token_ids=[9, 9], text="x", finish_reason="stop", logprobs=[step, step]
        )
        return [SimpleNamespace(outputs=[out] * params.n) for _ in prompts]


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM
    module.SamplingParams = lambda **kw: SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.instances.clear()
    return module


def test_vllm_weights_load_through_the_v1_worker_extension(fake_vllm, new_model, tokenizer):
    import importlib

    model = new_model()
    gen = generation.VLLMGenerator(
        "m", lambda: model, tokenizer, gpu_memory_fraction=0.3, max_model_len=64, seed=0, bf16=True
    )
    llm = FakeLLM.instances[-1]
    assert llm.kwargs["worker_extension_cls"] == WEIGHT_LOADER
    assert llm.kwargs["logprobs_mode"] == "processed_logprobs"
    gen.sync_weights()
    ((method, args),) = llm.rpcs
    assert method == "load_policy_weights" and llm.resets == 1
    names = [name for name, _ in args[0]]
    assert names == list(model.state_dict()) and "lm_head.weight" in names
    # The extension as vLLM uses it: resolved by name, mixed into the worker class.
    module, _, cls = WEIGHT_LOADER.rpartition(".")
    extension = getattr(importlib.import_module(module), cls)
    loaded = []
    worker_cls = type("Worker", (extension,), {})
    worker = worker_cls()
    worker.model_runner = SimpleNamespace(
        model=SimpleNamespace(load_weights=lambda weights: loaded.extend(weights))
    )
    assert getattr(worker, method)(*args) == len(names) and len(loaded) == len(names)
    # Sampled tokens come back with their log-probs.
    (group,) = gen.generate([[1, 2]], 2, Sampling())
    assert [c.logprobs for c in group] == [[-0.5, -0.5]] * 2
    assert not hasattr(generation.VLLMGenerator, "llm_engine")


def test_truncated_importance_weights():
    trainer = torch.log(torch.tensor([0.5, 0.2, 0.9, 0.3]))
    sampler = torch.log(torch.tensor([0.25, 0.4, 0.1, float("nan")]))
    weights = truncated_importance_weights(trainer, sampler, cap=3.0)
    torch.testing.assert_close(weights, torch.tensor([2.0, 0.5, 3.0, 1.0]))
    with pytest.raises(ValueError, match="positive"):
        truncated_importance_weights(trainer, sampler, cap=0.0)


def test_sampler_logps_follow_the_packed_token_order():
    """pack_rows reorders documents across rows; the sampler's values must follow."""
    prompt = [1, 2]
    completions = [
        Completion([10 + k] * n, "", True, [-(k + 1) - j / 10 for j in range(n)])
        for k, n in enumerate((2, 5, 3))
    ]
    docs = [generation_doc(prompt, c) for c in completions]
    batch = collate(docs, pad_id=0, layout=Layout(pack_length=7))
    assert batch["input_ids"].shape[0] > 1
    mask = batch["labels"][:, 1:] != -100
    doc = batch["doc_index"][:, 1:][mask]
    assert doc.tolist() != sorted(doc.tolist())  # documents are out of order in the batch
    values = sampler_logps(completions, doc)
    for d, completion in enumerate(completions):
        assert values[doc == d].tolist() == pytest.approx(completion.logprobs)
    with pytest.raises(ValueError, match="document 0"):
        sampler_logps([replace(completions[0], token_ids=[10] * 3), *completions[1:]], doc)


def generation_doc(prompt, completion):
    from trainers.data.chat import IGNORE_INDEX, Tokenized

    return Tokenized(
        input_ids=prompt + completion.token_ids,
        labels=[IGNORE_INDEX] * len(prompt) + completion.token_ids,
    )


class SamplerGenerator(FixedGenerator):
    """FixedGenerator whose completions carry sampler log-probs."""

    def __init__(self, tokenizer, groups, logprob: float):
        super().__init__(tokenizer, groups)
        self.groups = {
            p: [replace(c, logprobs=[logprob] * len(c.token_ids)) for c in cs]
            for p, cs in self.groups.items()
        }


def grpo_grads(model_dir, tmp_path, cap, logprob):
    from trainers.core.loop import prepare_optimization, start_run
    from trainers.rlvr import GRPOStep

    run = start_run(
        config(
            model_dir,
            "unused",
            tmp_path,
            num_generations=2,
            micro_batch_size=2,
            batch_size=2,
            importance_sampling_cap=cap,
        )
    )
    prepare_optimization(run, 1)
    ids = [run.tokenizer(f"<|user|>\n{w}\n<|assistant|>\n")["input_ids"] for w in ("a", "b")]
    prompts = [Prompt(str(i), p, "ifeval", LOWERCASE) for i, p in enumerate(ids)]
    groups = {tuple(p): ["the cat sat", "The Cat"] for p in ids}
    GRPOStep(run, prompts, SamplerGenerator(run.tokenizer, groups, logprob))([[0, 1]])
    return {n: p.grad.clone() for n, p in run.model.named_parameters() if p.grad is not None}


def test_importance_sampling_scales_the_policy_gradient(model_dir, tmp_path):
    """A sampler far less sure than the trainer (log-prob -50) makes every ratio huge, so each
    token's weight is the cap: the gradient is exactly cap times the uncorrected one."""
    plain = grpo_grads(model_dir, tmp_path / "a", None, -50.0)
    capped = grpo_grads(model_dir, tmp_path / "b", 1.5, -50.0)
    assert plain
    for name, grad in plain.items():
        torch.testing.assert_close(capped[name], 1.5 * grad, atol=1e-7, rtol=1e-4)
    # A sampler surer than the trainer (log-prob 0) weighs tokens by p_trainer < 1: smaller.
    sure = grpo_grads(model_dir, tmp_path / "c", 1.5, 0.0)
    total = sum(float(g.norm()) for g in plain.values())
    assert 0 < sum(float(g.norm()) for g in sure.values()) < total
