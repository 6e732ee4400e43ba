"""GRPO runs end to end on the shared tiny Llama: reference/KL, resume, rollout reuse and
clipping, whole-batch token normalization, zero-signal groups, the CLI."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from manifests.shards import write_shards
from skillmix.cli import main
from tests.trainers.run_configs import run_config
from trainers.core.loop import prepare_optimization, start_run
from trainers.core.runlog import read_log
from trainers.data.prompts import Prompt
from trainers.losses.sft import forward_logits
from trainers.rl.config import RLVRConfig
from trainers.rl.generation import Completion
from trainers.rlvr import GRPOStep, run_rlvr

# Random byte-level text is all lower case about half the time: groups carry signal.
LOWERCASE = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]})


def ifeval_rows(n: int, rows_factory) -> list[dict]:
    prompts = rows_factory(n, seed=5)
    return [
        {
            "id": f"if{i}",
            "source": "test",
            "skill": "ifeval",
            "messages": [{"role": "user", "content": row["messages"][-2]["content"]}],
            "ground_truth": LOWERCASE,
            "verifier": "ifeval",
            "metadata": "{}",
        }
        for i, row in enumerate(prompts)
    ]


@pytest.fixture(scope="module")
def rlvr_mix(tmp_path_factory, rows_factory):
    path = tmp_path_factory.mktemp("rlvr-mix")
    write_shards(ifeval_rows(12, rows_factory), path, "rlvr", max_rows=5)
    return path


config = run_config(
    RLVRConfig,
    max_length=96,
    max_new_tokens=6,
    num_generations=4,
    learning_rate=1e-2,
    max_steps=3,
    beta=0.0,
    seed=3,
)


def test_kl_starts_at_zero_against_the_frozen_reference_then_grows(model_dir, rlvr_mix, tmp_path):
    summary = run_rlvr(config(model_dir, rlvr_mix, tmp_path, beta=0.1, max_steps=4))
    log = read_log(tmp_path)
    assert summary["reference"] == "frozen_copy"
    assert summary["accounting"] == {"rows_in": 12, "rows_out": 12, "removed": {}, "rejected": 0}
    assert log[0]["kl"] == pytest.approx(0.0, abs=1e-7)  # policy == reference at step 1
    assert max(r["kl"] for r in log[1:]) > 1e-4
    for key in (
        "reward/mean",
        "reward/ifeval",
        "correct_share",
        "completion_length",
        "clip_fraction",
        "generation_seconds",
        "train_seconds",
        "generation_tokens_per_second",
        "zero_signal_groups",
    ):
        assert key in log[-1], key


def test_beta_zero_loads_no_reference_model(model_dir, rlvr_mix, tmp_path, monkeypatch):
    import trainers.core.modeling

    def refuse(*_a, **_k):
        raise AssertionError("a reference model was loaded with beta=0")

    monkeypatch.setattr(trainers.core.modeling, "load_reference_model", refuse)
    summary = run_rlvr(config(model_dir, rlvr_mix, tmp_path, beta=0.0, max_steps=2))
    assert summary["reference"] == "none"
    assert all("kl" not in r for r in read_log(tmp_path))


def test_resume_continues_exactly_where_the_run_stopped(model_dir, rlvr_mix, tmp_path):
    full = tmp_path / "full"
    run_rlvr(
        config(
            model_dir,
            rlvr_mix,
            full,
            max_steps=4,
            save_every=2,
            eval_size=4,
            batch_size=4,
            micro_batch_size=4,
        )
    )
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    shutil.rmtree(cut / "checkpoint-000004")
    shutil.rmtree(cut / "final")
    summary = run_rlvr(
        config(
            model_dir,
            rlvr_mix,
            cut,
            max_steps=4,
            save_every=2,
            eval_size=4,
            batch_size=4,
            micro_batch_size=4,
            resume="latest",
        )
    )
    assert [r["step"] for r in read_log(cut)] == [1, 2, 3, 4]
    for a, b in zip(read_log(full)[2:], read_log(cut)[2:], strict=True):
        assert a["reward/mean"] == b["reward/mean"] and a["loss"] == pytest.approx(b["loss"])
    weights_a = load_file(full / "final" / "model.safetensors")
    weights_b = load_file(cut / "final" / "model.safetensors")
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    before = json.loads((full / "summary.json").read_text())["eval"]["before"]
    assert summary["eval"]["before"] == before  # reused, not recomputed on the new weights
    assert summary["eval_prompts"] == 4 and summary["train_prompts"] == 8


def test_reused_rollouts_move_the_ratio_and_clipping_engages(model_dir, rlvr_mix, tmp_path):
    run_rlvr(
        config(
            model_dir,
            rlvr_mix,
            tmp_path,
            num_iterations=2,
            max_steps=4,
            learning_rate=5e-2,
            epsilon_low=0.02,
            epsilon_high=0.02,
        )
    )
    log = read_log(tmp_path)
    assert [r["new_rollout"] for r in log] == [1.0, 0.0, 1.0, 0.0]
    fresh, reused = log[0], log[1]
    assert fresh["ratio_mean"] == 1.0 and fresh["clip_fraction"] == 0.0
    assert reused["ratio_mean"] != 1.0 and reused["clip_fraction"] > 0.0
    assert reused["reward/mean"] == fresh["reward/mean"]  # the same samples, scored once


class FixedGenerator:
    """Returns preset completions for each prompt: a rollout without randomness."""

    name = "fixed"

    def __init__(self, tokenizer, groups: dict[tuple[int, ...], list[str]]):
        self.groups = {
            prompt: [
                Completion(
                    tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id],
                    t,
                    True,
                )
                for t in texts
            ]
            for prompt, texts in groups.items()
        }

    def sync_weights(self) -> None:
        pass

    def generate(self, prompts, n, sampling):
        return [self.groups[tuple(p)][:n] for p in prompts]


def _step_grads(model_dir, tmp_path, texts, micro_batches, *, vary=True, **kw):
    """One GRPO step on four prompts; with `vary`, prompt k's completions get k extra
    words, so micro-batches hold different token counts."""
    cfg = config(model_dir, "unused", tmp_path, num_generations=len(texts), **kw)
    run = start_run(cfg)
    prepare_optimization(run, 1)
    prompt_ids = [
        run.tokenizer(f"<|user|>\n{w}\n<|assistant|>\n")["input_ids"]
        for w in ("the cat", "two dogs ran past", "sea", "a blue kite sat")
    ]
    prompts = [Prompt(str(i), ids, "ifeval", LOWERCASE) for i, ids in enumerate(prompt_ids)]
    groups = {
        tuple(ids): [t + " the sun" * (k if vary else 0) for t in texts]
        for k, ids in enumerate(prompt_ids)
    }
    step = GRPOStep(run, prompts, FixedGenerator(run.tokenizer, groups))
    metrics = step(micro_batches)
    grads = {n: p.grad.clone() for n, p in run.model.named_parameters() if p.grad is not None}
    return metrics, grads


def test_loss_is_normalized_by_the_tokens_of_the_whole_batch(model_dir, tmp_path):
    texts = ["the cat sat", "The Cat", "a mat while two dogs ran past seven red boxes", "Sea"]
    whole, grads_whole = _step_grads(
        model_dir, tmp_path / "a", texts, [[0, 1, 2, 3]], micro_batch_size=4
    )
    split, grads_split = _step_grads(
        model_dir, tmp_path / "b", texts, [[0], [1], [2], [3]], micro_batch_size=1
    )
    assert whole["loss_tokens"] == split["loss_tokens"] > 0
    assert whole["loss"] == pytest.approx(split["loss"], abs=1e-6)
    for name, grad in grads_whole.items():
        torch.testing.assert_close(grads_split[name], grad, atol=1e-6, rtol=1e-4)


def test_zero_signal_groups_are_counted_and_give_no_gradient_without_kl(model_dir, tmp_path):
    metrics, grads = _step_grads(
        model_dir, tmp_path, ["the cat sat"] * 4, [[0, 1], [2, 3]], vary=False, micro_batch_size=2
    )
    assert metrics["zero_signal_groups"] == 4 and metrics["zero_signal_share"] == 1.0
    # Their tokens still count in the normalizer (test_fix_grpo_norm.py); the gradient is 0.
    assert metrics["loss_tokens"] > 0 and metrics["loss"] == 0.0
    assert all(float(g.abs().max()) == 0.0 for g in grads.values())
    assert metrics["reward/mean"] == 10.0  # all correct, so nothing to learn from


def test_log_probs_are_recomputed_at_the_sampling_temperature(model_dir, tmp_path):
    from trainers.data.chat import Tokenized
    from trainers.data.collate import pad_batch
    from trainers.rl.rollout import completion_logps

    run = start_run(config(model_dir, "unused", tmp_path))
    doc = Tokenized(input_ids=[5, 6, 7, 8, 9], labels=[-100, -100, 7, 8, 9])
    batch = pad_batch([doc], pad_id=run.tokenizer.pad_token_id)
    with torch.no_grad():
        logps, _ = completion_logps(run.model, batch, temperature=0.7)
        logits = forward_logits(run.model, batch)[0]
    expected = [
        torch.log_softmax(logits[k - 1] / 0.7, dim=-1)[t] for k, t in ((2, 7), (3, 8), (4, 9))
    ]
    torch.testing.assert_close(logps, torch.stack(expected))


def test_cli_trains_reports_rows_and_evaluation(model_dir, rlvr_mix, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        main,
        [
            "train",
            "rlvr",
            "--data",
            str(rlvr_mix),
            "--model",
            str(model_dir),
            "--output",
            str(out),
            "--max-length",
            "96",
            "--max-new-tokens",
            "4",
            "--num-generations",
            "2",
            "--batch-size",
            "4",
            "--max-steps",
            "1",
            "--beta",
            "0",
            "--eval-size",
            "4",
            "--no-tensorboard",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rows in 12, out 12, removed 0 (none), rejected 0" in result.output
    assert "8 train, 4 held out" in result.output
    assert "eval before: 4 rows, pass@1" in result.output and "eval after" in result.output
    assert (out / "final" / "model.safetensors").exists()


def test_cli_names_file_and_row_of_a_bad_verifier_or_skips_it(model_dir, rows_factory, tmp_path):
    rows = ifeval_rows(9, rows_factory)
    rows[6]["verifier"] = "horoscope"
    mix = tmp_path / "mix"
    write_shards(rows, mix, "rlvr")
    args = [
        "train",
        "rlvr",
        "--data",
        str(mix),
        "--model",
        str(model_dir),
        "--max-length",
        "96",
        "--max-new-tokens",
        "2",
        "--num-generations",
        "2",
        "--batch-size",
        "4",
        "--max-steps",
        "1",
        "--beta",
        "0",
        "--no-tensorboard",
    ]
    failed = CliRunner().invoke(main, [*args, "--output", str(tmp_path / "a")])
    assert failed.exit_code != 0
    assert f"{mix}, row 6: field 'verifier': unknown verifier 'horoscope'" in failed.output
    skipped = CliRunner().invoke(
        main, [*args, "--output", str(tmp_path / "b"), "--on-bad-row", "skip"]
    )
    assert skipped.exit_code == 0, skipped.output
    assert "rows in 9, out 8, removed 0 (none), rejected 1" in skipped.output
    reject = json.loads((tmp_path / "b" / "rejects.jsonl").read_text())
    assert reject["row"] == 6 and "horoscope" in reject["reason"]


def test_lora_uses_the_base_model_with_the_adapter_off_as_reference(
    model_dir, rlvr_mix, tmp_path, monkeypatch
):
    import trainers.core.modeling

    monkeypatch.setattr(trainers.core.modeling, "load_reference_model", None)  # must not be used
    summary = run_rlvr(
        config(
            model_dir,
            rlvr_mix,
            tmp_path,
            beta=0.1,
            lora=True,
            lora_r=4,
            learning_rate=5e-2,
            max_steps=3,
        )
    )
    log = read_log(tmp_path)
    assert summary["reference"] == "adapter_disabled"
    assert log[0]["kl"] == pytest.approx(0.0, abs=1e-7)  # LoRA's B starts at zero
    assert max(r["kl"] for r in log[1:]) > 1e-5
    assert (tmp_path / "final" / "adapter_model.safetensors").exists()


def test_sampling_ignores_the_checkpoints_generation_defaults(model_dir, tokenizer):
    from transformers import AutoModelForCausalLM

    from trainers.rl.generation import Sampling, TransformersGenerator

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.generation_config.top_k = 1  # would make every sample the greedy one
    model.generation_config.repetition_penalty = 5.0
    generator = TransformersGenerator(lambda: model, tokenizer, "cpu")
    prompt = tokenizer("<|user|>\nthe cat\n<|assistant|>\n")["input_ids"]
    torch.manual_seed(0)
    group = generator.generate([prompt], 8, Sampling(temperature=1.0, max_new_tokens=6))[0]
    assert len({tuple(c.token_ids) for c in group}) > 1
    greedy = generator.generate([prompt], 2, Sampling(temperature=0.0, max_new_tokens=6))[0]
    assert greedy[0].token_ids == greedy[1].token_ids
    with torch.no_grad():  # greedy = argmax of the raw logits, no repetition penalty
        ids = torch.tensor([prompt + greedy[0].token_ids[:-1]])
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 :]
    assert logits.argmax(-1).tolist() == greedy[0].token_ids[: logits.shape[0]]


def test_weights_pushed_to_vllm_carry_hf_names_with_lora_merged(model_dir):
    """The vLLM path itself needs a GPU; the state it would push is checked here."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trainers.rl.generation import VLLMGenerator

    base = AutoModelForCausalLM.from_pretrained(model_dir)
    names = set(base.state_dict())
    policy = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False),
    )
    generator = object.__new__(VLLMGenerator)  # no engine: only the weight export
    generator.get_model = lambda: policy
    with generator.policy_weights() as pushed:
        assert set(pushed) == names
        base.load_state_dict(pushed)  # copies, as vLLM's load_weights does
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        torch.testing.assert_close(base(input_ids=ids).logits, policy(input_ids=ids).logits)
        fresh = AutoModelForCausalLM.from_pretrained(model_dir)
        assert not torch.allclose(fresh(input_ids=ids).logits, policy(input_ids=ids).logits)
    assert not policy.base_model.model.model.layers[0].self_attn.q_proj.merged  # unmerged
    plain = object.__new__(VLLMGenerator)
    plain.get_model = lambda: fresh
    with plain.policy_weights() as pushed:
        assert set(pushed) == names
