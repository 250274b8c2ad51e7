"""junit.xml rendered from the report model: structure, counts, outcome mapping, XML safety."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections import Counter

from gonka_conformance.reports.junit import MESSAGE_CHARS, render_junit
from samples import sample_report

HOSTILE = "a\x00b\x1b[31mc\x07d\ud800e <img src=x> ]]> & \"q\""


def report_with_every_outcome() -> dict:
    report = sample_report()
    extra = []
    for outcome, rule in (("xfail", "accept-stop"), ("xpass", "reject-logit-bias")):
        row = copy.deepcopy(report["cases"][0])
        row.update(key=f"{rule}[moonshotai/Kimi-K2.6]", case_id=rule, rule=rule, outcome=outcome, problems=[f"{outcome} why"])
        extra.append(row)
    hostile = copy.deepcopy(next(c for c in report["cases"] if c["outcome"] == "fail"))
    hostile.update(key="hostile-rule[m]", case_id="hostile-rule", rule="hostile-rule", model=HOSTILE,
                   observed=HOSTILE, problems=[HOSTILE * 40], curl="curl -sS " + HOSTILE)
    report["cases"] += extra + [hostile]
    counts = Counter(c["outcome"] for c in report["cases"])
    report["summary"] = {o: counts.get(o, 0) for o in report["summary"] if o != "total"} | {"total": len(report["cases"])}
    return report


def suite_of(report: dict) -> ET.Element:
    root = ET.fromstring(render_junit(report))  # parses: no character XML 1.0 forbids got through
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "gonka-conformance"
    return suites[0]


def test_counts_match_the_summary_and_every_item_appears_once() -> None:
    report = report_with_every_outcome()
    suite = suite_of(report)
    summary = report["summary"]
    assert summary["xfail"] == summary["xpass"] == 1 and summary["fail"] == 3
    assert int(suite.get("tests")) == summary["total"]
    assert int(suite.get("failures")) == summary["fail"] + summary["xpass"]  # what makes the exit code 1
    assert int(suite.get("errors")) == summary["error"]
    assert int(suite.get("skipped")) == summary["unobservable"] + summary["xfail"]
    cases = suite.findall("testcase")
    names = Counter((case.get("classname"), case.get("name")) for case in cases)
    assert names == Counter((c["rule"], c["key"]) for c in report["cases"])  # each once, rule as classname
    assert len(suite.findall("testcase/failure")) == int(suite.get("failures"))
    assert len(suite.findall("testcase/error")) == int(suite.get("errors"))
    assert len(suite.findall("testcase/skipped")) == int(suite.get("skipped"))
    times = {case.get("name"): float(case.get("time")) for case in cases}
    assert all(abs(times[c["key"]] - c["elapsed"]) < 0.001 for c in report["cases"])


def test_each_outcome_maps_to_its_element() -> None:
    report = report_with_every_outcome()
    by_key = {case.get("name"): case for case in suite_of(report).iter("testcase")}
    for row in report["cases"]:
        case = by_key[row["key"]]
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["case"] == row["key"] and props["outcome"] == row["outcome"]
        children = [child.tag for child in case if child.tag != "properties"]
        expected = {"pass": [], "divergent": ["system-out"], "fail": ["failure"], "xpass": ["failure"],
                    "error": ["error"], "unobservable": ["skipped"], "xfail": ["skipped"]}[row["outcome"]]
        assert children == expected, (row["key"], children)
    fail = by_key["limit-stop[moonshotai/Kimi-K2.6]"].find("failure")
    assert fail.get("type") == "fail" and fail.get("message").startswith("limit-stop: forwarded body differs")
    assert "rule: limit-stop" in fail.text and "expected: HTTP 200" in fail.text and "observed: HTTP 200" in fail.text
    assert "  - forwarded body differs" in fail.text and "reproduce: curl -sS http://127.0.0.1:1/v1/chat/completions" in fail.text
    assert "baseline" in by_key["reject-logit-bias[moonshotai/Kimi-K2.6]"].find("failure").get("message")
    assert by_key["accept-stop[moonshotai/Kimi-K2.6]"].find("skipped").get("type") == "xfail"
    unobservable = by_key["clamp-temperature[moonshotai/Kimi-K2.6]"].find("skipped")
    assert unobservable.get("message").startswith("unobservable: ")
    error = by_key["stream-done-sentinel[moonshotai/Kimi-K2.6]"].find("error")
    assert "stream cut" in error.get("message") and "reproduce: curl" in error.text
    divergent = by_key["strip-plugins[moonshotai/Kimi-K2.6]"].find("system-out")
    assert "Plugin config is invalid" in divergent.text and "reproduce: curl" in divergent.text


def test_hostile_text_is_escaped_and_stripped_of_what_xml_cannot_carry() -> None:
    text = render_junit(report_with_every_outcome())
    assert "<img" not in text and "\x00" not in text and "\x1b" not in text and "\x07" not in text
    case = next(c for c in ET.fromstring(text).iter("testcase") if c.get("name") == "hostile-rule[m]")
    failure = case.find("failure")
    assert "<img src=x> ]]> & \"q\"" in failure.text  # markup survives as text, escaped in the file
    assert "\n" not in failure.get("message") and len(failure.get("message")) <= MESSAGE_CHARS
    assert {p.get("name"): p.get("value") for p in case.iter("property")}["model"].startswith("a\ufffdb\ufffd[31m")


def test_a_run_that_could_not_start_is_one_error_case() -> None:
    report = sample_report()
    report.update(cases=[], error="target unreachable: GET /models: connection refused",
                  summary={k: 0 for k in report["summary"]})
    suite = suite_of(report)
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("1", "1", "0")
    error = suite.find("testcase/error")
    assert suite.find("testcase").get("name") == "run" and "target unreachable" in error.get("message")
