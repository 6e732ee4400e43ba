"""Reference log-probabilities for DPO, computed once and cached on disk.

The cache key hashes the model's identity (name or resolved folder, its config and its
weight files' names, sizes and modification times) together with the data (the shards'
sha256s), the tokenization (max length, chat template) and the precision. A
`<key>.json` with statistics sits next to each `<key>.pt`.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import NamedTuple

import torch

from trainers.data.mix import Pair
from trainers.losses.sft import per_document_sums

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def model_identity(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.is_dir():
        return {"model": name_or_path}
    files = []
    for f in sorted(path.iterdir()):
        if f.name.endswith(WEIGHT_SUFFIXES):
            stat = f.stat()
            files.append([f.name, stat.st_size, stat.st_mtime_ns])
    config = path / "config.json"
    return {
        "model": str(path.resolve()),
        "config": config.read_text() if config.exists() else None,
        "weights": files,
    }


def cache_key(
    model: str, data_fingerprint: str, max_length: int, chat_template: str, bf16: bool
) -> str:
    record = {
        "model": model_identity(model),
        "data": data_fingerprint,
        "max_length": max_length,
        "chat_template": chat_template,
        "bf16": bf16,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]


class PairLogps(NamedTuple):
    chosen: torch.Tensor  # summed label log-probs per pair
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor  # label tokens per pair
    rejected_tokens: torch.Tensor
    padding: int  # padding tokens in the forward batch
    total: int  # all tokens in the forward batch


def pair_logps(
    model, pairs: list[Pair], pad_id: int, *, packing: bool = True, device, layout=None
) -> PairLogps:
    """Chosen and rejected responses of a micro-batch in one forward pass (`layout`, a
    `trainers.data.collate.Layout`, overrides `packing`)."""
    from trainers.data.collate import collate, padding_tokens

    docs = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    batch = collate(docs, packing=packing, pad_id=pad_id, layout=layout)
    padding, total = padding_tokens(batch), batch["input_ids"].numel()
    batch = {k: v.to(device) for k, v in batch.items()}
    sums, counts = per_document_sums(model, batch, len(docs))
    n = len(pairs)
    return PairLogps(sums[:n], sums[n:], counts[:n], counts[n:], padding, total)


@torch.no_grad()
def compute_reference(
    accelerator,
    model,
    pairs: list[Pair],
    pad_id: int,
    *,
    micro_batch_size: int,
    packing: bool = True,
    layout=None,
) -> dict[str, torch.Tensor]:
    """Reference sums for every pair; each process takes a slice, results are gathered."""
    from accelerate.utils import gather_object

    was_training = model.training
    model.eval()
    world = accelerator.num_processes
    mine = list(range(accelerator.process_index, len(pairs), world))
    # Every process runs the same number of forward passes (FSDP gathers weights in each),
    # topping its share up with pair 0, whose repeated results are dropped (index -1).
    mine += [-1] * (-(-len(pairs) // world) - len(mine))
    results: list[tuple[int, float, float]] = []
    for start in range(0, len(mine), micro_batch_size):
        index = mine[start : start + micro_batch_size]
        out = pair_logps(
            model,
            [pairs[max(i, 0)] for i in index],
            pad_id,
            packing=packing,
            device=accelerator.device,
            layout=layout,
        )
        results.extend(
            row
            for row in zip(index, out.chosen.tolist(), out.rejected.tolist(), strict=True)
            if row[0] >= 0
        )
    model.train(was_training)
    gathered = gather_object(results) if accelerator.num_processes > 1 else results
    table = torch.zeros(len(pairs), 2, dtype=torch.float64)
    for i, c, r in gathered:
        table[i, 0], table[i, 1] = c, r
    return {"chosen": table[:, 0], "rejected": table[:, 1]}


def prepare_reference(accelerator, model):
    """A frozen reference placed and sharded as the policy is: under FSDP wrapped by the same
    plugin (each process holds a shard), under DeepSpeed ZeRO-3 an inference engine with the
    run's ZeRO config (other stages: a full copy per process, ZeRO off), otherwise moved to
    the device. Returned in eval mode."""
    from accelerate.utils import DistributedType

    kind = accelerator.distributed_type
    if kind == DistributedType.FSDP:
        # prepare_model wraps with the accelerator's FSDP plugin. It also registers the model
        # for save_state; the frozen reference is rebuilt from --model, not checkpointed.
        registered = list(getattr(accelerator, "_models", []))
        model = accelerator.prepare_model(model)
        if hasattr(accelerator, "_models"):
            accelerator._models[:] = registered
    elif kind == DistributedType.DEEPSPEED:
        model = deepspeed_inference(accelerator, model)
    else:
        model = model.to(accelerator.device)
    return model.eval()


def deepspeed_inference(accelerator, model):
    """A DeepSpeed engine for a frozen model: the run's config without optimizer and
    scheduler; ZeRO-3 shards it, other stages keep a full copy (stage 0)."""
    import copy

    import deepspeed

    config = copy.deepcopy(accelerator.state.deepspeed_plugin.deepspeed_config)
    config.pop("optimizer", None)
    config.pop("scheduler", None)
    zero = config.setdefault("zero_optimization", {})
    zero.pop("offload_optimizer", None)
    if zero.get("stage") != 3:
        zero["stage"] = 0
    engine, *_ = deepspeed.initialize(model=model, config=config)
    return engine


def cached_reference(
    cache_dir: str | Path, key: str, compute, *, is_main_process: bool, wait
) -> tuple[dict[str, torch.Tensor], bool]:
    """Load `<key>.pt` from the cache or compute and store it; returns (table, was_cached)."""
    path = Path(cache_dir) / f"{key}.pt"
    if path.exists():
        return torch.load(path), True
    began = time.perf_counter()
    table = compute()
    if is_main_process:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(table, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        stats = {
            "key": key,
            "pairs": len(table["chosen"]),
            "seconds": round(time.perf_counter() - began, 3),
            "mean_chosen_logp": float(table["chosen"].mean()),
            "mean_rejected_logp": float(table["rejected"].mean()),
        }
        path.with_suffix(".json").write_text(json.dumps(stats, indent=2))
    wait()
    return table, False
