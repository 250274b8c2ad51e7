"""The engine's JSON-Schema helpers that the linter's fixes reuse (public on purpose, so a fix
bounds and inlines a schema exactly as the check that reported it)."""

from .check_schemas import Bounds
from .transform_schemas import NodeLimit, RefError, Vocabulary, dereference

__all__ = ["Bounds", "NodeLimit", "RefError", "Vocabulary", "dereference"]
