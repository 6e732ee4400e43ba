"""SFT throughput on the CPU: skillmix (padding-free packing, padded) next to TRL's SFTTrainer
(padded, packed) on the same tiny Llama, tokenizer, chat template and conversations.

Run: .venv/bin/python benchmarks/train_bench.py [--rows 128] [--repeats 3] [--threads 1]
Writes the "train" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch
from _report import machine_line, write_section
from transformers import LlamaForCausalLM

from manifests.shards import write_shards
from trainers import SFTConfig, read_log, run_sft
from trainers.tiny_model import build_tiny_model

TEXT = (
    "model data train token batch loss learning rate gradient step layer attention head "
    "query key value cat dog river mountain city road light dark green blue red quick slow "
    "write explain list compare answer question reason because therefore first second then"
)
VOCAB = TEXT.split(" ")
MAX_LENGTH = 512
BATCH = 8


def make_rows(n: int, seed: int = 0) -> list[dict]:
    """Conversations with widely varying lengths (so that padding matters)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        user = " ".join(rng.choices(VOCAB, k=rng.randint(5, 80)))
        reply = " ".join(rng.choices(VOCAB, k=int(rng.paretovariate(1.2) * 15)))
        rows.append(
            {
                "id": f"b{i}",
                "source": "bench",
                "skill": "chat",
                "metadata": "{}",
                "messages": [
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": reply},
                ],
            }
        )
    return rows


def build_model_dir(path: Path) -> Path:
    # both trainers render with the same (built-in) chat template
    return build_tiny_model(
        [" ".join(VOCAB)] * 8,
        path,
        vocab_size=512,
        chat_template=True,
        hidden_size=128,
        intermediate_size=512,
        layers=4,
        kv_heads=4,
        max_positions=MAX_LENGTH,
        use_cache=False,
    )


def bench_skillmix(model_dir: Path, mix: Path, out: Path, **options) -> dict:
    config = SFTConfig(
        data=str(mix),
        model=str(model_dir),
        output=str(out),
        max_length=MAX_LENGTH,
        batch_size=BATCH,
        micro_batch_size=BATCH,
        learning_rate=1e-3,
        tensorboard=False,
        epochs=1,
        **options,
    )
    run_sft(config)
    log = read_log(out)
    seconds = sum(r["step_seconds"] for r in log)
    cpu = sum(r["cpu_seconds"] for r in log)
    tokens = sum(r["tokens"] for r in log)
    padded_total = sum(r["tokens"] / (1 - r["padding_share"]) for r in log)
    return {
        "tokens_per_s": tokens / seconds,
        "padding": 1 - tokens / padded_total,
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_cpu_s": tokens / cpu,
    }


def bench_trl(model_dir: Path, rows: list[dict], out: Path, *, packing: bool) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTConfig as TRLConfig
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = LlamaForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa")
    counts = {"real": 0, "total": 0}
    clock: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, *args, **kwargs):
            clock["start"], clock["cpu_start"] = time.perf_counter(), time.process_time()

        def on_train_end(self, *args, **kwargs):
            clock["end"], clock["cpu_end"] = time.perf_counter(), time.process_time()

    args = TRLConfig(
        output_dir=str(out),
        per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=1,
        num_train_epochs=1,
        learning_rate=1e-3,
        max_length=MAX_LENGTH,
        packing=packing,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        logging_steps=1000,
        seed=42,
        dataloader_num_workers=0,
        dataset_num_proc=1,
    )
    dataset = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[Clock()],
    )
    collator = trainer.data_collator

    def counting(features):
        batch = collator(features)
        ids = batch["input_ids"]
        counts["total"] += ids.numel()
        mask = batch.get("attention_mask")
        counts["real"] += int(mask.sum()) if mask is not None else ids.numel()
        return batch

    trainer.data_collator = counting
    trainer.train()
    seconds = clock["end"] - clock["start"]
    cpu = clock["cpu_end"] - clock["cpu_start"]
    return {
        "tokens_per_s": counts["real"] / seconds,
        "tokens_per_cpu_s": counts["real"] / cpu,
        "padding": 1 - counts["real"] / counts["total"],
        "seconds": seconds,
        "tokens": counts["real"],
    }


def fresh_accelerate_state() -> None:
    """TRL's Trainer and skillmix each set up accelerate's process-wide state differently."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def interleaved_best(setups: dict, repeats: int) -> dict[str, dict]:
    """Runs every setup once per round, so a noisy neighbour hurts all setups alike;
    keeps each setup's fastest run."""
    runs: dict[str, list[dict]] = {name: [] for name in setups}
    for _ in range(repeats):
        for name, fn in setups.items():
            fresh_accelerate_state()
            runs[name].append(fn())
            r = runs[name][-1]
            print(
                f"{name}: {r['tokens_per_s']:.0f} tok/s, "
                f"{r['tokens_per_cpu_s']:.0f} tok/CPU-s, padding {r['padding']:.1%}, "
                f"{r['seconds']:.2f} s",
                flush=True,
            )
    best = {}
    for name, results in runs.items():
        best[name] = max(results, key=lambda r: r["tokens_per_s"])
        best[name]["all"] = [r["tokens_per_s"] for r in results]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=128, help="conversations in the mix")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each setup's best is kept")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 keeps runs steady on a shared machine)",
    )
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    rows = make_rows(opts.rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model_dir = build_model_dir(tmp_path / "model")
        mix = tmp_path / "mix"
        write_shards(rows, mix, "sft")
        counter = iter(range(1000))

        def out() -> Path:
            return tmp_path / f"run{next(counter)}"

        setups = {
            "skillmix, packed: one row per micro-batch (default)": lambda: bench_skillmix(
                model_dir, mix, out(), packing=True
            ),
            "skillmix, packed: rows as long as the longest document (`--pack-length 0`)": lambda: (
                bench_skillmix(model_dir, mix, out(), packing=True, pack_length=0)
            ),
            "skillmix, padded (`--no-packing`)": lambda: bench_skillmix(
                model_dir, mix, out(), packing=False
            ),
            "TRL SFTTrainer, padded": lambda: bench_trl(model_dir, rows, out(), packing=False),
            "TRL SFTTrainer, packing=True (BFD, padding-free)": lambda: bench_trl(
                model_dir, rows, out(), packing=True
            ),
        }
        results = interleaved_best(setups, opts.repeats)
    write_section("train", report(results, opts))


def report(results: dict[str, dict], opts) -> str:
    lines = [
        "## Training: SFT throughput on the CPU (skillmix vs TRL SFTTrainer)",
        "",
        machine_line(),
        "",
        f"One epoch over {opts.rows} synthetic conversations (lengths vary widely, max "
        f"{MAX_LENGTH} tokens), batch {BATCH}, fp32, sdpa attention, tiny random Llama "
        "(hidden 128, 4 layers, vocabulary 512), same BPE tokenizer and chat template for "
        f"both, {opts.threads} torch thread(s). Setups run in turn, {opts.repeats} rounds; "
        "the table keeps each setup's fastest run and lists all runs. tokens/s counts real "
        "(non-padding) tokens over the training loop; padding share is padding tokens over "
        "all tokens fed to the model. tokens/CPU-s divides by the process's CPU time, which "
        "other jobs on a shared machine disturb less than wall time.",
        "",
        "| setup | tokens/s | tokens/CPU-s | padding share | loop seconds | real tokens "
        "| all runs (tok/s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['tokens_per_s']:,.0f} | {r['tokens_per_cpu_s']:,.0f} | "
            f"{r['padding']:.1%} | "
            f"{r['seconds']:.2f} | {r['tokens']:,.0f} | "
            f"{', '.join(f'{v:,.0f}' for v in r['all'])} |"
        )
    ours = {k: v for k, v in results.items() if k.startswith("skillmix")}
    peer = {k: v for k, v in results.items() if k.startswith("TRL")}
    best_ours = max(ours, key=lambda k: ours[k]["tokens_per_cpu_s"])
    best_peer = max(peer, key=lambda k: peer[k]["tokens_per_cpu_s"])
    lines += [
        "",
        f"Fastest per CPU-second: {best_ours} at {ours[best_ours]['tokens_per_cpu_s']:,.0f} "
        f"tokens/CPU-s against {best_peer} at {peer[best_peer]['tokens_per_cpu_s']:,.0f}. "
        "With sdpa attention a packed row costs the square of its length, so one long "
        "padding-free row (skillmix's default, and TRL's packing, which puts 8 rows of up "
        f"to {MAX_LENGTH} tokens into one padding-free row per batch) pays for attention "
        "between documents that the mask then throws away; `--pack-length 0` keeps rows as "
        "short as the longest document and wins on the CPU. With flash attention's "
        "variable-length kernel (GPU) that cost disappears and one row per micro-batch is "
        "the natural choice.",
        "",
        "TRL trains on every token of the conversation here (its `assistant_only_loss` needs "
        "a template with generation markers); the compute per token is the same. "
        "GPU numbers (tokens/s and MFU for a 0.5B-class model) were not taken: no GPU was "
        "available to this session.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
