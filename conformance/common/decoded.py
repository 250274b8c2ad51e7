"""Typed reads of decoded JSON (a request body, a JSON Schema): user data, where any key may
hold any value, so each read names the type it needs and a default for everything else."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

_T = TypeVar("_T")
_D = TypeVar("_D")


def get_as(mapping: Mapping[str, Any], key: str, kind: type[_T], default: _D) -> _T | _D:
    """``mapping[key]`` when it is a ``kind`` (``isinstance``: a bool counts as an int), else ``default``."""
    value = mapping.get(key)
    return value if isinstance(value, kind) else default
