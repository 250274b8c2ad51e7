"""JSON pointers (RFC 6901): split, join, escape."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


@lru_cache(maxsize=4096)
def pointer_tokens(pointer: str) -> tuple[str, ...]:
    """The unescaped tokens of ``pointer`` (cached: the engine resolves the same paths per request)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return tuple(unescape(t) for t in pointer[1:].split("/"))


def split_pointer(pointer: str) -> list[str]:
    return list(pointer_tokens(pointer))


def join_pointer(*tokens: Any) -> str:
    parts = []
    for token in tokens:
        text = str(token)
        parts.append("/" + (escape(text) if "~" in text or "/" in text else text))
    return "".join(parts)


def child(pointer: str, *tokens: Any) -> str:
    return pointer + join_pointer(*tokens)


def value_at(document: Any, tokens: Iterable[str], missing: Any) -> Any:
    """The value reached by following ``tokens`` (object keys, array indexes as digits) from
    ``document``, or ``missing`` when one is not there."""
    node = document
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return missing
    return node
