"""The live suite against reference gateways that follow the other side of a disputed rule."""

from __future__ import annotations

import json

from models import MINIMAX
from test_live_suite import altered_catalogue, gateway, run_suite


def _result(session, case_id: str):
    return next(r for r in session.results() if r.case_id == case_id)


def test_the_other_side_of_a_disputed_rule_is_a_pass_with_a_note(tmp_path, monkeypatch) -> None:
    other = altered_catalogue(tmp_path, "30-schemas.yaml", "      default: accepted\n", "      default: rejected\n")
    with gateway(other, revision="2026-05") as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], revision="2026-05", report_dir=str(tmp_path / "report"))
    result = _result(session, "reject-structured_outputs-minimax")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    noted = next(c for c in report["cases"] if c["case_id"] == "reject-structured_outputs-minimax")
    assert noted["outcome"] == "pass" and noted["divergence"].startswith("disputed: observed rejected")
    assert "`reject-structured_outputs-minimax` rejected" in (tmp_path / "report" / "summary.md").read_text()
    assert result.outcome == "pass", result.problems
    assert result.divergence.startswith("disputed: observed rejected (minimax-m2.7.md @fad1002c")
    assert session.fingerprint()["disputed"]["reject-structured_outputs-minimax"] == "rejected"
    assert {r.outcome for r in session.results()} == {"pass"}, [(r.key, r.problems) for r in session.results() if r.outcome != "pass"]


def test_the_default_side_is_noted_too_and_an_undocumented_behaviour_still_fails(tmp_path, monkeypatch) -> None:
    with gateway(revision="2026-09") as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], tier="full")
    result = _result(session, "inline-schema-ref:ref-siblings")
    assert result.outcome == "pass" and result.divergence.startswith("disputed: observed ignore-siblings")
    merged = altered_catalogue(tmp_path, "30-schemas.yaml", "      default: ignore-siblings\n", "      default: merge-siblings\n")
    with gateway(merged, revision="2026-09") as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], tier="full")
    result = _result(session, "inline-schema-ref:ref-siblings")
    assert result.outcome == "pass" and result.divergence.startswith("disputed: observed merge-siblings")
    assert session.fingerprint()["disputed"]["inline-schema-ref"] == "merge-siblings"
    # A behaviour no side documents is still a failure: a gateway that does not inline at all.
    none = altered_catalogue(tmp_path / "none", "30-schemas.yaml", '    applies: {revisions: {from: "2026-09"}}\n    evidence:',
                             '    applies: {revisions: {until: "2026-05"}}\n    evidence:')
    with gateway(none, revision="2026-09") as gw:
        session = run_suite(gw, monkeypatch, models=[MINIMAX], tier="full")
    result = _result(session, "inline-schema-ref:ref-siblings")
    assert result.outcome == "fail" and not result.divergence
