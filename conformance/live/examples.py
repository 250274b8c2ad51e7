"""A catalogue's live examples checked against the engine before any request is sent.

An example that expects a rejection must be rejected by its own rule (or the rule its
``expect.rejected_by`` names), under every canonical model and revision it applies to: an
earlier rule that happens to give the same status would otherwise make a rule that never fires
look tested. The packaged catalogue is checked at test time (tests/live/test_live_catalogue.py);
a catalogue the user names (``--catalogue``) on every load, with ``file:line`` problems.
Route rules are answered around ``normalize`` (``judge.route_expectation``) and are not checked here.
"""

from __future__ import annotations

from typing import Iterable

from ..catalogue.loader import Catalogue
from ..engine import EngineError, normalize
from .cases import LiveCase, build_request, canonical_models, live_cases

_NONCE = "gc-check"


def example_problems(catalogue: Catalogue, cases: Iterable[LiveCase] | None = None) -> list[str]:
    """``file:line: rule: …`` for every live example expecting a rejection whose status or
    rejecting rule the engine contradicts (every tier; ``cases`` narrows the check)."""
    problems: list[str] = []
    for case in live_cases(catalogue, "full") if cases is None else cases:
        if case.rule.stage == "route" or not _expects_rejection(case):
            continue
        problem = _first_problem(catalogue, case)
        if problem:
            problems.append(f"{case.rule.source_file}:{case.rule.line}: {case.rule.id}: live example "
                            f"{case.spec.get('name', case.id)!r}: {problem}")
    return problems


def _expects_rejection(case: LiveCase) -> bool:
    status = case.expect.get("status")
    return case.expect.get("error") == "engine" or isinstance(status, int) and status >= 400


def _first_problem(catalogue: Catalogue, case: LiveCase) -> str | None:
    expected = case.expect.get("status")
    owner = case.expect.get("rejected_by", case.rule.id)
    applies = False
    for revision in (r.id for r in catalogue.revisions):
        for model in canonical_models(catalogue):
            if not case.applies_to(catalogue, model, revision):
                continue
            applies = True
            request = build_request(case, model, nonce=_NONCE)
            try:
                result = normalize(request.body, model=model, revision=revision, catalogue=catalogue)
            except EngineError as exc:  # a user catalogue's verb options the engine cannot run
                return f"the engine fails on it on {model} ({revision}): {exc}"
            status = 200 if result.outcome == "accepted" else result.status
            where = f"on {model} ({revision})"
            if expected is not None and status != expected:
                said = f": {result.message[:120]!r} from {result.rule}" if result.outcome == "rejected" else ""
                return f"expects status {expected}, the engine answers {status} {where}{said}"
            if case.expect.get("error") == "engine" and result.outcome != "rejected":
                return f"expects the engine's error, the engine accepts it {where}"
            if result.outcome == "rejected" and expected is not None and expected >= 400 and result.rule != owner:
                return f"expects a rejection by {owner}, the engine rejects it by {result.rule} {where}"
    return None if applies else "applies to no canonical model in any revision"
