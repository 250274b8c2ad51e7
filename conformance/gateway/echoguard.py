"""The proxy's check that an upstream never hands the credentials it was sent to a client.

A broker may echo a key ("Incorrect API key provided: sk-…"), a debug page may repeat the
request's URL, a stream event may carry it. The client reads those bytes after its own decoding,
so a credential is looked for in every spelling a reader could turn back into it: the raw bytes,
JSON escapes (``\\u0073``, ``\\/``, nested JSON's doubled backslashes), percent-encoding (any hex
case, ``+`` for a space), and any mix of them, one character at a time. One compiled pattern per
configured secret set does that without parsing the document, so an answer with no echo keeps
its exact bytes, and only the bytes that spell a secret become ``***``.

Streams: :class:`StreamMasker` emits everything up to the last line break (an SSE event ends
with one, so nothing waits for the next event) or up to ``hold`` bytes before the end, whichever
is later; the rest — at most one spelling's length — waits for the next read, so a key split
across two reads is still masked. Memory per stream is bounded by that hold.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import unquote_plus

from ..common.redact import MASK, MIN_SECRET  # the redactor's threshold: the same secrets in logs and answers

_BACKSLASHES = 8  # up to three levels of JSON-in-JSON escaping
_SHORT_ESCAPES = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", '"': '"', "\\": "\\", "/": "/"}
_MASK = MASK.encode()


def _byte(value: int) -> str:
    """One literal byte as a pattern atom (non-ASCII and specials escaped)."""
    return re.escape(chr(value)) if 0x20 < value < 0x7F else f"\\x{value:02x}"


def _hex(value: int, width: int) -> str:
    """``value`` in hex, each letter matching either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")


_SLASHES = f"\\\\\\\\{{0,{_BACKSLASHES - 1}}}"  # 1-8 backslashes, starting with a literal one


def _json_escape(code: int) -> str:
    """``\\uXXXX`` for a code point (a surrogate pair beyond the BMP)."""
    if code < 0x10000:
        return f"{_SLASHES}u{_hex(code, 4)}"
    code -= 0x10000
    return f"{_SLASHES}u{_hex(0xD800 + (code >> 10), 4)}{_SLASHES}u{_hex(0xDC00 + (code & 0x3FF), 4)}"


def _spellings(char: str) -> tuple[list[str], int]:
    """Every spelling of one character (each pattern starts with a literal byte), and the
    longest one's length. Escapes come first: one starting like the raw character wins."""
    raw = char.encode("utf-8", errors="surrogatepass")
    found = [(_json_escape(ord(char)), (_BACKSLASHES + 5) * (2 if ord(char) >= 0x10000 else 1))]
    if char in _SHORT_ESCAPES:
        found.append((f"{_SLASHES}{re.escape(_SHORT_ESCAPES[char])}", _BACKSLASHES + 2))
    found.append(("".join("%" + _hex(b, 2) for b in raw), 3 * len(raw)))
    if char == " ":
        found.append(("\\+", 1))
    found.append(("".join(_byte(b) for b in raw), len(raw)))
    return [p for p, _ in found], max(n for _, n in found)


def _secret(secret: str) -> tuple[str, int]:
    """One secret's pattern and its longest spelling. The first character's spellings are the
    top-level alternatives, each starting with a literal byte, so the regex engine skips every
    position that cannot start one with its fast character-set scan (about 50 MB/s, not 9)."""
    atoms = [_spellings(c) for c in secret]
    rest = "".join("(?>" + "|".join(spellings) + ")" for spellings, _ in atoms[1:])
    return "|".join(first + rest for first in atoms[0][0]), sum(n for _, n in atoms)


_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # UTF-16 LE/BE, UTF-32 BE (LE starts like 16 LE)


def not_utf8(content_type: str, data: bytes) -> bool:
    """Whether an answer may be read in another encoding than UTF-8, in which the patterns below
    cannot see a credential: a declared charset other than UTF-8, a UTF-16/32 byte-order mark,
    or any NUL byte (UTF-16/32 text of ASCII is full of them; JSON and SSE in UTF-8 never carry
    one raw). ``json.loads`` on bytes, as httpx and the OpenAI SDK read JSON, detects UTF-16/32
    from exactly these signs. The proxy refuses such answers rather than relay them unchecked."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8_CHARSETS:
            return True
    return data.startswith(_WIDE_BOMS) or b"\x00" in data


class EchoGuard:
    """Masks the configured upstream credentials (``Upstream.secrets``) in what is relayed."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        parts, longest = [], 0
        for secret in self.secrets:
            pattern, size = _secret(secret)
            parts.append(pattern)
            longest = max(longest, size)
        self._pattern = re.compile("|".join(parts).encode("ascii")) if parts else None
        self.hold = max(longest - 1, 0)  # a match starting earlier lies wholly inside what has arrived
        # a line break never occurs inside a spelling, unless a secret itself holds one
        self.line_safe = not any(ch in s for s in self.secrets for ch in "\r\n")

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def mask(self, data: bytes) -> bytes:
        """``data`` with every spelling of every secret replaced by ``***`` (the same bytes when none)."""
        if self._pattern is None:
            return data
        return self._pattern.sub(_MASK, data)

    def text(self, value: str) -> str:
        return self.mask(value.encode("utf-8", errors="surrogateescape")).decode("utf-8", errors="surrogateescape")

    def header_value(self, value: str) -> str:
        """A header value with the spellings masked; wholly ``***`` if a secret still shows once
        percent-decoded (a spelling the pattern does not know)."""
        masked = self.text(value)
        decoded = unquote_plus(masked)
        if any(secret in decoded for secret in self.secrets):
            return MASK
        return masked

    def headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Every header value checked; a header whose name spells a secret is dropped."""
        if not self.active:
            return headers
        return [(k, self.header_value(v)) for k, v in headers if self.text(k) == k]

    def stream(self) -> "StreamMasker":
        return StreamMasker(self)


class StreamMasker:
    """Masks a stream piece by piece, holding back what may be the start of a spelling."""

    def __init__(self, guard: EchoGuard) -> None:
        self.guard = guard
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        pattern = self.guard._pattern
        if pattern is None:
            return data
        buf = self.pending + data
        emit = len(buf) - self.guard.hold
        if self.guard.line_safe:
            emit = max(emit, max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1)
        if emit <= 0:
            self.pending = buf
            return b""
        out, last = [], 0
        for match in pattern.finditer(buf):
            if match.start() >= emit:
                break  # may still grow with the next read
            out += [buf[last:match.start()], _MASK]
            last = match.end()
        emit = max(emit, last)
        out.append(buf[last:emit])
        self.pending = buf[emit:]
        return b"".join(out)

    def finish(self) -> bytes:
        rest, self.pending = self.pending, b""
        return self.guard.mask(rest)
