"""Moved to goemu/json.py; shim until callers are updated (the same module object, so private
names and monkeypatching keep working)."""
import sys

from .goemu import json as _moved

sys.modules[__name__] = _moved
