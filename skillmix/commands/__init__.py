"""CLI command modules; each exposes `COMMANDS` (see skillmix.cli)."""
