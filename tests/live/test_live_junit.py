"""``run`` writes junit.xml from the report model: it agrees with report.json and the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from gateways import serve
from models import KIMI

KEY = "sk-junit-Zq7tPLANTED0xW9"
BIN = Path(sys.executable).parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gonka-conformance"), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "GONKA_API_KEY": KEY}, timeout=400)


def junit_and_report(report_dir: Path) -> tuple[ET.Element, dict]:
    suites = ET.parse(report_dir / "junit.xml").getroot()
    assert len(suites.findall("testsuite")) == 1
    return suites.find("testsuite"), json.loads((report_dir / "report.json").read_text())


def test_failures_carry_the_rule_and_reproducer_and_a_baseline_turns_them_into_xfail(tmp_path: Path) -> None:
    with serve(profile="gonkagate.com") as gw:  # judged without the profile: strip-plugins fails
        first = run("run", "--base-url", gw.base_url, "--models", KIMI, "-k", "strip-plugins or reject-tags",
                    "--report-dir", "first", cwd=tmp_path)
        assert first.returncode == 1, first.stdout[-2000:] + first.stderr[-2000:]
        suite, report = junit_and_report(tmp_path / "first")
        assert report["summary"]["fail"] >= 1 and report["summary"]["pass"] >= 1
        assert int(suite.get("tests")) == report["summary"]["total"] == len(report["cases"])
        assert int(suite.get("failures")) == report["summary"]["fail"] + report["summary"]["xpass"]
        assert int(suite.get("errors")) == report["summary"]["error"] == 0
        cases = {case.get("name"): case for case in suite.iter("testcase")}
        assert sorted(cases) == sorted(c["key"] for c in report["cases"])  # the pytest item names, each once
        for row in report["cases"]:
            case = cases[row["key"]]
            assert case.get("classname") == row["rule"]
            failure = case.find("failure")
            assert (failure is not None) == (row["outcome"] == "fail")
            if failure is not None:
                assert failure.get("message").startswith(row["rule"] + ": ")
                assert f"rule: {row['rule']}" in failure.text and "reproduce: curl -sS http://127.0.0.1:" in failure.text
                assert '"Authorization: Bearer $GONKA_API_KEY"' in failure.text
        assert {p.get("name"): p.get("value") for p in suite.find("properties")}["exit_code"] == "1"

        baseline = run("baseline", "first/report.json", "-o", "baseline.json", cwd=tmp_path)
        assert baseline.returncode == 0, baseline.stderr
        second = run("run", "--base-url", gw.base_url, "--models", KIMI, "-k", "strip-plugins or reject-tags",
                     "--report-dir", "second", "--baseline", "baseline.json", cwd=tmp_path)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    suite, report = junit_and_report(tmp_path / "second")
    assert report["summary"]["xfail"] == int(suite.get("skipped")) >= 1 and suite.get("failures") == "0"
    assert all(s.get("type") == "xfail" for s in suite.iter("skipped"))
    for text in (tmp_path / "first" / "junit.xml").read_text(), (tmp_path / "second" / "junit.xml").read_text():
        assert KEY not in text and KEY[3:15] not in text


def test_pytest_junitxml_into_the_report_dir_is_left_to_pytest(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "gonka_conformance.live",
                           "-q", "-k", "reject-tags", "--gonka-models", KIMI,
                           "--gonka-report-dir", str(report_dir), "--junitxml", str(report_dir / "junit.xml")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    suite = ET.parse(report_dir / "junit.xml").getroot().find("testsuite")
    # pytest's own file (suite "pytest", the module as classname): one writer, the one asked for
    assert suite.get("name") == "pytest" and {c.get("classname") for c in suite.iter("testcase")} == {"test_conformance"}
    assert (report_dir / "report.json").is_file()
