"""check_messages (being written)."""
