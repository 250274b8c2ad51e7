"""The linter's typed result model: what ``gonka-lint`` found, built by the face (``cli.py``)
and read by every renderer in ``reports/lint/`` (reports sit above the faces and import this
model; the linter never imports a renderer outside its command module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .findings import SEVERITIES, Finding
from .inputs import InputError

if TYPE_CHECKING:
    from gonka_conformance.catalogue.loader import Catalogue


@dataclass
class RecordSummary:
    """What the gateway does with one body (for ``--show-normalized``)."""

    file: str
    record: int | None
    result: dict[str, Any]  # the engine's Accepted/Rejected as JSON
    events: list[dict[str, Any]]  # every event, the ambient ones included


@dataclass
class Report:
    findings: list[Finding]  # after selection, ignore file and severity filter
    errors: list[InputError]
    files: list[str]  # every file (or stdin) that was read, in order
    catalogue: "Catalogue"
    revision: str
    profile: str | None
    records: int = 0
    skipped: int = 0  # files in a directory walk that are not chat requests
    ignored: int = 0  # findings matched by the ignore file
    fixed: int = 0
    fixable: int = 0  # safe fixes --fix would apply
    unsafe_fixable: int = 0  # fixes that need --unsafe-fixes as well
    stale: list[tuple[str, str, str]] = field(default_factory=list)
    normalized: list[RecordSummary] | None = None
    strict: bool = False

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def summary(self) -> dict[str, int]:
        counts = {severity: self.count(severity) for severity in SEVERITIES}
        return {
            "files": len(self.files), "records": self.records, "findings": len(self.findings),
            "errors": counts["error"], "warnings": counts["warning"], "info": counts["info"],
            "input_errors": len(self.errors), "ignored": self.ignored, "skipped": self.skipped,
            "fixed": self.fixed, "fixable": self.fixable, "unsafe_fixable": self.unsafe_fixable,
        }
