"""Rule message templates: ``{field}`` placeholders and Go's ``%q`` as ``{name:q}``."""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any, Mapping


class EngineError(RuntimeError):
    """A rule function failed: a bug in the engine, never the user's fault."""


# --- message templates --------------------------------------------------------------------


def go_quote(value: Any) -> str:
    """Go's ``%q`` for a string: double quotes, Go escapes, printable Unicode kept raw."""
    text = str(value)
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape (the loop below keeps every printable character)
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


@lru_cache(maxsize=512)
def _fields(template: str) -> tuple[tuple[str, str | None, str], ...] | None:
    """The template as (literal, field name, spec) parts, or ``None`` when a field is more
    than a plain name with an optional spec (conversions, indexing, nested fields): those go
    through the Formatter. Templates come from the catalogue, so few are ever seen."""
    parts: list[tuple[str, str | None, str]] = []
    try:
        for literal, name, spec, conversion in _FORMATTER.parse(template):
            if name is not None and (conversion or not name.isidentifier() or "{" in (spec or "")):
                return None
            parts.append((literal, name, spec or ""))
    except ValueError:
        return None
    return tuple(parts)


def _render_q(template: str, params: Mapping[str, Any]) -> str:
    """A template with ``{name:q}``: what the Formatter gives, without its per-field machinery."""
    parts = _fields(template)
    if parts is None:
        return _FORMATTER.vformat(template, (), dict(params))
    out = []
    for literal, name, spec in parts:
        out.append(literal)
        if name is not None:
            value = params[name]
            out.append(go_quote(value) if spec == "q" else format(value, spec))
    return "".join(out)


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "q":
            return go_quote(value)
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def render(template: str, params: Mapping[str, Any]) -> str:
    try:
        if ":q" not in template:  # no Go %q: str.format_map fills it the same way, at C speed
            return template.format_map(dict(params))
        return _render_q(template, params)
    except (KeyError, IndexError, ValueError) as exc:
        # Only the parameter names: their values come from the request and may be secrets.
        raise EngineError(f"message template {template!r} cannot be filled from {sorted(params)}: {exc}") from None
