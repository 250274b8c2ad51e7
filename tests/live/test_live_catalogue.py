"""Every live example in the catalogue is consistent with the engine's own verdict."""

from __future__ import annotations

import pytest

from gonka_conformance.engine.pipeline import normalize, render
from gonka_conformance.live.cases import build_request, canonical_models, live_cases
from gonka_conformance.live.judge import expect
from models import CATALOGUE

CASES = live_cases(CATALOGUE, tier="full")


# Rejects without a live example, each with the reason a black-box request cannot show it cheaply.
NO_LIVE_EXAMPLE = {
    "limit-messages-count": "needs 2049 messages; covered by the goldens and the reference gateway tests",
    "limit-logit-bias": "needs 1025 logit_bias entries; covered by the goldens (arrays_logit_bias_map_cap_exceeded)",
}


def test_every_request_reject_has_a_live_example_or_a_reason() -> None:
    with_cases = {case.rule.id for case in CASES}
    missing = sorted(r.id for r in CATALOGUE.rules if r.kind == "reject" and r.stage in
                     ("read", "scan", "parse", "pre", "messages", "typed") and r.id not in with_cases)
    assert [m for m in missing if m not in NO_LIVE_EXAMPLE] == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_live_example_agrees_with_the_engine(case) -> None:
    checked = 0
    for revision in ("2026-05", "2026-09"):
        for model in canonical_models(CATALOGUE):
            if not case.applies_to(CATALOGUE, model, revision):
                continue
            request = build_request(case, model, nonce="gc-test")
            if case.rule.stage == "route" and case.expect.get("status") not in (None, 200):
                _check_route_case(case, request, model, revision)  # answered by the gateway around normalize
                checked += 1
                continue
            result = normalize(request.body, model=model, revision=revision)
            status = 200 if result.outcome == "accepted" else result.status
            expected = case.expect.get("status")
            if expected is not None:
                assert status == expected, f"{model} {revision}: engine says {status}: {getattr(result, 'message', '')[:120]}"
            if case.expect.get("error") == "engine":
                assert result.outcome == "rejected", f"{model} {revision}: the engine accepts this example"
            # (that a rejection comes from the example's own rule is the load check's: below)
            checked += 1
    assert checked, f"{case.id} applies to no canonical model in any revision"


def _check_route_case(case, request, model: str, revision: str) -> None:
    """Status and (``error: engine``) message come from the rule itself, filled with the model."""
    rule = case.rule
    expectation = expect(CATALOGUE, case, request, model, revision)
    assert rule.status == case.expect["status"] == expectation.status, f"{case.id}: live status disagrees with the rule"
    if case.expect.get("error") == "engine":
        assert expectation.message == render(rule.messages["default"], {"model": model})
    else:
        assert expectation.message is None


def test_require_api_key_checks_the_catalogue_message() -> None:
    case = next(c for c in CASES if c.rule.id == "require-api-key")
    model = canonical_models(CATALOGUE)[0]
    expectation = expect(CATALOGUE, case, build_request(case, model), model, "2026-09")
    assert expectation.status == 401 and expectation.message == f"model {model!r} requires an API key".replace("'", '"')


# --- the load-time check of a catalogue the user names ---------------------------------------


def test_the_packaged_catalogue_passes_the_load_check() -> None:
    from gonka_conformance.live.examples import example_problems

    assert example_problems(CATALOGUE) == []


@pytest.mark.parametrize("old, new, said", [
    # the example stops showing its rule: another rule rejects the request first
    ("request: {max_tokens: 0}, observable: black-box, expect: {status: 400, error: engine}}",
     "request: {max_tokens: 0}, observable: black-box, expect: {status: 400, error: engine, rejected_by: limit-stop}}",
     "expects a rejection by limit-stop, the engine rejects it by reject-nonpositive-max-tokens"),
    # the example no longer triggers anything: the engine accepts it
    ("request: {max_tokens: 0}, observable: black-box, expect: {status: 400, error: engine}}",
     "request: {max_tokens: 5}, observable: black-box, expect: {status: 400, error: engine}}",
     "expects status 400, the engine answers 200"),
])
def test_a_user_catalogue_whose_example_another_rule_rejects_fails_before_sending(tmp_path, old, new, said) -> None:
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from gonka_conformance.catalogue.loader import default_root

    root = tmp_path / "cases"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = root / "rules" / "10-params.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "- id: reject-nonpositive-max-tokens" in row)
    script = Path(sys.executable).with_name("gonka-conformance")
    done = subprocess.run([str(script), "--catalogue", str(root), "run", "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr[-1500:]
    assert f"10-params.yaml:{line}: reject-nonpositive-max-tokens: live example 'zero'" in done.stderr, done.stderr
    assert said in done.stderr and "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "r" / "report.json").exists()  # nothing was run


def test_an_engine_failure_on_an_example_is_a_problem_not_a_traceback(monkeypatch) -> None:
    from gonka_conformance.engine import EngineError
    from gonka_conformance.live import examples

    def failing(*args, **kwargs):
        raise EngineError("rule x (check) failed at /: ValueError('bad option')")

    monkeypatch.setattr(examples, "normalize", failing)
    case = next(c for c in CASES if c.rule.id == "reject-nonpositive-max-tokens")
    (problem,) = examples.example_problems(CATALOGUE, [case])
    assert "reject-nonpositive-max-tokens: live example 'zero': the engine fails on it" in problem
    assert "bad option" in problem
