"""The live suite's ``junit.xml``, rendered from the report model (the same dict as report.json).

One ``<testsuite name="gonka-conformance">`` inside ``<testsuites>``; one ``<testcase
classname="<rule id>" name="<item key>">`` per case × model, the key being the pytest item's
name (``<case>[<model>]``), which CI systems key their history on. The outcome mapping agrees
with the exit code (``live/outcomes.FAILING``) and with the pytest items' verdicts:

pass → plain testcase · divergent → passed, the divergence in ``system-out`` (it does not fail
the run) · fail → ``failure`` · xpass → ``failure`` (the baseline is stale) · error → ``error``
· unobservable → ``skipped`` · xfail → ``skipped type="xfail"`` (a failure the baseline expects)

A run that could not start (``report["error"]``: unreachable target, refused key) is one
``error`` testcase named ``run``, so a CI view is not green where the exit code is not. Every
text in the model is already redacted and printable; characters XML 1.0 cannot carry are
replaced here, and ElementTree escapes the rest.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from .model import Outcome

SUITE_NAME = "gonka-conformance"
#: Characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: A failure's ``message`` attribute is a one-line headline; the element's text has everything.
MESSAGE_CHARS = 300


def xml_text(text: object) -> str:
    """``text`` as XML 1.0 can carry it (the linter's JUnit report uses it too)."""
    return _NOT_XML.sub("\ufffd", str(text))


def _headline(case: dict[str, Any], prefix: str) -> str:
    problems = case.get("problems") or []
    detail = "; ".join(problems) if problems else f"observed {case.get('observed', '')}"
    text = " ".join(f"{prefix}{detail}".split())  # one line: CI views show the message inline
    return xml_text(text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…")


def _details(case: dict[str, Any]) -> str:
    """What a reader needs to act on a deviation: rule, expected, observed, problems, reproducer."""
    lines = [f"{case['outcome']}: {case['case_id']} on {case['model']}",
             f"rule: {case['rule']} ({case.get('severity', '')})" + (f" {case['anchor']}" if case.get("anchor") else ""),
             f"expected: {case.get('expected', '')}", f"observed: {case.get('observed', '')}"]
    lines += [f"  - {problem}" for problem in case.get("problems") or []]
    if case.get("divergence"):
        lines.append(f"divergence: {case['divergence']}")
    if case.get("curl"):
        lines.append(f"reproduce: {case['curl']}")
    return xml_text("\n".join(lines))


#: outcome -> (element, its type, the suite count it adds to, the headline's prefix); None: a
#: passing testcase (divergent with its note as system-out). Every outcome must be listed: a new
#: one must not become a green testcase by falling through.
_MARKS: dict[Outcome, tuple[str, str, str, str] | None] = {
    Outcome.PASS: None,
    Outcome.DIVERGENT: None,
    Outcome.FAIL: ("failure", "fail", "failures", "{rule}: "),
    Outcome.XPASS: ("failure", "xpass", "failures", ""),
    Outcome.ERROR: ("error", "error", "errors", "error (nothing could be observed): "),
    Outcome.UNOBSERVABLE: ("skipped", "unobservable", "skipped", "unobservable: "),
    Outcome.XFAIL: ("skipped", "xfail", "skipped", "baseline: "),
}
if set(_MARKS) != set(Outcome):  # (checked at import: a renderer that cannot show an outcome is broken)
    raise ImportError(f"reports.junit has no JUnit mapping for {sorted(set(Outcome) - set(_MARKS))}")


def _testcase(case: dict[str, Any]) -> tuple[ET.Element, str | None]:
    """The case's element and its JUnit count ("failures", "errors", "skipped" or None)."""
    element = ET.Element("testcase", classname=xml_text(case["rule"]), name=xml_text(case["key"]),
                         time=f"{float(case.get('elapsed') or 0):.3f}")
    properties = ET.SubElement(element, "properties")
    for name, value in (("case", case["key"]), ("outcome", case["outcome"]), ("model", case["model"])):
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    outcome = Outcome(case["outcome"])
    mark = _MARKS[outcome]
    if mark is None:
        if outcome == Outcome.DIVERGENT:
            ET.SubElement(element, "system-out").text = _details(case)
        return element, None
    tag, kind, counted, prefix = mark
    if outcome == Outcome.XPASS:  # nothing deviates: the baseline is what is wrong
        message = xml_text(f"{case['rule']}: passes now, but the baseline expects it to fail (update the baseline)")
    else:
        message = _headline(case, prefix.format(rule=case["rule"]))
    ET.SubElement(element, tag, type=kind, message=message).text = _details(case)
    return element, counted


def _run_error(report: dict[str, Any]) -> ET.Element:
    element = ET.Element("testcase", classname=SUITE_NAME, name="run", time="0.000")
    ET.SubElement(element, "error", type="run", message=_headline({"problems": [report["error"]]}, "")).text = \
        xml_text(report["error"])
    return element


def junit_tree(report: dict[str, Any]) -> ET.Element:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    cases: list[ET.Element] = []
    for case in report["cases"]:
        element, counted = _testcase(case)
        cases.append(element)
        counts["tests"] += 1
        if counted:
            counts[counted] += 1
    if report.get("error"):
        cases.append(_run_error(report))
        counts["tests"] += 1
        counts["errors"] += 1
    seconds = f"{float(report['timing']['seconds']):.3f}"
    attributes = {name: str(value) for name, value in counts.items()}
    root = ET.Element("testsuites", {"name": SUITE_NAME, "time": seconds, **attributes})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, "time": seconds,
                                              "timestamp": xml_text(report["timing"]["started"]), **attributes})
    properties = ET.SubElement(suite, "properties")
    shown = (("target", report["target"]["base_url"]), ("revision", report["revision"]),
             ("profile", report.get("profile") or ""), ("tier", report["tier"]),
             ("models", ", ".join(report["target"]["models"])), ("exit_code", report["exit_code"]))
    for name, value in shown:
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    suite.extend(cases)
    return root


def render_junit(report: dict[str, Any]) -> str:
    root = junit_tree(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
