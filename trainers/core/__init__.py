"""trainers.core."""
