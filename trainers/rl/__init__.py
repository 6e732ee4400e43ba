"""trainers.rl."""
