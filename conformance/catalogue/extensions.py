"""Checks a higher layer adds to catalogue loading.

The catalogue names verbs (``match.check``, ``match.transform``); the engine defines them. So
that the catalogue never imports the engine, the engine registers a rule check here when it is
imported (``engine/__init__.py``), and the loader runs every registered check on every rule.
``import gonka_conformance`` imports the engine, so the checks are in place before any load.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .model import Rule

#: Takes a rule, yields its problems (the loader prefixes ``file:line: rule-id:``).
RuleCheck = Callable[[Rule], Iterable[str]]

_RULE_CHECKS: list[RuleCheck] = []


def add_rule_check(check: RuleCheck) -> None:
    """Run ``check`` on every rule the loader validates (idempotent)."""
    if check not in _RULE_CHECKS:
        _RULE_CHECKS.append(check)


def rule_checks() -> tuple[RuleCheck, ...]:
    return tuple(_RULE_CHECKS)
