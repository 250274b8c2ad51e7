"""Finding a rule by what it does: the rules that use a verb, and a verb's option value.

Faces that need a number the catalogue states (the body limit, the output-token defaults, the
canonical tool-call id's pattern) ask by verb and option rather than by rule id, so that no
face names a rule: a rule id is an anchor for people, a verb is what the code knows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..catalogue.loader import Catalogue
    from ..catalogue.model import Rule


class CatalogueOptionError(LookupError):
    """The catalogue lacks an option a face reads (or states it twice, differently): a catalogue
    bug, said loudly rather than replaced by a default."""


def verb_rules(catalogue: "Catalogue", kind: str, name: str) -> tuple["Rule", ...]:
    """The rules with a target naming verb ``name`` of ``kind`` (check, transform, route,
    respond), in catalogue order."""
    return tuple(rule for rule in catalogue.rules if any(t.verb == (kind, name) for t in rule.targets))


def verb_option(catalogue: "Catalogue", kind: str, name: str, option: str) -> Any:
    """The value of ``option`` in the targets that use verb ``name``: exactly one value across
    the catalogue, or a :class:`CatalogueOptionError`."""
    values = [t.options[option] for rule in verb_rules(catalogue, kind, name) for t in rule.targets
              if t.verb == (kind, name) and option in t.options]
    if not values:
        raise CatalogueOptionError(f"invalid catalogue: no rule's {kind} {name!r} has option {option!r}")
    if any(value != values[0] for value in values[1:]):
        raise CatalogueOptionError(f"invalid catalogue: the rules using {kind} {name!r} disagree on option {option!r}")
    return values[0]


def int_verb_option(catalogue: "Catalogue", kind: str, name: str, option: str) -> int:
    value = verb_option(catalogue, kind, name, option)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CatalogueOptionError(f"invalid catalogue: {kind} {name!r}: option {option!r} must be an integer")
    return value


def tool_call_id_format(catalogue: "Catalogue") -> tuple[str, str]:
    """The canonical tool-call id's ``pattern`` and ``template`` (``functions.{name}:{index}``),
    as the advice check that reports other ids states them (for the linter's rewrite fix)."""
    verb = ("check", "canonical-tool-call-ids")
    return str(verb_option(catalogue, *verb, "pattern")), str(verb_option(catalogue, *verb, "template"))
