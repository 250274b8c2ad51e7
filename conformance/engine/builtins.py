"""The built-in verbs: importing this module registers every check and transform with the
registry, and ``unknown_verbs`` tells the catalogue loader which names a rule may use."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ..catalogue.model import Rule
from . import (  # noqa: F401  (imported for their registrations)
    advice, check_basic, check_messages, check_schemas, transform_basic, transform_messages, transform_schemas,
    transform_tokens,
)
from .registry import CHECKS, TRANSFORMS, VERB_KINDS


def unknown_verbs(rule: Rule) -> Iterator[str]:
    for target in rule.targets:
        if target.check and target.check not in CHECKS:
            yield f"unknown check {target.check!r}"
        if target.transform and target.transform not in TRANSFORMS:
            yield f"unknown transform {target.transform!r}"


def option_schemas() -> dict[tuple[str, str], Mapping[str, Any]]:
    """(kind, verb name) -> the JSON Schema of its options, for every built-in verb: what the
    catalogue loader validates ``with:`` against."""
    return {(kind, name): entry.options for kind, table in VERB_KINDS.items() for name, entry in table.items()}
