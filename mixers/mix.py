"""`mix`: a recipe into shuffled, deduplicated, decontaminated shards plus manifest.json.

1. Stage: each source is read once into a local Arrow file (see `stage`); bad rows are
   rejected or stop the mix, as `on_bad_row` says.
2. Clean: decontamination, exact dedup on normalized prompts, MinHash dedup, in that order;
   a row removed by one step is not counted again by the next.
3. Take: the recipe's arithmetic on what is left (see `takes`), seeded per source.
4. Shuffle: one seeded permutation of all taken rows, across sources.
5. Write: rows gathered in that order from the memory-mapped staged files, a chunk at a
   time, into shards; the manifest is written last.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from manifests import Accounting, NoValidRowsError, RejectsWriter
from manifests.progress import Progress
from manifests.rejects import REJECTS_NAME
from manifests.shards import ShardWriter, build_manifest, prepare_out_dir, write_manifest
from mixers.budgets import MemoryBudget, ResidentBudget
from mixers.contamination import duplicate_ids
from mixers.dedup import exact_duplicates, near_duplicates
from mixers.errors import MixError
from mixers.keys import tokenizer_counter
from mixers.recipe import Recipe
from mixers.stage import stage_source
from mixers.staged import StagedSource
from mixers.takes import draw, resolve_counts

WORK_DIR = ".skillmix-work"
DECONTAM_DIR = "decontamination"
GATHER_ROWS = 8192
RESIDENT_BUDGET = 256 << 20  # bytes of staged pages mapped at once while gathering


@dataclass
class MixResult:
    manifest: dict
    accounting: Accounting  # distinct rows: in = selected + removed (by reason) + rejected
    rows_written: int
    rejects_path: Path | None


@dataclass
class _Cleaning:
    decontaminated: list[np.ndarray]
    exact: list[np.ndarray]
    near: list[np.ndarray]
    decontam_summary: dict | None
    duplicate_ids: list[set[str]]  # per source, ids more than one of its rows carries


def _stage_all(
    recipe: Recipe,
    work: Path,
    on_bad_row: str,
    count_tokens: Callable[[list[str]], list[int]] | None,
    threads: int | None,
    memory: MemoryBudget,
    say: Callable[[str], None],
) -> list[StagedSource]:
    """Read every source once, `threads` at a time. A failure stops the sources not yet
    started; of the sources that failed, the first in recipe order gives the error."""

    staged_rows, lock = [0], threading.Lock()

    def one(i: int) -> StagedSource:
        spec = recipe.sources[i]
        say(f"reading {spec.name} ({spec.path})")
        with RejectsWriter(work / f"rejects-{i:04d}.jsonl") as rejects:
            source = stage_source(
                i,
                spec.name,
                recipe.source_path(spec),
                recipe.kind,
                work,
                skill=spec.skill,
                mapping=spec.mapping,
                on_bad_row=on_bad_row,
                rejects=rejects,
                count_tokens=count_tokens,
                keys=recipe.dedup.exact,
                memory=memory,
                lineage=spec.path,
            )
        with lock:
            staged_rows[0] += source.rows
            bar.update(1, rows=staged_rows[0], last=spec.name)
        return source

    count = threads or min(4, os.cpu_count() or 1)
    with (
        Progress(len(recipe.sources), desc="mix: stage", unit="source") as bar,
        ThreadPoolExecutor(max_workers=max(1, count)) as pool,
    ):
        futures = [pool.submit(one, i) for i in range(len(recipe.sources))]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()
    return [f.result() for f in futures]


def _merge_rejects(work: Path, sources: int, target: Path) -> int:
    """The sources' rejects, in recipe order, into one file; returns how many."""
    parts = [work / f"rejects-{i:04d}.jsonl" for i in range(sources)]
    parts = [p for p in parts if p.exists()]
    if not parts:
        return 0
    count = 0
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                for line in fh:
                    out.write(line)
                    count += 1
    return count


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _clean(
    recipe: Recipe, staged: list[StagedSource], out: Path, workers: int, log: Callable[[str], None]
) -> _Cleaning:
    empty = [np.zeros(s.rows, dtype=bool) for s in staged]
    dups = [duplicate_ids(s) for s in staged]
    for source, shared in zip(staged, dups, strict=True):
        if shared:
            shown = ", ".join(sorted(shared)[:3])
            log(
                f"{source.name}: {len(shared)} ids are carried by more than one row ({shown}"
                f"{', ...' if len(shared) > 3 else ''}); rows are told apart by position"
            )
    decontaminated, summary = empty, None
    if recipe.decontaminate is not None:
        from mixers.contamination import contaminated

        log(f"decontaminating against {', '.join(recipe.decontaminate.evals)}")
        decontaminated, summary = contaminated(
            staged,
            recipe.decontaminate,
            out / DECONTAM_DIR,
            base_dir=recipe.base_dir,
            workers=workers,
            dups=dups,
        )
        if summary.get("report_path"):
            summary["report_path"] = _relative(summary["report_path"], out)
    alive = [~d for d in decontaminated]
    exact = empty
    if recipe.dedup.exact:
        exact = exact_duplicates([s.keys for s in staged if s.keys is not None], alive)
        alive = [a & ~e for a, e in zip(alive, exact, strict=True)]
    near = empty
    if recipe.dedup.minhash is not None:
        log("near-duplicate search (MinHash)")
        near = near_duplicates(staged, alive, recipe.kind, recipe.dedup.minhash, recipe.seed)
        near = [n & a for n, a in zip(near, alive, strict=True)]
    return _Cleaning(decontaminated, exact, near, summary, dups)


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def _gathered(
    staged: list[StagedSource], sources: np.ndarray, rows: np.ndarray
) -> Iterator[pa.Table]:
    """Rows in the given global order, a chunk at a time, from the staged files."""
    opened = [s.open() for s in staged]
    budget = ResidentBudget(RESIDENT_BUDGET)
    for start in range(0, len(rows), GATHER_ROWS):
        chunk_sources = sources[start : start + GATHER_ROWS]
        chunk_rows = rows[start : start + GATHER_ROWS]
        pieces, positions = [], []
        for s in np.unique(chunk_sources):
            at = np.flatnonzero(chunk_sources == s)
            table, order = staged[s].gather(chunk_rows[at], opened[s], budget)
            pieces.append(table)
            positions.append(at[order])
        table = pa.concat_tables(pieces)
        yield table.take(pa.array(np.argsort(np.concatenate(positions))))


def _write(
    staged: list[StagedSource], sources: np.ndarray, rows: np.ndarray, writer: ShardWriter
) -> None:
    """Gather in this thread while another writes and hashes the previous chunk."""
    chunks: queue.Queue = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    bar = Progress(len(rows), desc="mix: write", unit="row")

    def consume() -> None:
        while (table := chunks.get()) is not None:
            if not failure:
                try:
                    writer.write_table(table)
                    bar.update(table.num_rows)
                except BaseException as exc:  # handed to the producer below
                    failure.append(exc)

    consumer = threading.Thread(target=consume, name="shard-writer")
    consumer.start()
    try:
        for table in _gathered(staged, sources, rows):
            if failure:
                break
            chunks.put(table)
    finally:
        chunks.put(None)
        consumer.join()
        bar.close()
    if failure:
        raise failure[0]


def _source_entry(
    recipe: Recipe,
    source: StagedSource,
    cleaning: _Cleaning,
    count: int,
    eligible: int,
    drawn: np.ndarray,
) -> dict:
    spec = recipe.sources[source.index]
    selected = len(np.unique(drawn))
    i = source.index
    entry = {
        "name": spec.name,
        "path": spec.path,
        "skill": spec.skill,
        "take": spec.take.to_dict(),
        "available": source.accounting.rows_in,
        "rejected": source.accounting.rejected,
        "decontaminated": int(cleaning.decontaminated[i].sum()),
        "deduplicated": {
            "exact": int(cleaning.exact[i].sum()),
            "minhash": int(cleaning.near[i].sum()),
        },
        "not_drawn": eligible - selected,
        "selected": selected,
        "rows_out": count,
        "upsample_factor": round(count / selected, 6) if selected else 0.0,
        "tokens": int(source.tokens[drawn].sum()) if source.tokens is not None else None,
        "duplicate_ids": len(cleaning.duplicate_ids[i]),
    }
    dedup = entry["deduplicated"]
    assert entry["available"] == (
        selected
        + dedup["exact"]
        + dedup["minhash"]
        + entry["decontaminated"]
        + entry["rejected"]
        + entry["not_drawn"]
    ), entry
    return entry


def source_accounting(entry: dict) -> Accounting:
    """The accounting of one source from its manifest entry (what `mix` wrote)."""
    acc = Accounting(rows_in=entry["available"], rows_out=entry["selected"])
    acc.reject(entry["rejected"])
    for reason, n in (
        ("contaminated", entry["decontaminated"]),
        ("duplicate_exact", entry["deduplicated"]["exact"]),
        ("duplicate_near", entry["deduplicated"]["minhash"]),
        ("not_drawn", entry["not_drawn"]),
    ):
        if n:
            acc.remove(reason, n)
    acc.check()
    return acc


def _accounting(entries: list[dict]) -> Accounting:
    acc = Accounting()
    for entry in entries:
        acc.merge(source_accounting(entry))
    return acc


def _token_counts(
    staged: list[StagedSource],
    entries: list[dict],
    tokenizer: str | None,
    skills_tokens: dict[str, int],
) -> dict | None:
    if tokenizer is None:
        return None
    per_source = {e["name"]: e["tokens"] for e in entries}
    # A local tokenizer folder by its name: its path is a fact of this run (under `run`).
    name = Path(tokenizer).name if Path(tokenizer).exists() else tokenizer
    return {
        "tokenizer": name,
        "total": sum(per_source.values()),
        "per_source": per_source,
        "per_skill": dict(sorted(skills_tokens.items())),
    }


def mix(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    fmt: str | None = None,
    tokenizer: str | None = None,
    on_bad_row: str = "error",
    workers: int = 1,
    threads: int | None = None,
    memory_mb: float = 512,
    log: Callable[[str], None] | None = None,
) -> MixResult:
    """Make the mix a recipe describes in `out_dir`; returns its manifest and accounting.

    `threads` sources are read at once (default: up to 4, one per core); `workers` is the
    process count of the decontamination step. Up to `memory_mb` MiB of the rows read are
    kept in memory; the rest is staged in local files and memory mapped.
    """
    say = log or (lambda message: None)
    if recipe.tokens is not None and tokenizer is None:
        raise MixError("tokens: a token budget needs a tokenizer (--tokenizer PATH)")
    out = prepare_out_dir(out_dir)
    work = out / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (out / REJECTS_NAME).unlink(missing_ok=True)
    shutil.rmtree(out / DECONTAM_DIR, ignore_errors=True)  # a report of an earlier run
    count_tokens = tokenizer_counter(tokenizer) if tokenizer else None
    rejected = 0
    try:
        try:
            staged = _stage_all(
                recipe,
                work,
                on_bad_row,
                count_tokens,
                threads,
                MemoryBudget(int(memory_mb * 2**20)),
                say,
            )
        except NoValidRowsError as exc:  # keep its rejects where the error says they are
            _merge_rejects(work, len(recipe.sources), out / REJECTS_NAME)
            raise NoValidRowsError(exc.file, exc.rejected, out / REJECTS_NAME) from None
        rejected = _merge_rejects(work, len(recipe.sources), out / REJECTS_NAME)
        pa.default_memory_pool().release_unused()  # pass one's buffers, before pass two
        cleaning = _clean(recipe, staged, out, workers, say)
        alive = [
            ~(d | e | n)
            for d, e, n in zip(cleaning.decontaminated, cleaning.exact, cleaning.near, strict=True)
        ]
        eligible = [np.flatnonzero(a) for a in alive]
        mean_tokens = None
        if count_tokens is not None:
            mean_tokens = [
                float(s.tokens[e].mean()) if len(e) else 0.0
                for s, e in zip(staged, eligible, strict=True)
            ]
        counts = resolve_counts(recipe, [len(e) for e in eligible], mean_tokens)
        drawn = [
            draw(e, c, _rng(recipe.seed, 1, i))
            for i, (e, c) in enumerate(zip(eligible, counts, strict=True))
        ]
        sources = np.concatenate([np.full(len(d), i, dtype=np.int32) for i, d in enumerate(drawn)])
        rows = np.concatenate(drawn)
        order = _rng(recipe.seed, 2).permutation(len(rows))
        sources, rows = sources[order], rows[order]
        say(f"writing {len(rows)} rows")
        shard_format = fmt or recipe.shards.format
        with ShardWriter(
            out,
            recipe.kind,
            max_rows=recipe.shards.max_rows,
            max_bytes=recipe.shards.max_bytes,
            fmt=shard_format,
        ) as writer:
            _write(staged, sources, rows, writer)
            shards = writer.close()
        entries = [
            _source_entry(recipe, s, cleaning, c, len(e), d)
            for s, c, e, d in zip(staged, counts, eligible, drawn, strict=True)
        ]
        skills_tokens: dict[str, int] = {}
        if count_tokens is not None:
            skills_tokens = _skill_tokens(staged, drawn, recipe)
        manifest = build_manifest(
            recipe.kind,
            shard_format,
            shards,
            {
                "name": recipe.name,
                "seed": recipe.seed,
                "recipe": recipe.to_dict(),
                "sources": entries,
                "token_counts": _token_counts(staged, entries, tokenizer, skills_tokens),
                "decontamination": cleaning.decontam_summary,
                "rejects": REJECTS_NAME if rejected else None,
                "upsampled_repeats": int(len(rows) - sum(e["selected"] for e in entries)),
            },
            run=_run_facts(recipe, out, tokenizer),
        )
        write_manifest(out, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return MixResult(
        manifest, _accounting(entries), len(rows), out / REJECTS_NAME if rejected else None
    )


def _run_facts(recipe: Recipe, out: Path, tokenizer: str | None) -> dict:
    """This run's absolute paths, for the manifest's `run` key."""
    return {
        "recipe_path": str(recipe.path) if recipe.path is not None else None,
        "recipe_dir": str(Path(recipe.base_dir).resolve()),
        "out_dir": str(out.resolve()),
        "sources": {s.name: recipe.source_path(s) for s in recipe.sources},
        "tokenizer": tokenizer,
    }


def _skill_tokens(
    staged: list[StagedSource], drawn: list[np.ndarray], recipe: Recipe
) -> dict[str, int]:
    totals: dict[str, int] = {}
    for source, rows in zip(staged, drawn, strict=True):
        assert source.tokens is not None
        skills = (
            np.concatenate(
                [b.column("skill").to_numpy(zero_copy_only=False) for b in source.open()]
            )
            if source.rows
            else np.array([])
        )
        for skill in np.unique(skills[rows]) if len(rows) else []:
            picked = rows[skills[rows] == skill]
            totals[str(skill)] = totals.get(str(skill), 0) + int(source.tokens[picked].sum())
    return totals
