"""Disputed rules in the live suite.

A rule whose upstream evidence is disputed (``evidence: disputed`` in the catalogue) is judged
against the engine's default side first; an observation that matches another documented side
the engine can follow is a ``pass`` too. Either way the result carries a note
``disputed: observed <side>`` so every report shows which side the target took.
"""

from __future__ import annotations

from typing import Any

from ..catalogue.loader import Catalogue
from ..catalogue.model import Alternative, Rule
from .cases import LiveCase, LiveRequest
from .judge import expect, judge
from .observe import Observation

PREFIX = "disputed: observed "


def note(alternative: Alternative) -> str:
    return f"{PREFIX}{alternative.name} ({'; '.join(alternative.sources)})"


def default_note(rule: Rule) -> str | None:
    """The note for an observation that matched the engine's (default) side, if disputed."""
    if rule.evidence is None:
        return None
    return note(rule.evidence.alternative(rule.evidence.default))


def other_side(
    catalogue: Catalogue, case: LiveCase, request: LiveRequest, model: str, revision: str,
    obs: Observation, forwarded: Any, profile: str | None = None,
) -> str | None:
    """The note of the first other side of the case's disputed rule that explains the observation."""
    rule = case.rule
    if rule.evidence is None:
        return None
    for alternative in rule.evidence.alternatives:
        if alternative.name == rule.evidence.default or not alternative.executable:
            continue
        expectation = expect(catalogue, case, request, model, revision, profile=profile,
                             evidence={rule.id: alternative.name})
        if not judge(case, expectation, obs, forwarded):
            return note(alternative)
    return None


def side_of(note_text: str | None) -> str | None:
    """The side a note names (for the fingerprint), or None for any other note."""
    if not note_text or not note_text.startswith(PREFIX):
        return None
    return note_text[len(PREFIX):].split(" ", 1)[0]
