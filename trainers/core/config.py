"""Run configurations: dataclasses, filled from a YAML file with CLI flags on top."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from manifests.gate import check_on_bad_row
from manifests.yaml_files import YamlFileError, load_yaml_file

REDUCTIONS = ("mean", "sum")
SCHEDULES = ("linear", "cosine", "constant")
DPO_LOSSES = ("dpo", "dpo_norm", "simpo", "ipo", "ipo_sum")

# Options that may change when a run resumes: where and how often it writes, its caches,
# and kernels that compute the same function. Every other option of any recipe decides the
# result (an option added later too) and must match the checkpoint's run. `data` is here
# because its content, the shards' hashes, is checked instead of its path; total steps
# (epochs, max_steps) are not: the schedule and the data order depend on them, so a longer
# run is a new run started from the previous one's final/ model.
OUTPUT_ONLY_OPTIONS = frozenset(
    {
        "data",
        "output",
        "resume",
        "log_every",
        "tensorboard",
        "save_every",
        "keep_checkpoints",
        "token_cache",
        "token_cache_dir",
        "ref_cache_dir",
        "on_bad_row",
        "gradient_checkpointing",
        "attn_implementation",
        "eval_batch_size",
        "vllm_gpu_memory_fraction",
    }
)


@dataclass
class TrainConfig:
    """Knobs every recipe shares."""

    data: str = ""  # a mix folder holding manifest.json and its shards
    model: str = ""  # a local folder or a hub name transformers can load
    output: str = ""
    max_length: int = 2048  # longer conversations are truncated
    epochs: int = 1
    max_steps: int | None = None  # optimizer steps; caps `epochs` when set
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    schedule: str = "linear"
    batch_size: int = 8  # effective: per-device micro-batch x accumulation x processes
    micro_batch_size: int = 1  # rows per forward pass on one device
    max_grad_norm: float | None = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    seed: int = 42
    packing: bool = True  # padding-free: documents of a micro-batch share a row
    # Tokens per packed row. None: one row per micro-batch (no padding; for flash attention);
    # 0: rows as long as the micro-batch's longest document (for sdpa/eager attention).
    pack_length: int | None = None
    attn_implementation: str = "sdpa"
    # Every *dropout* probability in the model config set to 0, in policy and reference (as
    # TRL's disable_dropout): dropout makes log-prob ratios noisy (DPO's first loss != ln 2).
    disable_dropout: bool = True
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    save_every: int | None = None  # steps between checkpoints (and one at the end)
    keep_checkpoints: int | None = None  # keep only the newest N checkpoints
    resume: str | None = None  # a checkpoint folder, or "latest" in `output`
    log_every: int = 1
    tensorboard: bool = True
    on_bad_row: str = "error"  # or "skip": bad rows go to output/rejects.jsonl
    token_cache: bool = True  # keep the tokenized mix on disk for resumed/repeated runs
    token_cache_dir: str | None = None  # default: <output>/token_cache

    def validate(self) -> None:
        for name in ("data", "model", "output"):
            if not getattr(self, name):
                raise ValueError(f"`{name}` is required")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        check_on_bad_row(self.on_bad_row)
        if self.batch_size < 1 or self.micro_batch_size < 1:
            raise ValueError("batch_size and micro_batch_size must be positive")


@dataclass
class SFTConfig(TrainConfig):
    reduction: str = "mean"  # "mean" over the accumulated batch's label tokens, or "sum"

    def validate(self) -> None:
        super().validate()
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {self.reduction!r}")


@dataclass
class DPOConfig(TrainConfig):
    learning_rate: float = 5e-7
    loss: str = "dpo_norm"
    beta: float = 5.0
    label_smoothing: float = 0.0
    simpo_gamma: float = 0.5  # SimPO's target reward margin
    ref_cache_dir: str | None = None  # default: <output>/ref_cache

    def validate(self) -> None:
        super().validate()
        if self.loss not in DPO_LOSSES:
            raise ValueError(f"loss must be one of {DPO_LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError("label_smoothing must be in [0, 0.5)")


C = TypeVar("C", bound=TrainConfig)


def load_config(cls: type[C], path: str | Path | None, overrides: dict[str, Any]) -> C:
    """Build `cls` from a YAML file (optional) with `overrides` (CLI flags) on top."""
    values: dict[str, Any] = {}
    if path:
        try:  # the project's one strict YAML loader: no aliases, no repeated keys
            loaded = load_yaml_file(Path(path)) or {}
        except YamlFileError as exc:
            raise ValueError(f"config {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of option names to values")
        values.update({k.replace("-", "_"): v for k, v in loaded.items()})
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{path or 'options'}: unknown option(s) {unknown}")
    config = cls(**values)
    config.validate()
    return config
