"""trainers.data."""
