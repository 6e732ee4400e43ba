"""decontam room."""
