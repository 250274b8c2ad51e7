"""Named check and transform functions. Rules are data; these are the verbs they use.

A function takes ``(ctx, site)`` and yields :class:`Hit` (a problem) and/or :class:`Change`
(a rewrite it made). It is called once per JSON value the target's path selects; functions
registered with ``when_absent=True`` are also called when the path selects nothing.

Every verb declares the options its rules may give it under ``with:`` (:func:`options`): the
catalogue loader validates each target against that JSON Schema, so a misspelled option is a
``file:line`` error at load time rather than a rule that silently uses a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from .context import Context, Site
    from .types import Change, Hit

Fn = Callable[["Context", "Site"], "Iterable[Hit | Change]"]
#: A route or respond verb: ``(facts, options)`` -> its hits / its edit (``gateway_verbs.py``).
GatewayFn = Callable[[Any, Mapping[str, Any]], Any]

#: Shorthands for an option's type; anything else is given as a JSON Schema mapping.
_TYPES: dict[str, dict[str, Any]] = {
    "any": {},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "strings": {"type": "array", "items": {"type": "string"}},
    "string-lists": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    "integers": {"type": "object", "additionalProperties": {"type": "integer"}},  # a map of named numbers
}
#: ``delegate``: a hit code -> the rule id that reports it (checked against the rule ids too).
_DELEGATE = {"type": "object", "additionalProperties": {"type": "string"},
             "description": "hit code -> id of the rule that reports it"}



def options(required: Mapping[str, str | Mapping[str, Any]] | None = None,
            optional: Mapping[str, str | Mapping[str, Any]] | None = None, *, delegates: bool = False) -> dict[str, Any]:
    """The JSON Schema of a verb's ``with:`` options: named, typed, no other key allowed.

    A spec is a shorthand from ``_TYPES`` (``"integer"``, ``"strings"``, …) or a JSON Schema;
    ``delegates`` allows the ``delegate`` map (the verb's hits reported by other rules)."""
    properties: dict[str, Any] = {}
    for name, spec in {**(required or {}), **(optional or {})}.items():
        properties[name] = dict(_TYPES[spec]) if isinstance(spec, str) else dict(spec)
    if delegates:
        properties["delegate"] = _DELEGATE
    return {"type": "object", "properties": properties, "required": sorted(required or {}),
            "additionalProperties": False}


NO_OPTIONS = options()


@dataclass(frozen=True)
class Registered:
    fn: Any  # Fn for checks and transforms, GatewayFn for route and respond verbs
    when_absent: bool
    options: Mapping[str, Any]  # JSON Schema of the target's ``with:``
    doc: str = ""


CHECKS: dict[str, Registered] = {}
TRANSFORMS: dict[str, Registered] = {}
ROUTES: dict[str, Registered] = {}
RESPONDS: dict[str, Registered] = {}
VERB_KINDS: dict[str, dict[str, Registered]] = {"check": CHECKS, "transform": TRANSFORMS, "route": ROUTES,
                                                 "respond": RESPONDS}
#: The kinds the pipeline runs on a request body (``route``/``respond`` run in ``gateway.py``).
PIPELINE_KINDS = ("check", "transform")


def _registrar(kind: str, name: str, schema: Mapping[str, Any], when_absent: bool) -> Callable[[Any], Any]:
    table = VERB_KINDS[kind]

    def register(fn: Any) -> Any:
        if name in table:
            raise ValueError(f"{kind} {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        table[name] = Registered(fn, when_absent, schema, " ".join(doc.split()))
        return fn

    return register


def check(name: str, *, options: Mapping[str, Any], when_absent: bool = False) -> Callable[[Fn], Fn]:
    return _registrar("check", name, options, when_absent)


def transform(name: str, *, options: Mapping[str, Any], when_absent: bool = False) -> Callable[[Fn], Fn]:
    return _registrar("transform", name, options, when_absent)


def route(name: str, *, options: Mapping[str, Any]) -> Callable[[GatewayFn], GatewayFn]:
    """A route verb: ``fn(facts, options)`` yields a :class:`Hit` when the request may not pass."""
    return _registrar("route", name, options, False)


def respond(name: str, *, options: Mapping[str, Any]) -> Callable[[GatewayFn], GatewayFn]:
    """A response verb: ``fn(facts, options)`` returns the :class:`Edit` it makes to the answer."""
    return _registrar("respond", name, options, False)
