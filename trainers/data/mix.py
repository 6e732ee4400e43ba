"""Reading a mix's shards (only through its manifest), tokenizing, and planning steps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from manifests import Accounting, RejectsWriter, RowGate, validate_row
from manifests.rejects import REJECTS_NAME
from trainers.data.chat import IGNORE_INDEX, Tokenized, tokenize_conversations


def read_mix(data_dir: str | Path, kind: str, gate: RowGate) -> Iterator[dict]:
    """Rows of a mix folder; its shards' hashes and the manifest's kind are checked first.
    A row that breaks its contract goes through `gate` (named error, or rejected)."""
    from manifests.shards import iter_shard_rows

    rows = iter_shard_rows(data_dir, verify=True, expected_kind=kind)
    for index, row in enumerate(rows):
        gate.count_in()
        try:
            validate_row(row, kind)
        except ValueError as err:
            gate.reject(str(data_dir), index, str(err), row)
            continue
        yield row


def mix_fingerprint(data_dir: str | Path) -> str:
    """The shards' hashes joined: names the exact data a run used."""
    from manifests.shards import load_manifest

    return ",".join(shard["sha256"] for shard in load_manifest(data_dir)["shards"])


def _removal_reason(messages: list[dict], doc: Tokenized) -> str | None:
    if not any(m["role"] == "assistant" for m in messages):
        return "no_assistant_turn"
    if doc.num_labels == 0:
        return "no_labels_after_truncation"
    return None


def chunked(rows: Iterable[dict], size: int = 512) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def tokenize_sft(rows, tokenizer, max_length: int, accounting: Accounting) -> list[Tokenized]:
    docs = []
    for chunk in chunked(rows):
        messages = [row["messages"] for row in chunk]
        for turns, doc in zip(
            messages, tokenize_conversations(tokenizer, messages, max_length), strict=True
        ):
            reason = _removal_reason(turns, doc)
            if reason:
                accounting.remove(reason)
                continue
            accounting.add_out()
            docs.append(doc)
    return docs


@dataclass(frozen=True)
class Pair:
    """A tokenized preference pair; only the final assistant turn carries labels."""

    chosen: Tokenized
    rejected: Tokenized


def tokenize_pairs(rows, tokenizer, max_length: int, accounting: Accounting) -> list[Pair]:
    pairs = []
    for chunk in chunked(rows):
        sides = [row["chosen"] for row in chunk] + [row["rejected"] for row in chunk]
        docs = tokenize_conversations(tokenizer, sides, max_length, last_only=True)
        n = len(chunk)
        for row, chosen, rejected in zip(chunk, docs[:n], docs[n:], strict=True):
            reason = _removal_reason(row["chosen"], chosen) or _removal_reason(
                row["rejected"], rejected
            )
            if reason:
                accounting.remove(reason)
                continue
            accounting.add_out()
            pairs.append(Pair(chosen, rejected))
    return pairs


def document_cap(config) -> int:
    """The most tokens a document keeps: max_length, or pack_length when packing caps it."""
    if config.packing and config.pack_length:
        return min(config.max_length, config.pack_length)
    return config.max_length


def cap_document(doc: Tokenized, limit: int) -> Tokenized:
    """The first `limit` tokens of a document (its labels cut the same way)."""
    if len(doc.input_ids) <= limit:
        return doc
    return Tokenized(input_ids=doc.input_ids[:limit], labels=doc.labels[:limit])


def cap_documents(
    items: list, limit: int | None, kind: str, accounting: Accounting
) -> tuple[list, int]:
    """Documents (sft) or pairs (preference) cut to `limit` tokens, the `--pack-length` cap,
    so no packed row is wider than it. Returns (kept items, items truncated). An item left
    without labels is removed from the accounting as `no_labels_after_pack_length`."""
    if not limit:  # None or 0: no cap beyond max_length
        return items, 0
    kept, truncated = [], 0
    for item in items:
        docs = [item] if kind == "sft" else [item.chosen, item.rejected]
        if all(len(d.input_ids) <= limit for d in docs):
            kept.append(item)
            continue
        truncated += 1
        capped = [cap_document(d, limit) for d in docs]
        # The first token never carries a label (collate unlabels it).
        if any(sum(1 for t in d.labels[1:] if t != IGNORE_INDEX) == 0 for d in capped):
            accounting.rows_out -= 1
            accounting.remove("no_labels_after_pack_length")
            continue
        kept.append(capped[0] if kind == "sft" else Pair(*capped))
    return kept, truncated


@dataclass(frozen=True)
class Loaded:
    items: list  # documents (sft) or pairs (preference)
    accounting: Accounting
    tokenized: str  # "computed", "cache_hit" or "off"
    truncated_to_pack_length: int = 0  # items cut to --pack-length (still trained on)


def load_tokenized(config, tokenizer, kind: str, *, is_main_process: bool = True) -> Loaded:
    """The mix's rows tokenized for `kind` ("sft": documents, "preference": pairs), with
    their accounting, through the token cache, then capped to `pack_length` when packing."""
    from manifests.shards import verify_shards
    from trainers.data.token_cache import cached_parts, token_cache_key

    rejects_path = Path(config.output) / REJECTS_NAME

    def build(accounting: Accounting) -> dict[str, list[Tokenized]]:
        with RejectsWriter(rejects_path) as rejects:
            gate = RowGate(config.on_bad_row, rejects, accounting)
            rows = read_mix(config.data, kind, gate)
            if kind == "sft":
                parts = {"docs": tokenize_sft(rows, tokenizer, config.max_length, accounting)}
            else:
                pairs = tokenize_pairs(rows, tokenizer, config.max_length, accounting)
                parts = {
                    "chosen": [p.chosen for p in pairs],
                    "rejected": [p.rejected for p in pairs],
                }
            gate.finish(str(config.data))
            return parts

    cache_dir = None
    if config.token_cache:
        cache_dir = config.token_cache_dir or str(Path(config.output) / "token_cache")
    key = token_cache_key(mix_fingerprint(config.data), tokenizer, kind, config.max_length)
    parts, accounting, hit = cached_parts(
        cache_dir, key, build, rejects_path=rejects_path, is_main_process=is_main_process
    )
    if hit:  # the rows were not read this time: check the shards still match their manifest
        _check_kind(config.data, kind)
        problems = verify_shards(config.data)
        if problems:
            raise ValueError(
                f"{config.data}: shards do not match manifest.json: " + "; ".join(problems)
            )
    items = (
        parts["docs"]
        if kind == "sft"
        else [Pair(c, r) for c, r in zip(parts["chosen"], parts["rejected"], strict=True)]
    )
    truncated = 0
    if config.packing:
        items, truncated = cap_documents(items, config.pack_length, kind, accounting)
    accounting.check()
    source = "off" if cache_dir is None else ("cache_hit" if hit else "computed")
    return Loaded(items, accounting, source, truncated)


def _check_kind(data_dir: str | Path, kind: str) -> None:
    from manifests.shards import load_manifest

    found = load_manifest(data_dir)["kind"]
    if found != kind:
        raise ValueError(f"{data_dir}: shards hold {found!r} rows, expected {kind!r}")


@dataclass(frozen=True)
class StepPlan:
    """Which rows every optimizer step uses: steps[s][p] is the list of micro-batches
    (lists of row indices) that process p runs in step s."""

    steps: list[list[list[list[int]]]]
    dropped_per_epoch: int  # rows left over when an epoch does not fill a last full step


def plan_steps(
    num_rows: int,
    *,
    batch_size: int,
    micro_batch_size: int,
    num_processes: int,
    epochs: int,
    seed: int,
    max_steps: int | None = None,
) -> StepPlan:
    """Deterministic from its arguments, so a resumed run finds its place by step number."""
    per_step = micro_batch_size * num_processes
    if batch_size % per_step:
        raise ValueError(
            f"batch_size {batch_size} is not a multiple of micro_batch_size x processes "
            f"({micro_batch_size} x {num_processes})"
        )
    if num_rows < batch_size:
        raise ValueError(f"only {num_rows} rows for a batch size of {batch_size}")
    accumulation = batch_size // per_step
    steps: list[list[list[list[int]]]] = []
    epoch = 0
    while epoch < epochs or (max_steps is not None and len(steps) < max_steps):
        generator = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(num_rows, generator=generator).tolist()
        for start in range(0, num_rows - batch_size + 1, batch_size):
            rows = order[start : start + batch_size]
            micro = [rows[i : i + micro_batch_size] for i in range(0, batch_size, micro_batch_size)]
            steps.append([micro[p::num_processes][:accumulation] for p in range(num_processes)])
        epoch += 1
        if max_steps is not None and len(steps) >= max_steps:
            break
    if max_steps is not None:
        steps = steps[:max_steps]
    return StepPlan(steps=steps, dropped_per_epoch=num_rows % batch_size)
