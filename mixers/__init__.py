"""mixers room."""
