"""``--format concise``: one line per finding, ``path:line:col: rule-id message [*]``, like
Ruff's concise output, so editors and terminals can jump to it; then the summary.

``[*]`` marks a safe fix (``--fix``), ``[unsafe fix]`` one that needs ``--unsafe-fixes``. A
finding without a position (a body too large to read) is placed at 1:1. Line breaks in a
message are shown as spaces, so one finding is always one line.
"""

from __future__ import annotations

from typing import TextIO

from . import Report
from .text import fix_marker, summary_lines


def line(finding_file: str, line_no: int | None, column: int | None, rule: str, message: str, marker: str) -> str:
    flat = " ".join(message.split())
    return f"{finding_file}:{line_no or 1}:{column or 1}: {rule} {flat}{marker}"


def render(report: Report, stream: TextIO) -> None:
    order = {file: position for position, file in enumerate(report.files)}
    ordered = sorted(report.findings, key=lambda f: (order.get(f.file or "", 0), f.line or 0, f.column or 0, f.rule))
    for finding in ordered:
        stream.write(line(finding.file or "-", finding.line, finding.column, finding.rule, finding.message,
                          fix_marker(finding)) + "\n")
    text, _style, extra = summary_lines(report)
    stream.write(text + "\n")
    if extra:
        stream.write(extra + "\n")
