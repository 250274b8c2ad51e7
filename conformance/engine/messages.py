"""Rule message templates: ``{field}`` placeholders and Go's ``%q`` as ``{name:q}``."""

from __future__ import annotations

import string
from typing import Any, Mapping


class EngineError(RuntimeError):
    """A rule function failed: a bug in the engine, never the user's fault."""


# --- message templates --------------------------------------------------------------------


def go_quote(value: Any) -> str:
    """Go's ``%q`` for a string: double quotes, Go escapes, printable Unicode kept raw."""
    text = str(value)
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
        return _FORMATTER.vformat(template, (), dict(params))
    except (KeyError, IndexError, ValueError) as exc:
        # Only the parameter names: their values come from the request and may be secrets.
        raise EngineError(f"message template {template!r} cannot be filled from {sorted(params)}: {exc}") from None
