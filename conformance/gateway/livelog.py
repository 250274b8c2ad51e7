"""The live request log (rich): one block per request with the engine's findings, so a
developer sees every problem as it happens. Every line passes through the redactor first."""

from __future__ import annotations

import threading
from typing import Iterable, TextIO

from rich.console import Console
from rich.text import Text

from ..catalogue.loader import Catalogue
from ..engine.types import Analysis, Event, Rejected, Result
from ..common.redact import Redactor

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan", "advice": "magenta"}
Line = list[tuple[str, str]]  # (text, rich style) segments; every text is redacted when printed


class LiveLog:
    def __init__(self, stream: TextIO, catalogue: Catalogue, redactor: Redactor) -> None:
        self.console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
        self.catalogue = catalogue
        self.redact = redactor
        self._lock = threading.Lock()

    def _severity(self, rule_id: str) -> str:
        rule = self.catalogue.by_id.get(rule_id)
        return rule.severity if rule else "info"

    def request(self, request_id: str, method: str, path: str, lines: list["Line"], status: int, elapsed_ms: float,
                secrets: Iterable[str] = ()) -> None:
        """Print one request's block atomically (requests run concurrently)."""
        style = "green" if status < 400 else ("yellow" if status < 500 else "bold red")
        head: Line = [(f"{request_id} ", "dim"), (f"{method} {path}", "bold"), (" -> ", ""), (str(status), style),
                      (f"  {elapsed_ms:.0f} ms", "dim")]
        secrets = list(secrets)
        with self._lock:
            for line in [head, *lines]:
                self.console.print(Text.assemble(*((self.redact.text(text, secrets), style) for text, style in line)))

    # --- building the lines -------------------------------------------------------------------

    def finding(self, severity: str, rule: str, pointer: str, message: str) -> "Line":
        return [("    ", ""), (f"{severity:<7}", STYLES.get(severity, "")), (" ", ""), (rule, "bold"), (" ", ""),
                (pointer or "/", "dim"), ("  ", ""), (message, "")]

    def text(self, message: str, style: str = "dim") -> "Line":
        return [("    " + message, style)]

    def result_lines(self, result: Result | None, analysis: Analysis | None = None) -> list["Line"]:
        lines: list[Line] = []
        if analysis is not None:
            for rejection in analysis.rejections:
                lines.append(self.finding("error", rejection.rule, rejection.pointer, rejection.message))
            lines.extend(self._events(analysis.events))
            for advice in analysis.advice:
                lines.append(self.finding("advice", advice.rule, advice.pointer, advice.message))
        elif result is not None:
            if isinstance(result, Rejected):
                lines.append(self.finding("error", result.rule, result.pointer, result.message))
            lines.extend(self._events(result.events))
        return lines

    def _events(self, events: Iterable[Event]) -> list["Line"]:
        return [self.finding(self._severity(e.rule), e.rule, e.pointer, e.detail) for e in events]
