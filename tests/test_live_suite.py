"""The live suite against reference gateways: conforming, deviant, faulty, broker-flavoured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import jsonschema

from gonka_conformance.catalogue.loader import default_root, load_catalogue
from gateways import serve
from gonka_conformance.gateway import Faults, ReferenceGateway
from gonka_conformance.live.session import LiveSession, SessionOptions
from gonka_conformance.reports.baseline import baseline_from_report, load_baseline
from gonka_conformance.reports.diff import diff_reports
from gonka_conformance.reports.model import load_report, schema
from models import KIMI, MINIMAX

MODELS = [KIMI, MINIMAX]
KEY = "sk-test-suite-0000"


def gateway(catalogue=None, **config):
    config.setdefault("debug_endpoint", True)
    return serve(catalogue, **config)


def run_suite(gw: ReferenceGateway | None, monkeypatch, whitebox: bool = True, **options) -> LiveSession:
    monkeypatch.setenv("GONKA_API_KEY", options.pop("key", KEY))
    opts = SessionOptions(base_url=gw.base_url if gw else options.pop("base_url", None), models=options.pop("models", MODELS),
                          whitebox_url=gw.debug_url if gw and whitebox else None,
                          **{"concurrency": 4, "timeout": 20, **options})
    session = LiveSession(opts)
    try:
        session.start()
        session.execute([f"{case.id}[{model}]" for case, model in session.items()])
        session.finish(datetime.now(timezone.utc), session.exit_code())
    finally:
        session.close()
    return session


def by_outcome(session: LiveSession) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for result in session.results():
        groups.setdefault(result.outcome, set()).add(result.rule)
    return groups


def altered_catalogue(tmp_path: Path, file: str, old: str, new: str):
    root = tmp_path / "cases"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = root / "rules" / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return load_catalogue(root)


# --- conforming target ------------------------------------------------------------------------


def test_reference_gateway_conforms_and_silent_rules_are_verified(monkeypatch) -> None:
    with gateway() as gw:
        session = run_suite(gw, monkeypatch)
    outcomes = Counter(r.outcome for r in session.results())
    assert outcomes["pass"] > 100
    assert set(outcomes) == {"pass"}, [(r.key, r.problems) for r in session.results() if r.outcome != "pass"]
    assert session.exit_code() == 0


def test_black_box_target_reports_reference_only_rules_as_unobservable(monkeypatch) -> None:
    with gateway() as gw:
        session = run_suite(gw, monkeypatch, whitebox=False)
    outcomes = Counter(r.outcome for r in session.results())
    assert outcomes["unobservable"] > 20 and outcomes["fail"] == outcomes["error"] == 0
    assert all(r.rule != "reject-tags" for r in session.results() if r.outcome == "unobservable")


# --- deviant targets --------------------------------------------------------------------------


def test_a_deviant_bound_fails_exactly_its_rule(monkeypatch, tmp_path) -> None:
    deviant = altered_catalogue(tmp_path, "10-params.yaml", "with: {max_entries: 16, max_length: 256}", "with: {max_entries: 20, max_length: 256}")
    with gateway(catalogue=deviant) as gw:
        session = run_suite(gw, monkeypatch)
    groups = by_outcome(session)
    assert groups.get("fail") == {"limit-stop"}
    assert set(groups) <= {"pass", "fail"}
    assert session.exit_code() == 1
    failing = [r for r in session.results() if r.outcome == "fail"]
    assert all("expected HTTP 400" in r.problems[0] and "got HTTP 200" in r.problems[0] for r in failing)


def test_a_deviant_silent_rule_is_caught_through_the_white_box_view(monkeypatch, tmp_path) -> None:
    deviant = altered_catalogue(tmp_path, "10-params.yaml", "transform: sanitize-float, with: {min: 0, max: 2}}", "transform: sanitize-float, with: {min: 0, max: 3}}")
    with gateway(catalogue=deviant) as gw:
        session = run_suite(gw, monkeypatch)
    assert by_outcome(session).get("fail") == {"clamp-temperature"}
    (problem,) = {p for r in session.results() if r.outcome == "fail" for p in r.problems}
    assert "forwarded body differs" in problem and "temperature: expected 2, observed 3" in problem


def test_a_broker_profile_turns_documented_differences_into_divergent(monkeypatch) -> None:
    with gateway(profile="gonkagate.com") as gw:
        strict = run_suite(gw, monkeypatch, models=None)  # discovers gonkagate's lowercase ids
        profiled = run_suite(gw, monkeypatch, models=None, profile="gonkagate.com")
    assert "moonshotai/kimi-k2.6" in strict.run.models
    assert by_outcome(strict).get("fail") == {"strip-plugins", "kimi-empty-content-think-burn"}
    assert by_outcome(profiled).get("divergent") == {"strip-plugins", "kimi-empty-content-think-burn"}
    assert "fail" not in by_outcome(profiled) and profiled.exit_code() == 0
    note = next(r.divergence for r in profiled.results() if r.outcome == "divergent" and r.rule == "strip-plugins")
    assert "gonkagate.com" in note and "2026-05-25" in note


# --- faults and unreachable targets ------------------------------------------------------------


def test_a_failing_target_is_error_never_pass(monkeypatch) -> None:
    with gateway(faults=Faults(error_rate=1.0)) as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], retries=0)
    # Faults hit inference; the gateway's own 400s come before it and still conform.
    inference = [r for r in session.results() if r.expected == "HTTP 200"]
    assert inference and {r.outcome for r in inference} == {"error"}
    assert all("HTTP 502" in r.problems[0] for r in inference)
    assert {r.outcome for r in session.results()} == {"pass", "error"} and session.exit_code() == 3


def test_rate_limits_are_retried_honouring_retry_after(monkeypatch) -> None:
    with gateway(faults=Faults(rate_limit_rate=0.3, retry_after=0, seed=7)) as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], retries=12)  # 0.3**13: never 13 in a row
    assert Counter(r.outcome for r in session.results())["pass"] == len(session.results())
    attempts = [obs.attempts for runs in session.run.observations.values() for _, obs in runs]
    assert max(attempts) > 1  # 429s were answered and retried


def test_cut_streams_and_garbage_bodies_are_errors(monkeypatch) -> None:
    with gateway(faults=Faults(cut_rate=1.0)) as gw:
        cut = run_suite(gw, monkeypatch, models=[MINIMAX], retries=0)
    streamed = [r for r in cut.results() if r.rule in ("stream-done-sentinel", "strip-stream-usage-unless-asked")]
    assert streamed and all(r.outcome == "error" for r in streamed)
    assert "pass" not in {r.outcome for r in cut.results() if r.expected == "HTTP 200"}
    with gateway(faults=Faults(garbage_rate=1.0)) as gw:
        garbage = run_suite(gw, monkeypatch, models=[MINIMAX], retries=0)
    assert {r.outcome for r in garbage.results() if r.expected == "HTTP 200"} == {"error"}


def test_an_unreachable_target_exits_3_with_no_pass(monkeypatch) -> None:
    session = run_suite(None, monkeypatch, base_url="http://127.0.0.1:9/v1", models=None)
    assert session.error and "unreachable" in session.error
    assert session.results() == [] and session.exit_code() == 3


# --- repeats, budget, baseline, diff -----------------------------------------------------------


def test_repeats_must_agree_across_a_fleet(monkeypatch) -> None:
    with gateway() as gw:
        steady = run_suite(gw, monkeypatch, models=[MINIMAX], repeat=2)
    assert {r.outcome for r in steady.results()} == {"pass"}
    with gateway(faults=Faults(error_rate=0.5, error_status=503, seed=3)) as gw:
        flaky = run_suite(gw, monkeypatch, models=[MINIMAX], repeat=3, retries=0)
    inconsistent = [r for r in flaky.results() if r.problems and r.problems[0].startswith("inconsistent across 3 repeats")]
    assert inconsistent and all(r.outcome in ("fail", "error") for r in inconsistent)


def test_token_budget_stops_spending(monkeypatch) -> None:
    with gateway() as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], budget_tokens=1, concurrency=1)
    errors = [r for r in session.results() if r.outcome == "error"]
    assert errors and all("budget" in r.problems[0] for r in errors)
    assert session.run.tokens_spent >= 1 and session.exit_code() == 3


def test_baseline_expected_failures_stale_entries_and_diff(monkeypatch, tmp_path) -> None:
    deviant = altered_catalogue(tmp_path, "10-params.yaml", "with: {max_entries: 16, max_length: 256}", "with: {max_entries: 20, max_length: 256}")
    with gateway(catalogue=deviant) as gw:
        first = run_suite(gw, monkeypatch, report_dir=str(tmp_path / "a"))
        baseline = tmp_path / "baseline.json"
        baseline.write_text(json.dumps(baseline_from_report(load_report(tmp_path / "a" / "report.json"))))
        known = run_suite(gw, monkeypatch, baseline=load_baseline(baseline))
    assert first.exit_code() == 1
    assert by_outcome(known).get("xfail") == {"limit-stop"} and known.exit_code() == 0
    with gateway() as gw:
        fixed = run_suite(gw, monkeypatch, baseline=load_baseline(baseline), report_dir=str(tmp_path / "b"))
    assert by_outcome(fixed).get("xpass") == {"limit-stop"} and fixed.exit_code() == 1
    changes = diff_reports(load_report(tmp_path / "a" / "report.json"), load_report(tmp_path / "b" / "report.json"))
    assert {e["key"].split("[")[0] for e in changes["changed"]} == {"limit-stop"}  # fail -> xpass
    assert changes["regressed"] == [] and changes["new"] == [] and changes["removed"] == []


# --- the command line end to end ------------------------------------------------------------------


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("gonka-conformance")  # the installed console script
    return subprocess.run([str(script), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=240)


def test_run_with_no_arguments_uses_the_embedded_gateway_and_writes_every_report(tmp_path) -> None:
    report_dir = tmp_path / "reports"
    done = _run_cli(["run", "--report-dir", str(report_dir), "-q"], {})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = load_report(report_dir / "report.json")
    jsonschema.validate(report, schema())
    assert report["target"]["embedded_reference"] is True and len(report["target"]["models"]) >= 4
    assert report["summary"]["fail"] == report["summary"]["error"] == report["summary"]["unobservable"] == 0
    assert report["summary"]["pass"] == report["summary"]["total"] > 300
    suites = ET.parse(report_dir / "junit.xml").getroot()
    assert int(suites.find("testsuite").get("tests")) == report["summary"]["total"]
    html = (report_dir / "report.html").read_text()
    assert '<table class="matrix">' in html and "reject-tags" in html and "<script src" not in html
    assert "| error | fail |" in (report_dir / "summary.md").read_text()
    assert (report_dir / "pytest-report.html").stat().st_size > 1000


def test_a_planted_key_appears_in_no_artifact(tmp_path) -> None:
    planted = "PLANTEDx0123abcdSECRET"  # shaped like no credential pattern: only the known-key path can hide it
    with gateway(api_key=planted) as gw:
        report_dir = tmp_path / "reports"
        done = _run_cli(["run", "--base-url", gw.base_url, "--models", MINIMAX, "--report-dir", str(report_dir),
                         "--whitebox-url", gw.debug_url, "-k", "reject or strip or require-api-key"], {"GONKA_API_KEY": planted})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert load_report(report_dir / "report.json")["summary"]["pass"] > 20  # the key really authenticated
    artifacts = {p.name: p.read_text(errors="replace") for p in report_dir.iterdir()}
    assert set(artifacts) >= {"report.json", "report.html", "summary.md", "junit.xml", "pytest-report.html"}
    for name, text in {**artifacts, "stdout": done.stdout, "stderr": done.stderr}.items():
        assert planted not in text, f"the key leaked into {name}"
        assert planted[3:20] not in text, f"part of the key leaked into {name}"
    assert '"Authorization: Bearer $GONKA_API_KEY"' in artifacts["report.json"].replace("\\", "")


def test_run_exit_codes_for_usage_and_unreachable(tmp_path) -> None:
    assert _run_cli(["run", "--concurrency", "0"], {}).returncode == 2
    unreachable = _run_cli(["run", "--base-url", "http://127.0.0.1:9/v1", "--report-dir", str(tmp_path)], {"GONKA_API_KEY": "sk-any"})
    assert unreachable.returncode == 3 and "target unreachable" in unreachable.stdout + unreachable.stderr
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["pass"] == 0
    nothing = _run_cli(["run", "-k", "no-such-rule-anywhere", "--report-dir", str(tmp_path / "n")], {})
    assert nothing.returncode == 2 and "no live case selected" in nothing.stderr


def test_fingerprint_names_the_revision_a_target_runs(monkeypatch) -> None:
    with gateway(revision="2026-05") as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX])
    fingerprint = session.fingerprint()
    assert fingerprint["best"]["revision"] == "2026-05" and fingerprint["best"]["contradictions"] == []
    newest = next(c for c in fingerprint["candidates"] if c["revision"] == "2026-09" and c["profile"] is None)
    assert newest["contradictions"]  # the newest revision's rules contradict an older gateway
    assert session.exit_code() == 1
