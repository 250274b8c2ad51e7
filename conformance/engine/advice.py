"""advice (being written)."""
