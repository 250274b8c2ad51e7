"""JSON the way the upstream Go gateway reads and writes it.

The devshard gateway decodes with ``encoding/json`` + ``UseNumber`` and re-encodes with
``json.Marshal``. Reproducing its bytes (sorted keys, compact, HTML-safe escaping, Go float
formatting, number literals preserved) lets the engine match the goldens byte for byte and
lets the reference gateway forward exactly what upstream would.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
from decimal import Decimal
from typing import Any


# Go's unicode.IsSpace set, which strings.TrimSpace uses (Python's str.strip() also trims
# U+001C-U+001F, which Go keeps).
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


# The only white space JSON allows between tokens (RFC 8259 §2), which is all Go's decoder skips.
JSON_SPACE = " \t\n\r"


def go_trim_space(text: str) -> str:
    """``strings.TrimSpace`` (``str.strip`` with Go's set runs at C speed)."""
    return text.strip(GO_SPACE)


class Num(float):
    """A JSON number literal that is not an integer, kept verbatim (Go's ``json.Number``)."""

    __slots__ = ("literal",)
    literal: str

    def __new__(cls, literal: str) -> "Num":
        obj = super().__new__(cls, float(literal))
        obj.literal = literal
        return obj

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Num({self.literal})"


class GoJSONError(ValueError):
    """A decode failure, with the text Go's decoder would report."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-JSON constant {name}")


def _parse_int(literal: str) -> int | Num:
    """Integers keep their exact value; one past Python's digit limit keeps its literal (as
    ``json.Number`` does) and, being no int, fails every integer check as Go's ParseInt would."""
    if literal == "-0":  # Go keeps the sign of a json.Number it forwards untouched (and ParseInt reads 0)
        return Num(literal)
    try:
        return int(literal)
    except ValueError:
        return Num(literal)


_DECODER = json.JSONDecoder(parse_float=Num, parse_int=_parse_int, parse_constant=_reject_constant)


def _quote_char(ch: str) -> str:
    """Go's ``quoteChar``: ``'x'``, with escapes for quotes and control characters.

    Go's scanner reads bytes, so a non-ASCII character is reported by its first UTF-8 byte
    read as a rune (a BOM gives ``'ï'``)."""
    if ord(ch) >= 0x80:
        ch = chr(ch.encode("utf-8", errors="surrogatepass")[0])
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    if ch.isprintable():
        return f"'{ch}'"
    text = json.dumps(ch)[1:-1]
    return f"'{text}'"


_CONSTANT = re.compile(r"(-?)(NaN|Infinity)")


def _constant_error(text: str) -> GoJSONError:
    """Python accepts NaN/Infinity literals; Go stops at their first letter."""
    match = _CONSTANT.search(text)
    if match is None:  # pragma: no cover - only NaN/Infinity reach here (big ints are parsed)
        return GoJSONError("invalid character looking for beginning of value", 0)
    start = match.start(2)
    where = "in numeric literal" if match.group(1) else "looking for beginning of value"
    return GoJSONError(f"invalid character {_quote_char(text[start])} {where}", start)


def _go_error(exc: json.JSONDecodeError, text: str) -> GoJSONError:
    pos = exc.pos
    at_end = pos >= len(text) or not text[pos:].strip(JSON_SPACE)
    msg = exc.msg
    if msg.startswith("Unterminated string") or at_end:
        return GoJSONError("unexpected EOF", pos)
    ch = _quote_char(text[pos])
    if msg.startswith("Expecting property name"):
        return GoJSONError(f"invalid character {ch} looking for beginning of object key string", pos)
    if msg.startswith("Expecting ':'"):
        return GoJSONError(f"invalid character {ch} after object key", pos)
    if msg.startswith("Expecting ','"):
        context = _enclosing_container(text, pos)
        where = "after object key:value pair" if context == "{" else "after array element"
        return GoJSONError(f"invalid character {ch} {where}", pos)
    if msg.startswith("Invalid control character"):
        return GoJSONError(f"invalid character {ch} in string literal", pos)
    if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\u"):
        return GoJSONError(f"invalid character {ch} in string escape code", pos)
    return GoJSONError(f"invalid character {ch} looking for beginning of value", pos)


def _enclosing_container(text: str, pos: int) -> str:
    """The innermost open bracket before ``pos`` (only used to word an error)."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


_GO_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", Num: "number"}


def decode_object(raw: bytes) -> dict[str, Any] | None:
    """Decode a request body into a map, as ``json.NewDecoder(r).UseNumber().Decode(&m)``.

    Returns ``None`` for a literal ``null`` (Go leaves the map nil without an error). Only the
    first JSON value is read; trailing bytes are ignored, as upstream does.
    """
    return decode_document(raw)[0]


_LEADING_SPACE = re.compile(r"[ \t\r\n]*")


def decode_document(raw: bytes) -> tuple[dict[str, Any] | None, bool]:
    """:func:`decode_object`, and whether nothing but JSON white space follows the value."""
    text = raw.decode("utf-8", errors="replace")
    offset = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]  # always matches
    if offset == len(text):
        raise GoJSONError("EOF", len(text))
    try:
        value, end = _DECODER.raw_decode(text, offset)  # no copy of a large body
    except json.JSONDecodeError as exc:
        raise _go_error(exc, text) from None
    except ValueError:
        raise _constant_error(text) from None
    except RecursionError:
        raise GoJSONError("exceeded max depth", None) from None
    whole = not text[end:].strip(" \t\r\n")
    if value is None:
        return None, whole
    if not isinstance(value, dict):
        kind = "bool" if isinstance(value, bool) else _GO_TYPE_NAMES.get(type(value), "number")
        raise GoJSONError(f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}", 0)
    return value, whole


def tree_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether decoded objects/arrays nest deeper than ``limit`` (the outermost is level 1).

    For a text that is exactly one JSON value this is the byte scan's answer, found from the
    decoded tree in a fraction of the time the scan takes on a large body. Walks level by
    level so the inner loop is a list comprehension."""
    level = [value] if type(value) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [child for node in level for child in (node.values() if type(node) is dict else node)
                 if type(child) is dict or type(child) is list]
    return False


def nesting_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Upstream's depth pre-scan: every ``{``/``[`` outside a string is one level."""
    return nesting_depth_offset(raw, limit) is not None


_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_DELTA = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # depth step + 1, so it stays unsigned


def nesting_depth_offset(raw: bytes, limit: int) -> int | None:
    """Byte offset of the first ``{``/``[`` that takes the depth past ``limit`` (or ``None``).

    The result is that of a byte-by-byte walk (quotes open and close strings, a backslash
    inside a string escapes the next byte, brackets outside strings count), but the common
    case runs at C speed: the linter and the reference gateway scan every request, and a
    Python loop over 10 MiB takes a second.
    """
    data = raw
    if b"\\" in raw:
        if b"\x00" in raw:  # the markers below must not occur (valid JSON never has raw NUL)
            return _exact_depth_offset(raw, limit)
        # Neutralise escapes without moving a byte: pairs of backslashes first, then escaped
        # quotes. Inside strings this is JSON's own escape pairing, so every quote left
        # delimits a string; a backslash outside strings (invalid JSON) is checked below.
        data = raw.replace(b"\\\\", b"\x00\x00").replace(b'\\"', b"\x00\x01")
    outside = b"".join(data.split(b'"')[::2])  # even parts lie outside strings
    if data is not raw and (b"\\" in outside or b"\x00" in outside):
        return _exact_depth_offset(raw, limit)
    brackets = outside.translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return None
    steps = brackets.translate(_DELTA)  # opening 2, closing 0: depth after k steps = sum - k
    if max(map(operator.sub, itertools.accumulate(steps), itertools.count(1))) <= limit:
        return None
    return _exact_depth_offset(raw, limit)


def _exact_depth_offset(raw: bytes, limit: int) -> int | None:
    """The walk itself, one segment between quotes at a time (used when the limit is passed
    or the bytes are not JSON): exact, and still far fewer Python steps than bytes."""
    depth = 0
    offset = 0  # where the current segment starts
    in_string = False
    for segment in raw.split(b'"'):
        size = len(segment)
        if in_string:
            # The quote after this segment closes the string unless an odd run of
            # backslashes escapes it (a quote always ends a run of backslashes).
            if segment.endswith(b"\\") and (size - len(segment.rstrip(b"\\"))) % 2:
                offset += size + 1
                continue
            in_string = False
        else:
            if segment.translate(None, _NOT_BRACKETS):
                for index, byte in enumerate(segment):
                    if byte == 0x5B or byte == 0x7B:
                        depth += 1
                        if depth > limit:
                            return offset + index
                    elif byte == 0x5D or byte == 0x7D:
                        depth -= 1
            in_string = True
        offset += size + 1
    return None


def go_float(value: float) -> str:
    """``strconv.FormatFloat(f, 'f' or 'e', -1, 64)`` as ``encoding/json`` chooses it."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    absolute = abs(value)
    shortest = repr(float(value))
    if absolute < 1e-6 or absolute >= 1e21:
        mantissa, _, exponent = shortest.partition("e")
        if not exponent:
            mantissa, exponent = _to_scientific(shortest)
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").lstrip("0") or "0"
        if len(digits) < 2 and sign == "+":
            digits = digits.rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    text = format(Decimal(shortest), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _to_scientific(shortest: str) -> tuple[str, str]:
    mantissa, exponent = format(Decimal(shortest).normalize(), "e").split("e")
    return mantissa, exponent


_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def go_string(value: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


def dumps(value: Any) -> str:
    """``json.Marshal`` of a decoded map: sorted keys, compact, HTML-safe, Go numbers."""
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


def _encode(value: Any, out: Any) -> None:
    if value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, str):
        out(go_string(value))
    elif isinstance(value, Num):
        out(value.literal)
    elif isinstance(value, int):
        out(str(value))
    elif isinstance(value, float):
        out(go_float(value))
    elif isinstance(value, dict):
        out("{")
        first = True
        for key in sorted(value, key=_utf8_key):
            if not first:
                out(",")
            first = False
            out(go_string(key))
            out(":")
            _encode(value[key], out)
        out("}")
    elif isinstance(value, (list, tuple)):
        out("[")
        for index, item in enumerate(value):
            if index:
                out(",")
            _encode(item, out)
        out("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def _utf8_key(key: str) -> bytes:
    # Go sorts map keys by their UTF-8 bytes.
    return key.encode("utf-8", errors="surrogatepass")


def go_type_name(value: Any) -> str:
    """The dynamic Go type a decoded value has, as ``%T`` would print it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "json.Number"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+(?:_\d+)*)?\.?\d*(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F_.]+[pP][+-]?\d+)\Z"
)


def parse_go_float(text: str) -> float | None:
    """``strconv.ParseFloat(s, 64)``; ``None`` where Go reports a syntax error.

    Go accepts ``inf``/``infinity``/``nan`` in any case, but no surrounding white space.
    """
    lowered = text.lower().lstrip("+-")
    if lowered in ("inf", "infinity"):
        return -math.inf if text.startswith("-") else math.inf
    if lowered == "nan":
        return math.nan
    if not text or not _GO_FLOAT.match(text) or not any(c.isdigit() for c in text):
        return None
    try:
        if text.lower().lstrip("+-").startswith("0x"):
            return float.fromhex(text.replace("_", ""))
        if "_" in text:
            return None  # underscores are only allowed with a base prefix
        return float(text)
    except (ValueError, OverflowError):
        return None
