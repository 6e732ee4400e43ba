"""GRPO step time on CPU: skillmix `train rlvr` beside TRL's GRPOTrainer, same model, data,
batch and sampling, in one run. Records generation vs training time per step and tokens/s
in docs/benchmarks.md (section "rlvr").

    .venv/bin/python benchmarks/rlvr_bench.py [--steps 5] [--threads 2]

Both sides: 8 prompts x 8 completions per step, up to 32 new tokens at temperature 1,
beta 0.04 with a frozen reference, token-level loss over the whole batch (TRL's "dapo"),
one optimizer step per rollout, transformers generate. The model is a random Llama
(hidden 256, 4 layers, ~3M parameters) with a BPE tokenizer trained here: no downloads.
The first step of each side is a warm-up; the table shows medians of the others.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import machine_line, write_section

PROMPTS_PER_STEP, GENERATIONS, NEW_TOKENS = 8, 8, 32
# IFEval's lower-case check: random text passes about half the time, so most groups carry
# signal and both trainers train on most sequences.
LOWERCASE = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]})
WORDS = [
    "what",
    "is",
    "plus",
    "minus",
    "times",
    "the",
    "sum",
    "of",
    "and",
    "answer",
    "with",
    "a",
    "number",
    "please",
    "think",
    "step",
    "by",
    "then",
    "write",
    "final",
    "result",
    "apples",
    "pears",
    "boxes",
    "cats",
    "dogs",
]


def build_assets(root: Path, rows: int = 64) -> tuple[Path, Path]:
    from manifests.shards import write_shards
    from trainers.tiny_model import build_tiny_model

    rng = random.Random(0)
    corpus = [" ".join(rng.choices(WORDS, k=12)) + f" {rng.randint(0, 99)}" for _ in range(500)]
    model_dir, mix = root / "model", root / "mix"
    build_tiny_model(
        corpus,
        model_dir,
        vocab_size=1000,
        chat_template=True,
        hidden_size=256,
        intermediate_size=688,
        layers=4,
        heads=8,
        kv_heads=4,
        max_positions=256,
    )
    data = []
    for i in range(rows):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        data.append(
            {
                "id": f"b{i}",
                "source": "bench",
                "skill": "ifeval",
                "messages": [{"role": "user", "content": f"in lower case: {a} plus {b}"}],
                "ground_truth": LOWERCASE,
                "verifier": "ifeval",
                "metadata": "{}",
            }
        )
    write_shards(data, mix, "rlvr")
    return model_dir, mix


def run_skillmix(model_dir: Path, mix: Path, out: Path, steps: int) -> list[dict]:
    from trainers.core.runlog import read_log
    from trainers.rl.config import RLVRConfig
    from trainers.rlvr import run_rlvr

    run_rlvr(
        RLVRConfig(
            data=str(mix),
            model=str(model_dir),
            output=str(out),
            max_length=128,
            max_new_tokens=NEW_TOKENS,
            num_generations=GENERATIONS,
            batch_size=PROMPTS_PER_STEP,
            micro_batch_size=PROMPTS_PER_STEP,
            learning_rate=1e-6,
            beta=0.04,
            max_steps=steps,
            packing=False,
            tensorboard=False,
            generation_backend="transformers",
            seed=0,
        )
    )
    rows = []
    for r in read_log(out):
        rollout = r["generation_seconds"] + r["reward_seconds"] + r["reference_seconds"]
        rows.append(
            {
                "generation": r["generation_seconds"],
                "rollout": rollout,
                "train": r["step_seconds"] - rollout,
                "step": r["step_seconds"],
                "generated": r["completion_length"] * PROMPTS_PER_STEP * GENERATIONS,
                "train_tokens": r["tokens"],
                "sequences": GENERATIONS * PROMPTS_PER_STEP * (1 - r["zero_signal_share"]),
            }
        )
    return rows


def run_trl(model_dir: Path, mix: Path, out: Path, steps: int) -> list[dict]:
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from curate.verifiers import verify
    from manifests.shards import iter_shard_rows

    rows = list(iter_shard_rows(mix))
    dataset = Dataset.from_list(
        [
            {"prompt": r["messages"], "ground_truth": r["ground_truth"], "verifier": r["verifier"]}
            for r in rows
        ]
    )

    def reward(prompts, completions, ground_truth, verifier, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [
            10.0 * verify(v, t, g) for t, g, v in zip(texts, ground_truth, verifier, strict=True)
        ]

    timing: list[dict] = []

    class Timed(GRPOTrainer):
        def _generate(self, prompts):
            began = time.perf_counter()
            result = super()._generate(prompts)
            timing[-1]["generation"] += time.perf_counter() - began
            return result

        def _generate_and_score_completions(self, inputs):
            began = time.perf_counter()
            output = super()._generate_and_score_completions(inputs)
            timing[-1]["rollout"] += time.perf_counter() - began
            mask = output["completion_mask"]
            timing[-1]["generated"] += float(mask.sum())
            timing[-1]["train_tokens"] += float(mask.sum() + output["prompt_mask"].sum())
            timing[-1]["sequences"] += float(mask.shape[0])
            return output

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            timing.append(
                dict.fromkeys(
                    ("generation", "rollout", "generated", "train_tokens", "sequences"), 0.0
                )
            )
            timing[-1]["began"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            timing[-1]["step"] = time.perf_counter() - timing[-1].pop("began")

    args = GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=PROMPTS_PER_STEP * GENERATIONS,
        gradient_accumulation_steps=1,
        num_generations=GENERATIONS,
        max_completion_length=NEW_TOKENS,
        max_steps=steps,
        learning_rate=1e-6,
        beta=0.04,
        temperature=1.0,
        loss_type="dapo",
        use_cpu=True,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        seed=0,
        disable_tqdm=True,
    )
    tok = AutoTokenizer.from_pretrained(model_dir)
    trainer = Timed(
        model=str(model_dir),
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tok,
        callbacks=[StepClock()],
    )
    trainer.train()
    for t in timing:
        t["train"] = t["step"] - t["rollout"]
    return timing


def summarize(name: str, steps: list[dict]) -> dict:
    measured = steps[1:] or steps
    median = {k: statistics.median(s[k] for s in measured) for k in measured[0]}
    return {
        "name": name,
        **median,
        "gen_tps": statistics.median(s["generated"] / s["generation"] for s in measured),
        "train_tps": statistics.median(s["train_tokens"] / s["train"] for s in measured),
    }


def table(results: list[dict], steps: int, threads: int) -> str:
    lines = [
        "## RLVR (GRPO) step time, CPU",
        "",
        machine_line(),
        "",
        f"Random Llama (hidden 256, 4 layers), {PROMPTS_PER_STEP} prompts x {GENERATIONS} "
        f"completions per step, up to {NEW_TOKENS} new tokens, beta 0.04 (frozen reference), "
        f"transformers generate, torch threads {threads}; median of steps 2-{steps}. "
        "Rollout = generation + rewards + reference/old log-probs; train = step - rollout "
        "(forward, backward, optimizer). Generated tokens/s counts completion tokens over "
        "generation time; train tokens/s counts the prompt + completion tokens of the "
        "sequences trained on over train time. Rewards: IFEval's lower-case check. skillmix "
        "leaves groups with equal rewards out of the backward pass; TRL runs them with "
        "advantage 0, hence the sequences column.",
        "",
        "| trainer | generation s/step | rollout s/step | train s/step | step s | "
        "generated tok/s | sequences trained/step | train tok/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['generation']:.2f} | {r['rollout']:.2f} | {r['train']:.2f} | "
            f"{r['step']:.2f} | {r['gen_tps']:.0f} | {r['sequences']:.0f} | "
            f"{r['train_tps']:.0f} |"
        )
    lines += [
        "",
        "The machine is shared with other jobs, so absolute times carry noise; both trainers "
        "ran back to back in the same process. GPU numbers (and a 0.5B-class model) were not "
        "taken: no GPU was available to this run.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps per trainer")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir, mix = build_assets(root)
        results = [
            summarize(
                "skillmix train rlvr", run_skillmix(model_dir, mix, root / "ours", opts.steps)
            ),
            summarize(
                f"TRL GRPOTrainer {__import__('trl').__version__}",
                run_trl(model_dir, mix, root / "trl", opts.steps),
            ),
        ]
    text = table(results, opts.steps, opts.threads)
    print(text)
    if not opts.no_write:
        write_section("rlvr", text)


if __name__ == "__main__":
    main()
