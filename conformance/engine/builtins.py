"""The built-in verbs: importing this module registers every check and transform with the
registry, and ``unknown_verbs`` tells the catalogue loader which names a rule may use."""

from __future__ import annotations

from typing import Iterator

from ..catalogue.model import Rule
from . import (  # noqa: F401  (imported for their registrations)
    advice, check_basic, check_messages, check_schemas, transform_basic, transform_messages, transform_schemas,
    transform_tokens,
)
from .registry import CHECKS, TRANSFORMS


def unknown_verbs(rule: Rule) -> Iterator[str]:
    for target in rule.targets:
        if target.check and target.check not in CHECKS:
            yield f"unknown check {target.check!r}"
        if target.transform and target.transform not in TRANSFORMS:
            yield f"unknown transform {target.transform!r}"
