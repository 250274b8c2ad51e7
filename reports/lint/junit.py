"""``--format junit``: JUnit XML for CI test-report views.

One test suite per file; one test case per finding (``failure`` for errors and warnings, and
for info too with ``--strict``; passing with the message as ``system-out`` otherwise), one
``error`` test case per unreadable input, and a passing ``clean`` case for a clean file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import OrderedDict
from typing import TextIO

from . import TOOL_NAME, Report
from ..junit import xml_text


def _fails(report: Report, severity: str) -> bool:
    return severity in ("error", "warning") or report.strict


def to_xml(report: Report) -> ET.Element:
    suites: "OrderedDict[str, list[ET.Element]]" = OrderedDict((file, []) for file in report.files)
    counts: dict[str, list[int]] = {}
    for finding in report.findings:
        file = finding.file or "-"
        where = f"{finding.line}:{finding.column} " if finding.line is not None else ""
        record = f"record {finding.record} " if finding.record is not None else ""
        case = ET.Element("testcase", classname=xml_text(file),
                          name=xml_text(f"{finding.rule} {record}{where}{finding.pointer or '/'}"))
        details = finding.message
        if finding.fix and finding.fix.description:
            details += f"\nFix: {finding.fix.description}"
        if finding.anchor:
            details += f"\nSee {finding.anchor}"
        if _fails(report, finding.severity):
            failure = ET.SubElement(case, "failure", type=finding.severity, message=xml_text(finding.message))
            failure.text = xml_text(details)
            counts.setdefault(file, [0, 0])[0] += 1
        else:
            ET.SubElement(case, "system-out").text = xml_text(f"{finding.severity}: {details}")
        suites.setdefault(file, []).append(case)
    for error in report.errors:
        case = ET.Element("testcase", classname=xml_text(error.file), name="readable input")
        ET.SubElement(case, "error", type="input", message=xml_text(str(error))).text = xml_text(str(error))
        suites.setdefault(error.file, []).append(case)
        counts.setdefault(error.file, [0, 0])[1] += 1
    root = ET.Element("testsuites", name=TOOL_NAME)
    total = failures = errors = 0
    for file, cases in suites.items():
        if not cases:
            cases = [ET.Element("testcase", classname=xml_text(file), name="clean")]
        failed, errored = counts.get(file, [0, 0])
        suite = ET.SubElement(root, "testsuite", name=xml_text(file), tests=str(len(cases)), failures=str(failed),
                              errors=str(errored), skipped="0")
        suite.extend(cases)
        total, failures, errors = total + len(cases), failures + failed, errors + errored
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    return root


def render(report: Report, stream: TextIO) -> None:
    root = to_xml(report)
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")
