"""check_schemas (being written)."""
