"""Output formats. Each module renders one :class:`Report`; none of them decides anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
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

#: The one list of output formats: name -> the module of this package whose ``render`` writes it.
#: ``--format``'s choices and pyproject's ``format`` are its keys; a new format is one entry here
#: plus its module. Modules are imported only when their format is asked for (start-up time).
RENDERER_MODULES: dict[str, str] = {
    "text": "text", "concise": "concise", "json": "json_report", "sarif": "sarif", "github": "github", "junit": "junit",
}


class FormatRegistryError(Exception):
    """A format listed in RENDERER_MODULES has no renderer: a packaging or development error."""


def check_registry(modules: dict[str, str], package_dir: Path) -> tuple[str, ...]:
    """The format names, once every listed module exists here (checked without importing it)."""
    missing = [f"{name!r} (no {package_dir.name}/{module}.py)" for name, module in modules.items()
               if not (package_dir / f"{module}.py").is_file()]
    if missing:
        raise FormatRegistryError(f"lint output format listed without a renderer: {', '.join(missing)}")
    return tuple(modules)


FORMATS = check_registry(RENDERER_MODULES, Path(__file__).parent)


def renderer(name: str) -> Renderer:
    import importlib

    if name not in RENDERER_MODULES:
        raise FormatRegistryError(f"unknown lint output format {name!r} (known: {', '.join(FORMATS)})")
    module = importlib.import_module(f"{__package__}.{RENDERER_MODULES[name]}")
    render = getattr(module, "render", None)
    if not callable(render):
        raise FormatRegistryError(f"lint output format {name!r}: {module.__name__} defines no render(report, out)")
    return render
