"""Secret redaction: applied to every string before it reaches a terminal, log or report.

The one redactor of the project: the live suite's reports and the reference gateway's live log,
debug view and error messages all use it. The order is always redact, then cut (``clip``):
a secret straddling a cut must not leave its first characters behind."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

MASK = "***"
#: Known secrets shorter than this are not masked (a user name "u" would mask half of every text).
MIN_SECRET = 4
#: A run of this many characters of a known secret is masked wherever it appears (a broker
#: may echo a key cut or starred in the middle); a cut never leaves a shorter prefix either.
FRAGMENT = 6
MIN_PREFIX = 3

_PATTERNS = [
    # (a "$VARIABLE" reference, as in the curl reproducers, is not a secret)
    re.compile(r"(?i)(authorization\s*[:=]\s*\"?)(?!(?:bearer\s+)?\$[A-Z_])(bearer\s+)?[^\s\",}]+"),
    re.compile(r"(?i)(bearer\s+)(?!\$[A-Z_])[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@"),  # URL credentials: user:password@ or a token@ alone
    re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|auth|secret|password|sig|signature)=)[^&#\s\"']+"),  # ' ends a shlex-quoted URL
    re.compile(r"\b(sk|gp|gnk-sk|sk-proj)-[A-Za-z0-9_-]{16,}"),  # broker key shapes (ecosystem.md §2)
]

#: Text every pattern above needs one of (case-insensitively, so a superset): a string with
#: none of them skips the five substitutions. Reports redact thousands of short strings.
_PATTERN_HINT = re.compile(r"(?i)authorization|bearer|://|[?&]|sk-|gp-")

# C0/C1 controls (ESC, BEL, CR, backspace…) and the invisible/bidirectional marks that can
# disguise text: shown as visible escapes so a broker cannot clear a screen, retitle a window,
# overwrite a line with a fake "PASSED" or reorder what a reader sees.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``);
    tabs and (with ``keep_newlines``) newlines stay."""
    pattern = _CONTROL if keep_newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if match.group() == "\t":
        return "\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable_data(value: Any) -> Any:
    """``printable`` over every string inside a JSON-like structure (keys included)."""
    if isinstance(value, str):
        return printable(value, keep_newlines=True)
    if isinstance(value, dict):
        return {printable(str(k)): printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(v) for v in value]
    return value


@dataclass
class Redactor:
    """Replaces known secrets and anything shaped like a credential.

    ``fragments``: also mask any run of ``FRAGMENT`` characters of a known secret (the live
    suite's reports); off where exact bodies matter (the gateway's debug view)."""

    secrets: list[str] = field(default_factory=list)
    fragments: bool = False

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= MIN_SECRET and secret not in self.secrets:
            self.secrets.append(secret)
            self.secrets.sort(key=len, reverse=True)

    def add_url(self, url: str | None) -> None:
        """Every credential a base URL carries: user name (a token alone included), password,
        their Basic-auth encoding, every query value and the fragment — whatever their names."""
        if not url:
            return
        try:
            parts = urlsplit(url)
            values = [parts.username, parts.password, parts.fragment]
            values += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
        except ValueError:
            return
        for value in values:
            if value:
                self.add(value)
                self.add(unquote(value))
        if parts.username or parts.password:  # what an HTTP client sends for them: Basic base64(user:password)
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self.add(base64.b64encode(pair.encode()).decode())

    def text(self, value: str, extra: Iterable[str] = ()) -> str:
        """``extra``: secrets known for this one string only (e.g. a request's own key)."""
        return self._text(value, extra, self.fragments)

    def _text(self, value: str, extra: Iterable[str], fragments: bool) -> str:
        known = _longest_first(self.secrets, extra)
        if "\x00" in value:  # UTF-16/32 read as bytes: a secret with NULs between its characters
            value = _without_nul_spread_secrets(value, known, fragments)
        for secret in known:
            value = value.replace(secret, MASK)
        if fragments:
            value = _mask_fragments(value, known)
        if _PATTERN_HINT.search(value) is None:
            return value
        for pattern in _PATTERNS:
            value = pattern.sub(_mask_match, value)
        return value

    def clip(self, value: str, limit: int, keep_newlines: bool = False) -> str:
        """Redact, make printable, then cut to ``limit`` characters — in that order, and never
        leaving the first characters of a known secret at the cut."""
        longest = max((len(s) for s in self.secrets), default=0)
        window = value[: limit + longest + 256]  # a secret or credential starting before the cut lies inside
        shown = printable(self.text(window), keep_newlines)
        if len(shown) <= limit and len(window) == len(value):
            return shown
        cut = _mask_trailing_prefix(shown[:limit], self.secrets)
        return cut + f"… ({len(value)} characters)"

    def data(self, value: Any, extra: Iterable[str] = ()) -> Any:
        """Redact every string inside a JSON-like structure (keys included). Whole secrets and
        credential shapes only: a structure's texts were clipped (fragments included) where
        they were made, and identifiers such as case ids must survive unchanged."""
        extra = tuple(extra)
        if isinstance(value, str):
            return self._text(value, extra, False)
        if isinstance(value, dict):
            return {self._text(str(k), extra, False): (MASK if _is_secret_key(k) else self.data(v, extra)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v, extra) for v in value]
        return value

    @staticmethod
    def url(value: str) -> str:
        """A URL without userinfo, query or fragment (which may carry credentials)."""
        try:
            return str(httpx.URL(value).copy_with(username=None, password=None, query=None, fragment=None))
        except (httpx.InvalidURL, TypeError, ValueError):
            return "<invalid URL>"


def _longest_first(known: list[str], extra: Iterable[str]) -> list[str]:
    more = [s for s in extra if s and len(s) >= MIN_SECRET and s not in known]
    return sorted([*known, *more], key=len, reverse=True) if more else known


def _mask_fragments(value: str, secrets: list[str]) -> str:
    """Mask every run of ``FRAGMENT``+ characters that also occurs in a known secret."""
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        for i in range(len(secret) - FRAGMENT + 1):
            gram = secret[i:i + FRAGMENT]
            start = value.find(gram)
            while start != -1:
                spans.append((start, start + FRAGMENT))
                start = value.find(gram, start + 1)
    if not spans:
        return value
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out, last = [], 0
    for start, end in merged:
        out += [value[last:start], MASK]
        last = end
    return "".join(out) + value[last:]


def _without_nul_spread_secrets(value: str, secrets: list[str], fragments: bool) -> str:
    """``value`` without its NULs when dropping them shows a known secret (or, with
    ``fragments``, a piece of one): printed with escapes (``s\\x00k\\x00…``) it would still be
    readable. Otherwise unchanged."""
    squeezed = value.replace("\x00", "")
    shown = any(secret in squeezed for secret in secrets)
    if not shown and fragments:
        shown = _mask_fragments(squeezed, secrets) != squeezed
    return squeezed if shown else value


def _mask_trailing_prefix(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        for size in range(min(len(secret) - 1, len(text)), MIN_PREFIX - 1, -1):
            if text.endswith(secret[:size]):
                return text[:-size] + MASK
    return text


def _mask_match(match: re.Match[str]) -> str:
    groups = [g for g in match.groups() if g]
    if match.re.pattern.startswith(r"\b(sk|gp"):
        return MASK
    prefix = "".join(groups[:1]) if groups else ""
    if match.re.pattern.startswith("(?i)(authorization") and match.group(2):
        prefix += match.group(2)
    return prefix + MASK + ("@" if "://" in prefix else "")


def _is_secret_key(key: Any) -> bool:
    return str(key).lower() in {"authorization", "x-api-key", "api-key", "api_key", "proxy-authorization", "cookie"}
