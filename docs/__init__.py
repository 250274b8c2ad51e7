"""The manuals, shipped as package data: ``gonka-lint --docs`` prints ``lint.md``."""
