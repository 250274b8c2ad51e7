"""``--format text`` (default): findings grouped per file, Ruff-like, and a summary line.

::

    fixtures/hermes.json
      13:3  error    reject-tags  Chat completions parameter "tags" is currently rejected … [*]
                     at /tags — Remove `tags`; carry tracking data in `metadata` … or `user`.
                     https://github.com/gonka-ai/gonka/blob/main/docs/chat-api/troubleshooting.md#reject-tags

Colour comes from rich when the stream is a terminal (``--color`` overrides; ``NO_COLOR`` is
honoured). Payload text is never interpreted as markup.
"""

from __future__ import annotations

import json
import os
from itertools import groupby
from typing import TextIO

from gonka_conformance.lint.findings import Finding

from . import Report

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
MAX_MESSAGE = 160
COLOR = {"mode": "auto"}  # set by the CLI's --color


class Text:
    """Styled segments; rich (slow to import) renders them only when colour is on."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> None:
        self.parts.append((text, style))

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.parts)


class _Plain:
    """Without colour, rich's layout machinery is pure cost on a 10,000-record log."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def print(self, text: Text | str = "") -> None:
        self.stream.write((text.plain if isinstance(text, Text) else text) + "\n")


class _Rich:
    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True, emoji=False,
                               markup=False)

    def print(self, text: Text | str = "") -> None:
        from rich.text import Text as RichText

        rich_text = RichText()  # payload text is never interpreted as markup
        for part, style in (text.parts if isinstance(text, Text) else [(text, "")]):
            rich_text.append(part, style=style or None)
        self.console.print(rich_text)


def colour(stream: TextIO) -> bool:
    """Whether ``stream`` gets colour (``--color``, ``NO_COLOR``, a terminal)."""
    mode = COLOR["mode"]
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def error_line(text: str, stream: TextIO) -> str:
    """An input error as the user sees it: red where colour is on (plain ANSI: no rich needed)."""
    return f"\x1b[1;31m{text}\x1b[0m" if colour(stream) else text


def _console(stream: TextIO) -> _Rich | _Plain:
    return _Rich(stream) if colour(stream) else _Plain(stream)


def short(message: str) -> str:
    """The first sentence of a long gateway message (the JSON output keeps it whole)."""
    if len(message) <= MAX_MESSAGE:
        return message
    cut = message.find(". ")
    if 0 < cut < MAX_MESSAGE:
        return message[: cut + 1] + " …"
    return message[: MAX_MESSAGE - 1] + "…"


def fix_marker(finding: Finding) -> str:
    if finding.fix and finding.fix.available:
        return " [*]" if finding.fix.safe else " [unsafe fix]"
    return ""


def render(report: Report, stream: TextIO) -> None:
    console = _console(stream)
    order = {file: position for position, file in enumerate(report.files)}
    ordered = sorted(report.findings, key=lambda f: (order.get(f.file or "", 0), f.record or 0, f.line or 0, f.column or 0))
    for file, group in groupby(ordered, key=lambda f: f.file or "-"):
        console.print(Text(file, style="bold"))
        for finding in group:
            _finding(console, finding)
        console.print()
    if report.normalized is not None:
        _normalized(console, report)
    _summary(console, report)


def _finding(console: _Rich | _Plain, finding: Finding) -> None:
    where = ""
    if finding.record is not None:
        where = f"#{finding.record} "
    if finding.line is not None:
        where += f"{finding.line}:{finding.column}"
    line = Text("  ")
    line.append(f"{where:<9} ", style="dim")
    line.append(f"{finding.severity:<8} ", style=STYLES.get(finding.severity, ""))
    line.append(finding.rule, style="bold")
    line.append("  " + short(finding.message) + (" (uncertain: upstream evidence is disputed)" if finding.uncertain else ""))
    line.append(fix_marker(finding), style="green")
    console.print(line)
    indent = " " * 12
    detail = Text(indent)
    detail.append(f"at {finding.pointer or '/'}", style="dim")
    if finding.fix and finding.fix.description:
        detail.append(" — " + finding.fix.description)
    console.print(detail)
    if finding.anchor:
        console.print(Text(indent + finding.anchor, style="blue"))


def _normalized(console: _Rich | _Plain, report: Report) -> None:
    for item in report.normalized or []:
        label = item.file + (f" #{item.record}" if item.record is not None else "")
        result = item.result
        if result.get("outcome") == "rejected":
            head = f"{label}: rejected {result.get('status')} ({result.get('rule')}): {result.get('message')}"
            console.print(Text(head, style="bold red"))
        else:
            head = f"{label}: forwarded as (model {result.get('model')}, revision {result.get('revision')})"
            console.print(Text(head, style="bold"))
            console.print(Text(json.dumps(result.get("body"), ensure_ascii=False, indent=2, default=str)))
        for event in item.events:
            console.print(Text(f"  {event['rule']}  {event['pointer'] or '/'}: {event['detail']}", style="dim"))
        console.print()


def summary_lines(report: Report) -> tuple[str, str, str]:
    """The closing lines (shared by the text and concise formats): the count, its style, and the
    fix/ignore/skip notes (empty when there are none)."""
    counts = report.summary()
    files = counts["files"]
    noun = "file" if files == 1 else "files"
    if counts["findings"]:
        parts = [f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}",
                 f"{counts['warnings']} warning{'s' if counts['warnings'] != 1 else ''}",
                 f"{counts['info']} info"]
        problems = "problem" if counts["findings"] == 1 else "problems"
        text = f"Found {counts['findings']} {problems} ({', '.join(parts)}) in {files} {noun}"
        if counts["records"] != files:
            text += f", {counts['records']} request bod{'y' if counts['records'] == 1 else 'ies'}"
        text += "."
        style = "bold red" if counts["errors"] else "bold yellow"
    elif report.errors:  # never "All checks passed" when something was not checked
        failed = f"{len(report.errors)} input{'' if len(report.errors) == 1 else 's'} could not be linted"
        text = f"Nothing checked: {failed}." if not files else \
            f"Not all checked: {failed}; no findings in the rest ({counts['records']} request " \
            f"bod{'y' if counts['records'] == 1 else 'ies'} in {files} {noun})."
        style = "bold red"
    else:
        text = f"All checks passed: {counts['records']} request bod{'y' if counts['records'] == 1 else 'ies'}" \
               f" in {files} {noun}."
        style = "bold green"
    extra = []
    if report.fixed:
        extra.append(f"Fixed {report.fixed}.")
    if report.fixable:
        extra.append(f"[*] {report.fixable} fixable with --fix.")
    if report.unsafe_fixable:
        extra.append(f"{report.unsafe_fixable} more with --fix --unsafe-fixes.")
    if report.ignored:
        extra.append(f"{report.ignored} ignored by the ignore file.")
    if report.skipped:
        extra.append(f"{report.skipped} file(s) skipped: not chat requests.")
    if report.errors and counts["findings"]:
        extra.append(f"{len(report.errors)} input(s) could not be linted.")
    return text, style, " ".join(extra)


def _summary(console: _Rich | _Plain, report: Report) -> None:
    text, style, extra = summary_lines(report)
    console.print(Text(text, style=style))
    if extra:
        console.print(Text(extra))
