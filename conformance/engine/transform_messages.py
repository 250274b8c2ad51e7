"""transform_messages (being written)."""
