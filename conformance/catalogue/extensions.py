"""Checks a higher layer adds to catalogue loading.

The catalogue names verbs (``match.check``, ``match.transform``); the engine defines them. So
that the catalogue never imports the engine, the engine registers a rule check here when it is
imported (``engine/__init__.py``), and the loader runs every registered check on every rule.
``import gonka_conformance`` imports the engine, so the checks are in place before any load.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

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


#: (kind, verb name) -> the JSON Schema of its ``with:`` options, from the engine's registry.
OptionSchemas = Callable[[], Mapping[tuple[str, str], Any]]

_OPTION_SCHEMAS: list[OptionSchemas] = []


def set_option_schemas(provider: OptionSchemas) -> None:
    """The engine hands over its verbs' option schemas (one provider; the last one wins)."""
    _OPTION_SCHEMAS[:] = [provider]


def option_schemas() -> Mapping[tuple[str, str], Any]:
    """Every verb's option schema; empty until the engine is imported (it always is, through
    ``import gonka_conformance``)."""
    return _OPTION_SCHEMAS[0]() if _OPTION_SCHEMAS else {}
