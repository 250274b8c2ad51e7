"""Moved to common/redact.py; shim until callers are updated (the same module object, so private
names and monkeypatching keep working)."""
import sys

from ..common import redact as _moved

sys.modules[__name__] = _moved
