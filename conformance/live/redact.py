"""Secret redaction: applied to every string before it reaches a terminal, log or report.

The one redactor of the project: the live suite's reports and the reference gateway's live log,
debug view and error messages all use it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import httpx

MASK = "***"

_PATTERNS = [
    # (a "$VARIABLE" reference, as in the curl reproducers, is not a secret)
    re.compile(r"(?i)(authorization\s*[:=]\s*\"?)(?!(?:bearer\s+)?\$[A-Z_])(bearer\s+)?[^\s\",}]+"),
    re.compile(r"(?i)(bearer\s+)(?!\$[A-Z_])[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"),  # URL credentials
    re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|auth|secret|password)=)[^&#\s\"']+"),  # ' ends a shlex-quoted URL
    re.compile(r"\b(sk|gp|gnk-sk|sk-proj)-[A-Za-z0-9_-]{16,}"),  # broker key shapes (ecosystem.md §2)
]


@dataclass
class Redactor:
    """Replaces known secrets and anything shaped like a credential."""

    secrets: list[str] = field(default_factory=list)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets.append(secret)
            self.secrets.sort(key=len, reverse=True)

    def text(self, value: str, extra: Iterable[str] = ()) -> str:
        """``extra``: secrets known for this one string only (e.g. a request's own key)."""
        for secret in _longest_first(self.secrets, extra):
            value = value.replace(secret, MASK)
        for pattern in _PATTERNS:
            value = pattern.sub(_mask_match, value)
        return value

    def data(self, value: Any, extra: Iterable[str] = ()) -> Any:
        """Redact every string inside a JSON-like structure (keys included)."""
        extra = tuple(extra)
        if isinstance(value, str):
            return self.text(value, extra)
        if isinstance(value, dict):
            return {self.text(str(k), extra): (MASK if _is_secret_key(k) else self.data(v, extra)) for k, v in value.items()}
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
    more = [s for s in extra if s and len(s) >= 4 and s not in known]
    return sorted([*known, *more], key=len, reverse=True) if more else known


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
