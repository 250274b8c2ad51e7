"""Output formats. Each module renders one :class:`Report`; none of them decides anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ..findings import SEVERITIES, Finding
from ..inputs import InputError

if TYPE_CHECKING:
    from gonka_conformance.catalogue.loader import Catalogue

TOOL_NAME = "gonka-lint"
INFORMATION_URI = "https://github.com/gonka-ai/gonka/blob/main/docs/chat-api/troubleshooting.md"
DOC_SECTIONS = (("What happens", "what"), ("Why", "why"), ("Fix", "fix"))  # a rule's docs, in order


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


Renderer = Callable[[Report, TextIO], None]


def renderer(name: str) -> Renderer:
    import importlib  # only the format asked for is imported (start-up time)

    module = {"text": "text", "json": "json_report", "sarif": "sarif", "github": "github", "junit": "junit",
              "concise": "concise"}[name]
    return importlib.import_module(f"{__package__}.{module}").render  # type: ignore[no-any-return]
