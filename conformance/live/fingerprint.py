"""Which contract revision and broker profile explain a run's answers, the rerun command that
follows from it, and — with ``--repeat`` — whether a fleet behind one URL is split between them.

Every answer is judged again against each candidate (revision × profile): a candidate
explains an answer when judging it against that candidate's expectation finds no problem.
A status difference is visible from outside even for a reference-only rule, so those cases
are compared too (their forwarded body only through the white-box view).
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, TypedDict

from . import disputed
from .cases import LiveCase, LiveRequest, live_cases
from .observe import Observation
from .outcomes import Outcome

if TYPE_CHECKING:  # the runner calls this module; at run time it is only handed a LiveRun
    from .runner import LiveRun

Candidate = tuple[str, "str | None"]  # (revision id, broker profile or None for upstream)


class CandidateRow(TypedDict):
    """One candidate of the fingerprint report: how many answers it was compared with, and the
    keys of those it contradicts."""
    revision: str
    profile: str | None
    compared: int
    contradictions: list[str]


@dataclass(frozen=True)
class Answer:
    key: str
    case: LiveCase
    model: str
    request: LiveRequest
    observation: Observation


def candidates(run: LiveRun) -> list[Candidate]:
    return [(revision.id, profile) for revision in run.catalogue.revisions
            for profile in [None, *sorted(run.catalogue.brokers)]]


def _answers(run: LiveRun, every_repeat: bool) -> Iterator[Answer]:
    cases = {case.id: case for case in live_cases(run.catalogue, "full")}
    for key, runs in list(run.observations.items()):
        result = run.results.get(key)
        if result is None or result.outcome in (Outcome.ERROR, Outcome.UNOBSERVABLE) or result.case_id not in cases:
            continue
        for request, obs in (runs if every_repeat else runs[-1:]):
            if not obs.error and not (obs.status is not None and obs.status >= 500):
                yield Answer(key, cases[result.case_id], result.model, request, obs)


def _explains(run: LiveRun, answer: Answer, candidate: Candidate, applicable_only: bool = True) -> bool | None:
    """True/False, or None when the rule does not apply under that candidate's revision (the
    fleet asks anyway: a revision without the rule still predicts the answer to the request)."""
    revision, profile = candidate
    if applicable_only and not answer.case.applies_to(run.catalogue, answer.model, revision):
        return None
    forwarded = None
    if answer.case.observable == "reference-only" and run.whitebox:
        forwarded = run._forwarded(answer.request, answer.observation)
    # (a case judged in a shared request is compared as if sent alone: see LiveRun._contradicts)
    return not run._contradicts(answer.case, answer.request, answer.observation, forwarded, answer.model,
                                revision, profile)


def _preference(run: LiveRun, candidate: Candidate) -> tuple[bool, bool]:
    """Ties go to upstream behaviour, then to the revision the run was told (or the newest)."""
    revision, profile = candidate
    return profile is not None, revision != run.revision


def fingerprint(run: LiveRun) -> dict[str, Any]:
    """``{"best": candidate, "candidates": [...], "fleet": ...}``; each candidate holds the
    observations it was compared with and the keys that contradict it."""
    answers = list(_answers(run, every_repeat=False))
    table: list[CandidateRow] = []
    judged: dict[tuple[Any, ...], tuple[int, list[str]]] = {}
    for candidate in candidates(run):
        same = (candidate[0], run._engine_view(candidate[1]))
        if same in judged:  # a profile the engine applies exactly like one judged already
            compared, contradictions = judged[same][0], list(judged[same][1])
            table.append({"revision": candidate[0], "profile": candidate[1], "compared": compared,
                          "contradictions": contradictions})
            continue
        compared, contradictions = 0, []
        for answer in answers:
            verdict = _explains(run, answer, candidate)
            if verdict is None:
                continue
            compared += 1
            if not verdict:
                contradictions.append(answer.key)
        judged[same] = (compared, contradictions)
        table.append({"revision": candidate[0], "profile": candidate[1], "compared": compared,
                      "contradictions": contradictions})
    table.sort(key=lambda c: (len(c["contradictions"]), *_preference(run, (c["revision"], c["profile"]))))
    sides = {r.rule: disputed.side_of(r.divergence) for r in run.results.values() if disputed.side_of(r.divergence)}
    report: dict[str, Any] = {"best": table[0] if table else None, "candidates": table, "disputed": sides}
    if run.config.repeat > 1:
        report["fleet"] = fleet(run)
    return report


def label(candidate: Candidate) -> str:
    revision, profile = candidate
    return revision if profile is None else f"{revision} with profile {profile}"


def fleet(run: LiveRun) -> dict[str, Any]:
    """Group the answers of cases that disagreed across repeats by the candidate each answer
    matches: two or more groups mean the URL reaches instances of different behaviour.

    ``{"split": bool, "answers": n, "shares": [{"label", "revision", "profile", "answers",
    "percent"}], "cases": [keys that tell them apart]}``."""
    by_key: dict[str, list[Answer]] = {}
    for answer in _answers(run, every_repeat=True):
        by_key.setdefault(answer.key, []).append(answer)
    pool = candidates(run)
    counts: Counter[str] = Counter()
    groups: dict[str, Candidate | None] = {}
    telling: list[str] = []
    for key, answers in by_key.items():
        if len({(a.observation.status, a.observation.error_message) for a in answers}) < 2:
            continue  # consistent answers: nothing to attribute
        labels = []
        for answer in answers:
            matching = [c for c in pool if _explains(run, answer, c, applicable_only=False)]
            best = min(matching, key=lambda c: _preference(run, c)) if matching else None
            name = label(best) if best else "no known revision"
            groups[name] = best
            labels.append(name)
        if len(set(labels)) > 1:
            telling.append(key)
            counts.update(labels)
    total = sum(counts.values())
    shares = []
    for name, n in counts.most_common():
        best = groups[name]
        shares.append({"label": name, "revision": best[0] if best else None, "profile": best[1] if best else None,
                       "answers": n, "percent": round(100 * n / total)})
    return {"split": len(shares) > 1, "answers": total, "shares": shares, "cases": sorted(telling)}


def rerun_command(fingerprint_info: dict[str, Any] | None, options: Any, run_revision: str,
                  embedded: bool) -> str | None:
    """The exact ``gonka-conformance run`` command that judges against the revision and
    profile that explain the observations better than the ones this run used, or None."""
    if not fingerprint_info or not fingerprint_info.get("best"):
        return None
    best = fingerprint_info["best"]
    used = next((c for c in fingerprint_info["candidates"]
                 if c["revision"] == run_revision and c["profile"] == options.profile), None)
    if used is None or len(best["contradictions"]) >= len(used["contradictions"]):
        return None
    args = ["gonka-conformance", "run"]
    if not embedded and options.base_url:
        args += ["--base-url", options.base_url]
    if options.api_key_env != "GONKA_API_KEY":
        args += ["--api-key-env", options.api_key_env]
    if options.models:
        args += ["--models", ",".join(options.models)]
    if options.tier != "cheap":
        args += ["--tier", options.tier]
    if options.repeat > 1:
        args += ["--repeat", str(options.repeat)]
    if best["revision"] != run_revision or options.revision:
        args += ["--revision", best["revision"]]
    if best["profile"]:
        args += ["--profile", best["profile"]]
    return " ".join(shlex.quote(arg) for arg in args)
