"""The built-in verbs: importing this module registers every check and transform with the
registry, and ``unknown_verbs`` tells the catalogue loader which names a rule may use."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ..catalogue.model import Rule
from . import (  # noqa: F401  (imported for their registrations)
    advice, check_basic, check_messages, check_schemas, gateway_verbs, transform_basic, transform_messages,
    transform_schemas, transform_tokens,
)
from .registry import VERB_KINDS

#: The stage a gateway verb belongs to: the gateway's engine calls run one stage's rules.
_VERB_STAGES = {"route": "route", "respond": "response"}


def unknown_verbs(rule: Rule) -> Iterator[str]:
    for target in rule.targets:
        kind, name = target.verb
        if name not in VERB_KINDS[kind]:
            yield f"unknown {kind} {name!r}"
        stage = _VERB_STAGES.get(kind)
        if (stage or rule.stage) != rule.stage or (stage is None and rule.stage in _VERB_STAGES.values()):
            yield f"a {kind} verb cannot run in stage {rule.stage!r} (route verbs: stage route; respond verbs: stage response)"


def option_schemas() -> dict[tuple[str, str], Mapping[str, Any]]:
    """(kind, verb name) -> the JSON Schema of its options, for every built-in verb: what the
    catalogue loader validates ``with:`` against."""
    return {(kind, name): entry.options for kind, table in VERB_KINDS.items() for name, entry in table.items()}
