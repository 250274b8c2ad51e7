"""Secret redaction: applied to every string before it reaches a terminal, log or report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MASK = "***"

_PATTERNS = [
    # (a "$VARIABLE" reference, as in the curl reproducers, is not a secret)
    re.compile(r"(?i)(authorization\s*[:=]\s*\"?)(?!(?:bearer\s+)?\$[A-Z_])(bearer\s+)?[^\s\",}]+"),
    re.compile(r"(?i)(bearer\s+)(?!\$[A-Z_])[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"),  # URL credentials
    re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|auth|secret|password)=)[^&#\s\"]+"),
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

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        for pattern in _PATTERNS:
            value = pattern.sub(_mask_match, value)
        return value

    def data(self, value: Any) -> Any:
        """Redact every string inside a JSON-like structure (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): (MASK if _is_secret_key(k) else self.data(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


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
