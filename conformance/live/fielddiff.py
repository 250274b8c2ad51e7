"""Readable differences between two JSON documents, one line per differing leaf:
``chat_template_kwargs.thinking: expected false, observed absent`` — JSON values, dotted
paths, never Python reprs."""

from __future__ import annotations

import json
from typing import Any

ABSENT = object()
MAX_VALUE_CHARS = 120


def field_diff(expected: Any, observed: Any, path: str = "") -> list[str]:
    if _mapping(expected) and _mapping(observed) and (expected is not ABSENT or observed is not ABSENT):
        mine = expected if isinstance(expected, dict) else {}  # an absent object: each of its fields is absent
        theirs = observed if isinstance(observed, dict) else {}
        lines = []
        for key in sorted(set(mine) | set(theirs), key=str):
            lines += field_diff(mine.get(key, ABSENT), theirs.get(key, ABSENT), f"{path}.{key}" if path else str(key))
        return lines
    if expected is ABSENT and observed is ABSENT or _same(expected, observed):
        return []
    return [f"{path or '(body)'}: expected {show(expected)}, observed {show(observed)}"]


def _mapping(value: Any) -> bool:
    return isinstance(value, dict) or value is ABSENT


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, 1.0 is 1
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def show(value: Any) -> str:
    if value is ABSENT:
        return "absent"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"
