"""Errors of the simulated host (vLLM's OpenAI server) that the gateway passes through.

Today one: a request beyond the family's context window. The window comes from the catalogue's
family data (``context_window``), the prompt's token count from the simulation's deterministic
estimate, and the status, type, param and message texts from ``simulation.yaml``
(``host_errors.context_overflow``, one side per vLLM wording). Only vLLM's comparisons are here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..catalogue.loader import Catalogue
from .instances import parameters


def prompt_tokens(fingerprint: bytes) -> int:
    """The simulated host's prompt-token estimate for a forwarded body's canonical encoding."""
    per_token = parameters()["tokens"]["chars_per_prompt_token"]
    return max(1, math.ceil(len(fingerprint) / per_token))


def _int(value: Any) -> int | None:
    return None if isinstance(value, bool) or not isinstance(value, int) else value


@dataclass(frozen=True)
class HostError:
    status: int
    payload: dict[str, Any]   # vLLM's error envelope {"error": {...}}


class ContextWindows:
    """Each family's window, and the overflow check vLLM runs before generating."""

    def __init__(self, catalogue: Catalogue, side: str | None = None) -> None:
        self.windows: Mapping[str, int] = {
            f.id: f.context_window.tokens for f in catalogue.families if f.context_window is not None}
        spec = parameters()["host_errors"]["context_overflow"]
        self.side: dict[str, Any] = spec["sides"][side or spec["side"]]

    def window(self, family: str | None) -> int | None:
        return self.windows.get(family) if family is not None else None

    def check(self, body: Mapping[str, Any], family: str | None, fingerprint: bytes) -> HostError | None:
        """vLLM's check: the prompt alone must leave room (prompt < window), and the prompt plus
        the requested output (max_completion_tokens, else max_tokens) must fit the window."""
        window = self.window(family)
        if window is None:
            return None
        prompt = prompt_tokens(fingerprint)
        asked = _int(body.get("max_completion_tokens")) or _int(body.get("max_tokens"))
        if prompt >= window:
            case = "prompt_too_long"
        elif asked is not None and prompt + asked > window:
            case = "output_too_long"
        else:
            return None
        spec = self.side[case]
        values = {"window": window, "prompt_tokens": prompt, "max_tokens": asked if asked is not None else 0,
                  "max_input_tokens": window - (asked or 0)}
        error = {"message": spec["message"].format(**values), "type": self.side["type"],
                 "param": spec["param"], "code": self.side["status"]}
        return HostError(self.side["status"], {"error": error})
