"""Mixing speed and memory: skillmix against the plain Hugging Face `datasets` path,
a polars lazy-scan version, and a raw copy of the input bytes (the disk floor).

Four generated chat sources (~250k rows, ~180 MB of Parquet) are mixed taking 100%, 50%,
200% and 10% of them, with a global seeded shuffle. Every contender runs in its own
process; the time is the work alone (imports excluded) and the memory is the process's
peak RSS. Results go to the `mix` section of docs/benchmarks.md.

    python benchmarks/mix_bench.py [--rows 250000] [--repeats 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TAKES = (1.0, 0.5, 2.0, 0.1)
SEED = 42
WORDS = 6000


def _vocabulary(rng) -> list[str]:
    letters = list("abcdefghijklmnopqrstuvwxyz")
    return ["".join(rng.choice(letters, size=rng.integers(2, 10))) for _ in range(WORDS)]


def generate(folder: Path, rows: int) -> list[Path]:
    """Four Parquet sources of contract sft rows (skillmix lineage already set)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from manifests import canonical_json, schema_for

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"source{i}.parquet" for i in range(4)]
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(0)
    vocab = np.array(_vocabulary(rng), dtype=object)
    # Zipf-like word frequencies, so the text compresses about as well as real chat.
    weights = 1.0 / np.arange(1, WORDS + 1)
    weights /= weights.sum()
    per_source = rows // 4
    chunk = 50_000
    for s, path in enumerate(paths):
        tmp = path.with_suffix(".tmp")
        with pq.ParquetWriter(tmp, schema_for("sft")) as writer:
            for first in range(0, per_source, chunk):
                n = min(chunk, per_source - first)
                user_len = rng.integers(15, 80, size=n)
                answer_len = rng.integers(60, 260, size=n)
                words = vocab[
                    rng.choice(WORDS, size=int(user_len.sum() + answer_len.sum()), p=weights)
                ]
                records, at = [], 0
                for i in range(n):
                    user = " ".join(words[at : at + user_len[i]])
                    at += user_len[i]
                    answer = " ".join(words[at : at + answer_len[i]])
                    at += answer_len[i]
                    row = first + i
                    records.append(
                        {
                            "id": f"s{s}-{row}",
                            "source": f"source{s}",
                            "skill": f"skill{s}",
                            "messages": [
                                {"role": "user", "content": user},
                                {"role": "assistant", "content": answer},
                            ],
                            "metadata": canonical_json(
                                {"file": f"gen/source{s}.jsonl", "row": row}
                            ),
                        }
                    )
                writer.write_table(pa.Table.from_pylist(records, schema=schema_for("sft")))
        tmp.rename(path)
    return paths


def write_recipe(folder: Path, paths: list[Path], exact: bool) -> Path:
    import yaml

    recipe = {
        "name": "bench",
        "seed": SEED,
        "kind": "sft",
        "sources": [
            {"name": p.stem, "path": str(p), "take": {"fraction": t}}
            for p, t in zip(paths, TAKES, strict=True)
        ],
        "dedup": {"exact": exact},
        "shards": {"max_bytes": 500_000_000},
    }
    path = folder / f"recipe-{'dedup' if exact else 'plain'}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


# ---- contenders: each runs in a fresh process and returns the rows it wrote ----------


def run_skillmix(paths: list[Path], out: Path, exact: bool, memory_mb: float = 512) -> int:
    from mixers import mix
    from mixers.recipe import load_recipe

    recipe = load_recipe(write_recipe(out.parent, paths, exact))
    return mix(recipe, out, memory_mb=memory_mb).rows_written


def run_datasets(paths: list[Path], out: Path) -> int:
    import datasets

    datasets.disable_progress_bars()
    parts = []
    for path, take in zip(paths, TAKES, strict=True):
        ds = datasets.Dataset.from_parquet(str(path), cache_dir=str(out.parent / "hf-cache"))
        whole, rest = divmod(round(take * len(ds)), len(ds))
        parts += [ds] * whole
        if rest:
            parts.append(ds.shuffle(seed=SEED).select(range(rest)))
    mixed = datasets.concatenate_datasets(parts).shuffle(seed=SEED)
    mixed.save_to_disk(str(out))
    return len(mixed)


def run_polars(paths: list[Path], out: Path) -> int:
    import polars as pl

    frames = []
    for path, take in zip(paths, TAKES, strict=True):
        lazy = pl.scan_parquet(path)
        n = lazy.select(pl.len()).collect().item()
        whole, rest = divmod(round(take * n), n)
        frames += [lazy] * whole
        if rest:
            frames.append(lazy.collect().sample(n=rest, seed=SEED).lazy())
    mixed = pl.concat(frames).collect().sample(fraction=1.0, shuffle=True, seed=SEED)
    out.mkdir(parents=True)
    mixed.write_ipc(out / "mix.arrow")
    return mixed.height


def run_copy(paths: list[Path], out: Path) -> int:
    out.mkdir(parents=True)
    for path in paths:
        shutil.copyfile(path, out / path.name)
    return 0


CONTENDERS = {
    "skillmix": lambda p, o: run_skillmix(p, o, exact=False),
    "skillmix +exact dedup": lambda p, o: run_skillmix(p, o, exact=True),
    "skillmix --memory-mb 0": lambda p, o: run_skillmix(p, o, exact=False, memory_mb=0),
    "HF datasets": run_datasets,
    "polars lazy": run_polars,
    "raw copy": run_copy,
}


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM starts afresh at exec, unlike ru_maxrss, which
    carries the parent's peak at fork into the child on Linux."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, data: Path, out: Path) -> None:
    paths = sorted(data.glob("source*.parquet"))
    if name.startswith("skillmix"):
        import mixers  # noqa: F401  (imports are not timed)
    elif name == "HF datasets":
        import datasets  # noqa: F401
    elif name == "polars lazy":
        import polars  # noqa: F401
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    rows = CONTENDERS[name](paths, out)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "rows": rows}))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def measure(name: str, data: Path, scratch: Path) -> dict:
    out = scratch / "out"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cmd = [sys.executable, __file__, "--child", name, "--data", str(data), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(scratch, ignore_errors=True)
    return result


def table(results: dict[str, list[dict]], rows: int, input_mb: float) -> str:
    from _report import machine_line

    med = {n: statistics.median(r["seconds"] for r in runs) for n, runs in results.items()}
    cpu = {n: statistics.median(r["cpu"] for r in runs) for n, runs in results.items()}
    peak = {n: max(r["peak_mb"] for r in runs) for n, runs in results.items()}
    lines = [
        "## Mixing (`benchmarks/mix_bench.py`)",
        "",
        f"Four generated chat sources, {rows:,} rows, {input_mb:.0f} MB of Parquet; takes "
        "100%, 50%, 200%, 10%; global seeded shuffle; Arrow output. Each contender runs in "
        "its own process; time is the median of the runs (imports excluded), memory the "
        "peak RSS. `skillmix` does the same work as the peers (no dedup) with its default "
        "512 MiB of rows kept in memory; `+exact dedup` adds normalized-prompt dedup; "
        "`--memory-mb 0` stages every row in files on disk and gathers from memory maps.",
        "",
        "| contender | rows out | wall (s) | CPU (s) | peak RSS (MB) | wall / skillmix's "
        "| wall / raw copy's |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in results:
        out_rows = results[name][0]["rows"]
        lines.append(
            f"| {name} | {out_rows:,} | {med[name]:.2f} | {cpu[name]:.2f} | {peak[name]:.0f} | "
            f"{med[name] / med['skillmix']:.2f} | {med[name] / med['raw copy']:.1f} |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += [
        "",
        f"Load average when the run ended: {load} (the machine is shared; CPU "
        "seconds are the steadier measure).",
        "",
        machine_line(),
    ]
    return "\n".join(lines)


def uncompressed_mb(paths: list[Path]) -> float:
    import pyarrow.parquet as pq

    total = 0
    for path in paths:
        meta = pq.read_metadata(path)
        total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return total / 1e6


def scale_table(rows: int, scratch: Path) -> str:
    """Memory against data size: skillmix alone on a larger generated input."""
    data = Path(tempfile.gettempdir()) / f"skillmix-mix-bench-{rows}"
    paths = generate(data, rows)
    input_mb = sum(p.stat().st_size for p in paths) / 1e6
    arrow_mb = uncompressed_mb(paths)
    result = measure("skillmix +exact dedup", data, scratch / "scale")
    return "\n".join(
        [
            f"Out of core: skillmix (exact dedup, default 512 MiB in memory, the rest staged "
            f"on disk) on {rows:,} generated rows, "
            f"{input_mb:,.0f} MB of Parquet (about {arrow_mb:,.0f} MB as Arrow):",
            "",
            "| rows in | rows out | time (s) | peak RSS (MB) | peak RSS / Arrow data size |",
            "|---:|---:|---:|---:|---:|",
            f"| {rows:,} | {result['rows']:,} | {result['seconds']:.1f} | "
            f"{result['peak_mb']:.0f} | {result['peak_mb'] / arrow_mb:.2f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, help="Where the generated sources are kept.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="Print, do not update docs.")
    parser.add_argument(
        "--scale-rows",
        type=int,
        default=0,
        help="Also mix this many rows with skillmix alone, to show memory "
        "against data size (e.g. 2000000).",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.out)
        return
    data = args.data or Path(tempfile.gettempdir()) / f"skillmix-mix-bench-{args.rows}"
    paths = generate(data, args.rows)
    input_mb = sum(p.stat().st_size for p in paths) / 1e6
    scratch = Path(tempfile.mkdtemp(prefix="skillmix-mix-bench-"))
    results: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    for _ in range(args.repeats):
        for name in CONTENDERS:
            results[name].append(measure(name, data, scratch / name.replace(" ", "_")))
            print(name, results[name][-1], file=sys.stderr)
    markdown = table(results, args.rows, input_mb)
    if args.scale_rows:
        markdown += "\n\n" + scale_table(args.scale_rows, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    print(markdown)
    if not args.no_write:
        from _report import write_section

        write_section("mix", markdown)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
