"""The outcome words of a live case, in one place: report.json, every renderer, the pytest
plugin and the exit code use these names (``reports.model`` re-exports them)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """A live case's verdict: the one list of outcome words (report.json, every renderer, the
    pytest plugin and the exit code use these names)."""

    PASS = "pass"
    FAIL = "fail"
    DIVERGENT = "divergent"  # fails upstream's contract, matches the chosen broker profile
    UNOBSERVABLE = "unobservable"
    XFAIL = "xfail"  # a failure the baseline expects
    XPASS = "xpass"  # a baselined case that now passes (the baseline is stale)
    ERROR = "error"  # the harness could not judge (transport, 5xx, budget)


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)  # the report summary's order
#: Outcomes that make a run fail (a regression in a diff).
FAILING: frozenset[Outcome] = frozenset({Outcome.FAIL, Outcome.ERROR, Outcome.XPASS})
#: Worst first: the order renderers sort and summarise in.
WORST_FIRST: tuple[Outcome, ...] = (Outcome.ERROR, Outcome.FAIL, Outcome.XPASS, Outcome.DIVERGENT, Outcome.XFAIL,
                                    Outcome.UNOBSERVABLE, Outcome.PASS)
#: Outcomes a baseline records (a failure to expect next time).
BASELINED: tuple[Outcome, ...] = (Outcome.FAIL, Outcome.XFAIL)
