"""mixers: recipes into weighted, deduplicated, decontaminated, shuffled shards + manifest."""

from mixers.errors import MixError
from mixers.mix import MixResult, mix

__all__ = ["MixError", "MixResult", "mix"]
