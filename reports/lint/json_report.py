"""``--format json``: a versioned report, validated by ``lint/lint-report.schema.json``."""

from __future__ import annotations

import json
from typing import Any, TextIO

from gonka_conformance import __version__

from . import TOOL_NAME, Report, indented

VERSION = 1


def to_json(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "revision": report.revision,
        "profile": report.profile,
        "summary": report.summary(),
        "findings": [finding.to_json() for finding in report.findings],
        "errors": [error.to_json() for error in report.errors],
        "stale_ignores": [{"file": f, "rule": r, "pointer": p} for f, r, p in report.stale],
    }
    if report.normalized is not None:
        data["normalized"] = [
            {"file": item.file, "record": item.record, "result": item.result, "events": item.events}
            for item in report.normalized
        ]
    return data


def render(report: Report, stream: TextIO) -> None:
    data = to_json(report)
    try:
        text = indented.dumps(data)  # json.dump's text at C speed (see indented.py)
    except indented.Unsupported:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    stream.write(text)
    stream.write("\n")
