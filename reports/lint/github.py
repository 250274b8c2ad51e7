"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=…,line=…,col=…,title=…::message`` (``warning`` and ``notice`` for the other
severities), escaped as the runner expects: ``%``, CR and LF in the message; additionally
``:`` and ``,`` in property values.
"""

from __future__ import annotations

from typing import TextIO

from . import Report

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, file: str, line: int | None, column: int | None, title: str, message: str) -> str:
    props = [f"file={escape_property(file)}"]
    if line is not None:
        props.append(f"line={line}")
        if column is not None:
            props.append(f"col={column}")
    props.append(f"title={escape_property(title)}")
    return f"::{command} {','.join(props)}::{escape_data(message)}"


def render(report: Report, stream: TextIO) -> None:
    for finding in report.findings:
        message = finding.message
        if finding.record is not None:
            message = f"[record {finding.record}] {message}"
        message += f"\nat {finding.pointer or '/'}"
        if finding.fix and finding.fix.description:
            message += f"\nFix: {finding.fix.description}"
        if finding.anchor:
            message += f"\nSee {finding.anchor}"
        command = "error" if report.strict and finding.severity != "error" else COMMANDS[finding.severity]
        stream.write(annotation(command, finding.file or "-", finding.line, finding.column,
                                f"gonka-lint {finding.rule}", message) + "\n")
    for error in report.errors:
        stream.write(annotation("error", error.file, error.line, error.column, "gonka-lint: unreadable input",
                                error.message) + "\n")
