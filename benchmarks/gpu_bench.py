"""SFT, DPO and RLVR throughput on a randomly initialised 0.5B-class model, beside TRL.

    .venv/bin/python benchmarks/gpu_bench.py                 # GPU: Qwen2-0.5B-shaped model
    .venv/bin/python benchmarks/gpu_bench.py --tiny          # CPU check, well under a minute
    .venv/bin/python benchmarks/gpu_bench.py --write         # also record docs/benchmarks.md

The model is built from a config (Qwen2-0.5B's shape: hidden 896, 24 layers, 14 heads, 2 KV
heads, vocabulary 151,936) with random weights, and the tokenizer is a BPE trained here: no
downloads. Per recipe it reports tokens/s (real tokens through forward and backward, the first
step left out as warm-up), MFU (6 x parameters x tokens/s over the device's peak bf16 FLOP/s;
attention FLOPs are not counted, so it is a lower bound) and peak memory (CUDA allocator, or
the process's peak RSS on the CPU). TRL's SFTTrainer and DPOTrainer run on the same rows,
model and batch when trl is importable (RLVR beside TRL's GRPOTrainer, training part only).
On a GPU: bf16, flash_attention_2 when flash-attn is installed (else sdpa), packing.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import machine_line, write_section

TEXT = (
    "model data train token batch loss rate gradient step layer attention head query key "
    "value cat dog river mountain city road light dark green blue red quick slow write "
    "explain list compare answer question reason because therefore first second then "
    "what is plus minus sum of three four apples boxes"
)
WORDS = TEXT.split(" ")
LOWERCASE = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]})
# Dense bf16 tensor-core peak, FLOP/s (vendor datasheets, without sparsity).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}


def shape(tiny: bool) -> dict:
    if tiny:
        return dict(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=512,
        )
    return dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
    )


def build_model_dir(path: Path, tiny: bool, max_length: int) -> int:
    """A random Qwen2 and a BPE tokenizer in `path`; returns the parameter count."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from trainers.tiny_model import train_tokenizer

    tokenizer = train_tokenizer([" ".join(WORDS)] * 8, vocab_size=400, chat_template=True)
    torch.manual_seed(0)
    config = Qwen2Config(
        **shape(tiny),
        max_position_embeddings=max(max_length, 512),
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return sum(p.numel() for p in model.parameters())


def text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def make_mixes(root: Path, rows: int, words: int) -> dict[str, Path]:
    from manifests.shards import write_shards

    rng = random.Random(0)
    sft, pref, rlvr = [], [], []
    for i in range(rows):
        prompt = [{"role": "user", "content": text(rng, words // 4, words)}]
        sft.append(
            {
                "id": f"s{i}",
                "source": "bench",
                "skill": "chat",
                "metadata": "{}",
                "messages": [
                    *prompt,
                    {"role": "assistant", "content": text(rng, words // 4, words)},
                ],
            }
        )
        pref.append(
            {
                "id": f"p{i}",
                "source": "bench",
                "skill": "chat",
                "metadata": "{}",
                "chosen": [*prompt, {"role": "assistant", "content": text(rng, 4, words)}],
                "rejected": [*prompt, {"role": "assistant", "content": text(rng, 4, words)}],
            }
        )
        rlvr.append(
            {
                "id": f"r{i}",
                "source": "bench",
                "skill": "ifeval",
                "metadata": "{}",
                "messages": prompt,
                "ground_truth": LOWERCASE,
                "verifier": "ifeval",
            }
        )
    mixes = {}
    for kind, items in (("sft", sft), ("preference", pref), ("rlvr", rlvr)):
        mixes[kind] = root / kind
        write_shards(items, mixes[kind], kind)
    return mixes


def device_peak() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def start_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def fresh_accelerate_state() -> None:
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def result(name: str, tokens: float, seconds: float, params: int) -> dict:
    tps = tokens / max(seconds, 1e-9)
    peak = device_peak()
    return {
        "name": name,
        "tokens_per_s": tps,
        "seconds": seconds,
        "tokens": tokens,
        "mfu": 6 * params * tps / peak if peak else None,
        "peak_gb": peak_memory_gb(),
    }


def common(opts, model_dir: Path, data: Path, out: Path) -> dict:
    return dict(
        data=str(data),
        model=str(model_dir),
        output=str(out),
        max_length=opts.max_length,
        batch_size=opts.batch,
        micro_batch_size=opts.micro,
        max_steps=opts.steps,
        warmup_ratio=0.0,
        tensorboard=False,
        bf16=opts.bf16,
        attn_implementation=opts.attn,
        gradient_checkpointing=opts.checkpointing,
    )


def measured(
    log: list[dict], tokens_key: str = "tokens", seconds_key: str = "step_seconds"
) -> tuple[float, float]:
    steps = log[1:] or log  # the first step is warm-up (kernels, allocator)
    return sum(r[tokens_key] for r in steps), sum(r[seconds_key] for r in steps)


def bench_ours(opts, recipe: str, model_dir: Path, mixes: dict, out: Path, params: int) -> dict:
    from trainers import DPOConfig, RLVRConfig, SFTConfig, read_log, run_dpo, run_rlvr, run_sft

    start_memory()
    if recipe == "sft":
        run_sft(SFTConfig(**common(opts, model_dir, mixes["sft"], out), learning_rate=1e-5))
        return result("skillmix SFT", *measured(read_log(out)), params)
    if recipe == "dpo":
        run_dpo(
            DPOConfig(**common(opts, model_dir, mixes["preference"], out), loss="dpo", beta=0.1)
        )
        return result("skillmix DPO", *measured(read_log(out)), params)
    run_rlvr(
        RLVRConfig(
            **{
                **common(opts, model_dir, mixes["rlvr"], out),
                "max_length": opts.max_length + opts.new_tokens,
            },
            max_new_tokens=opts.new_tokens,
            num_generations=opts.generations,
            beta=0.04,
            generation_backend="transformers",
        )
    )
    log = read_log(out)
    tokens = sum(r["tokens"] for r in log[1:] or log)
    seconds = sum(r["train_seconds"] for r in log[1:] or log)
    row = result("skillmix RLVR (training part)", tokens, seconds, params)
    gen = sum(r["completion_length"] * opts.batch * opts.generations for r in log)
    row["generation_tokens_per_s"] = gen / max(sum(r["generation_seconds"] for r in log), 1e-9)
    return row


class StepClock:
    """Times TRL's optimizer steps (after the first) and counts the real tokens fed."""

    def __init__(self):
        self.began: float | None = None
        self.steps: list[float] = []
        self.tokens: list[float] = []

    def callback(self):
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_step_begin(self, *args, **kwargs):
                clock.began = time.perf_counter()

            def on_step_end(self, *args, **kwargs):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                clock.steps.append(time.perf_counter() - clock.began)

        return Callback()

    def count(self, collator):
        def counting(features):
            batch = collator(features)
            mask = batch.get("attention_mask")
            self.tokens.append(
                float(mask.sum()) if mask is not None else float(batch["input_ids"].numel())
            )
            return batch

        return counting

    def totals(self) -> tuple[float, float]:
        k = 1 if len(self.steps) > 1 else 0
        per_step = len(self.tokens) // max(len(self.steps), 1)
        return sum(self.tokens[k * per_step :]), sum(self.steps[k:])


def trl_args(opts, out: Path) -> dict:
    return dict(
        output_dir=str(out),
        per_device_train_batch_size=opts.micro,
        gradient_accumulation_steps=opts.batch // opts.micro,
        max_steps=opts.steps,
        learning_rate=1e-5,
        max_length=opts.max_length,
        save_strategy="no",
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        bf16=opts.bf16,
        logging_steps=1000,
        seed=42,
        dataloader_num_workers=0,
        disable_tqdm=True,
        gradient_checkpointing=opts.checkpointing,  # TRL 1.x turns it on by default
        model_init_kwargs={"attn_implementation": opts.attn},
    )


def bench_trl_grpo(opts, model_dir: Path, mix: Path, out: Path, params: int) -> dict:
    """TRL's GRPOTrainer on the same prompts and verifier; like ours, the training part of a
    step (step time less rollout) against the prompt+completion tokens it trains on."""
    import trl
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback

    from curate.verifiers import verify
    from manifests.shards import iter_shard_rows

    rows = [
        {"prompt": r["messages"], "ground_truth": r["ground_truth"], "verifier": r["verifier"]}
        for r in iter_shard_rows(mix)
    ]

    def reward(prompts, completions, ground_truth, verifier, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [
            float(verify(v, t, g)) for t, g, v in zip(texts, ground_truth, verifier, strict=True)
        ]

    steps: list[dict] = []

    class Timed(trl.GRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            began = time.perf_counter()
            output = super()._generate_and_score_completions(inputs)
            steps[-1]["rollout"] += time.perf_counter() - began
            steps[-1]["tokens"] += float(
                output["completion_mask"].sum() + output["prompt_mask"].sum()
            )
            return output

    class Clock(TrainerCallback):
        def on_step_begin(self, *args, **kwargs):
            steps.append({"rollout": 0.0, "tokens": 0.0, "began": time.perf_counter()})

        def on_step_end(self, *args, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            steps[-1]["train"] = time.perf_counter() - steps[-1].pop("began") - steps[-1]["rollout"]

    base = trl_args(opts, out)
    base.pop("max_length")
    # One optimizer step sees `batch` prompts x `generations` completions, as ours does.
    base["per_device_train_batch_size"] = opts.micro * opts.generations
    args = trl.GRPOConfig(
        **base,
        num_generations=opts.generations,
        max_completion_length=opts.new_tokens,
        beta=0.04,
        loss_type="dapo",
    )
    start_memory()
    trainer = Timed(
        model=str(model_dir),
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
        callbacks=[Clock()],
    )
    trainer.train()
    kept = steps[1:] or steps
    return result(
        f"TRL {trl.__version__} GRPO (training part)",
        sum(s["tokens"] for s in kept),
        sum(s["train"] for s in kept),
        params,
    )


def bench_trl(opts, recipe: str, model_dir: Path, mixes: dict, out: Path, params: int) -> dict:
    import trl
    from datasets import Dataset
    from transformers import AutoTokenizer

    from manifests.shards import iter_shard_rows

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    clock = StepClock()
    start_memory()
    if recipe == "sft":
        rows = [{"messages": r["messages"]} for r in iter_shard_rows(mixes["sft"])]
        trainer = trl.SFTTrainer(
            model=str(model_dir),
            train_dataset=Dataset.from_list(rows),
            args=trl.SFTConfig(**trl_args(opts, out), packing=True),
            processing_class=tokenizer,
            callbacks=[clock.callback()],
        )
    else:
        rows = [
            {"chosen": r["chosen"], "rejected": r["rejected"]}
            for r in iter_shard_rows(mixes["preference"])
        ]
        trainer = trl.DPOTrainer(
            model=str(model_dir),
            train_dataset=Dataset.from_list(rows),
            args=trl.DPOConfig(**trl_args(opts, out), beta=0.1, loss_type="sigmoid"),
            processing_class=tokenizer,
            callbacks=[clock.callback()],
        )
    trainer.data_collator = clock.count(trainer.data_collator)
    trainer.train()
    return result(f"TRL {trl.__version__} {recipe.upper()}", *clock.totals(), params)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model, CPU-sized")
    parser.add_argument("--recipes", default="sft,dpo,rlvr")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--no-trl", action="store_true", help="skip the TRL peers")
    parser.add_argument("--write", action="store_true", help="record docs/benchmarks.md")
    opts = parser.parse_args()
    gpu = torch.cuda.is_available()
    opts.steps = opts.steps or (3 if opts.tiny else 20)
    opts.rows = 64 if opts.tiny else 2048
    opts.words = 30 if opts.tiny else 400
    opts.max_length = 256 if opts.tiny else 2048
    opts.batch, opts.micro = (8, 4) if opts.tiny else (32, 8)
    opts.new_tokens, opts.generations = (8, 4) if opts.tiny else (256, 8)
    opts.bf16 = gpu
    opts.checkpointing = False
    import importlib.util

    opts.attn = "flash_attention_2" if gpu and importlib.util.find_spec("flash_attn") else "sdpa"
    if not opts.tiny and not gpu:
        parser.error("the 0.5B run needs a CUDA GPU; use --tiny on the CPU")
    if opts.tiny:
        torch.set_num_threads(2)
    began = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        params = build_model_dir(root / "model", opts.tiny, opts.max_length)
        mixes = make_mixes(root, opts.rows, opts.words)
        for n, recipe in enumerate(opts.recipes.split(",")):
            fresh_accelerate_state()
            rows.append(bench_ours(opts, recipe, root / "model", mixes, root / f"ours{n}", params))
            print(line(rows[-1]), flush=True)
            if not opts.no_trl and importlib.util.find_spec("trl"):
                fresh_accelerate_state()
                if recipe == "rlvr":
                    rows.append(
                        bench_trl_grpo(
                            opts, root / "model", mixes["rlvr"], root / f"trl{n}", params
                        )
                    )
                else:
                    rows.append(
                        bench_trl(opts, recipe, root / "model", mixes, root / f"trl{n}", params)
                    )
                print(line(rows[-1]), flush=True)
    print(f"total {time.perf_counter() - began:.1f} s")
    if opts.write:
        write_section("gpu", report(rows, opts, params))


def line(r: dict) -> str:
    mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
    return (
        f"{r['name']}: {r['tokens_per_s']:,.0f} tok/s, MFU {mfu}, peak "
        f"{r['peak_gb']:.2f} GiB, {r['tokens']:,.0f} tokens in {r['seconds']:.2f} s"
    )


def report(rows: list[dict], opts, params: int) -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    lines = [
        "## GPU: SFT, DPO, RLVR on a 0.5B-class model (`benchmarks/gpu_bench.py`)",
        "",
        machine_line(),
        "",
        f"Device {device}; random Qwen2 ({params / 1e6:,.0f}M parameters), {opts.attn}, "
        f"bf16 {opts.bf16}, batch {opts.batch} (micro {opts.micro}), {opts.steps} steps, max "
        f"length {opts.max_length}. MFU = 6 x parameters x tokens/s / peak bf16 FLOP/s.",
        "",
        "| run | tokens/s | MFU | peak memory (GiB) |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        lines.append(f"| {r['name']} | {r['tokens_per_s']:,.0f} | {mfu} | {r['peak_gb']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
