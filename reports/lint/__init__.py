"""The linter's output formats. Each module renders one :class:`~gonka_conformance.lint.report.Report`
(the typed result model the linter builds); none of them decides anything."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TextIO

from gonka_conformance.catalogue.summary import DOC_SECTIONS
from gonka_conformance.lint.report import RecordSummary, Report

# Re-exported so each renderer reads its model and constants from one place (``from . import``).
__all__ = ["DOC_SECTIONS", "FORMATS", "INFORMATION_URI", "RENDERER_MODULES", "TOOL_NAME",
           "FormatRegistryError", "RecordSummary", "Renderer", "Report", "check_registry", "renderer"]

TOOL_NAME = "gonka-lint"
INFORMATION_URI = "https://github.com/gonka-ai/gonka/blob/main/docs/chat-api/troubleshooting.md"


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
