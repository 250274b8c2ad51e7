"""``--format sarif``: SARIF 2.1.0 for code-scanning tools (GitHub, Azure DevOps, IDEs).

Rules carry their catalogue metadata (title, what/why/fix, help URI = the upstream anchor);
each result has a physical location (file, line, column in Unicode code points), the JSON
pointer as a logical location, and a stable partial fingerprint (file, record, rule, pointer)
so alerts survive unrelated edits. Input errors are tool execution notifications.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from gonka_conformance import __version__
from gonka_conformance.lint.findings import Finding

from . import DOC_SECTIONS, INFORMATION_URI, TOOL_NAME, Report

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def artifact_uri(display: str) -> str:
    """A relative URI for files under the working directory (what code scanning expects)."""
    if display == "-" or display.startswith("<"):
        return quote(display)
    path = Path(display)
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
        return quote(relative.as_posix())
    except ValueError:
        return absolute.as_uri()


def _rule_descriptor(report: Report, rule_id: str) -> dict[str, Any]:
    rule = report.catalogue.by_id.get(rule_id)
    if rule is None:
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    docs = rule.docs if isinstance(rule.docs, dict) else {}
    parts = [(label, docs.get(key)) for label, key in DOC_SECTIONS]
    markdown = "\n\n".join(f"**{label}.** {text}" for label, text in parts if text)
    sources = docs.get("sources") or []
    if sources:
        markdown += "\n\n**Sources.**\n" + "\n".join(f"- {source}" for source in sources)
    plain = "\n\n".join(f"{label}: {text}" for label, text in parts if text)
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.replace("_", "-").split("-") if word),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": str(docs.get("what") or rule.title)},
        "help": {"text": plain or rule.title, "markdown": markdown or rule.title},
        "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
        "properties": {"tags": ["gonka", rule.kind], "kind": rule.kind, "level": rule.level},
    }
    if rule.anchor:
        descriptor["helpUri"] = rule.anchor
    fix = rule.lint.get("fix") if isinstance(rule.lint, dict) else None
    if fix:
        descriptor["properties"]["fix"] = {"op": fix.get("op"), "safe": fix.get("safe")}
    return descriptor


def _location(display: str, line: int | None, column: int | None, pointer: str | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(display)}}
    if line is not None:
        region: dict[str, Any] = {"startLine": line}
        if column is not None:
            region["startColumn"] = column
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    if pointer:
        location["logicalLocations"] = [{"fullyQualifiedName": pointer, "kind": "member"}]
    return location


def _fingerprint(finding: Finding) -> str:
    key = "\x1f".join([finding.file or "", str(finding.record), finding.rule, finding.pointer])
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def to_sarif(report: Report) -> dict[str, Any]:
    rule_ids = sorted({finding.rule for finding in report.findings})
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    results = []
    for finding in report.findings:
        text = finding.message
        if finding.fix and finding.fix.description:
            text += f"\nFix: {finding.fix.description}"
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": LEVELS.get(finding.severity, "warning"),
            "message": {"text": text},
            "locations": [_location(finding.file or "-", finding.line, finding.column, finding.pointer)],
            "partialFingerprints": {"gonkaLint/v1": _fingerprint(finding)},
            "properties": {"pointer": finding.pointer, "record": finding.record, "severity": finding.severity,
                           "origin": finding.origin, "status": finding.status,
                           "fix": finding.fix.to_json() if finding.fix else None},
        }
        results.append(result)
    notifications = [
        {"level": "error", "message": {"text": error.message},
         "locations": [_location(error.file, error.line, error.column, None)]}
        for error in report.errors
    ]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": TOOL_NAME, "version": __version__, "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": [_rule_descriptor(report, rule_id) for rule_id in rule_ids],
        }},
        "invocations": [{"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}],
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {"revision": report.revision, "profile": report.profile},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report: Report, stream: TextIO) -> None:
    json.dump(to_sarif(report), stream, ensure_ascii=False, indent=2, default=str)
    stream.write("\n")
