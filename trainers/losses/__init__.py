"""trainers.losses."""
