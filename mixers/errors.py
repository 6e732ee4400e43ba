"""Errors of the mixer."""

from __future__ import annotations


class MixError(ValueError):
    """A mix that cannot be made as asked; the message names the recipe key at fault."""
