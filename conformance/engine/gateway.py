"""The rules the gateway applies around ``normalize``: the ``route`` stage (may this request
pass?) and the ``response`` stage (how is the answer shaped?), run through their verbs
(``gateway_verbs.py``) like every other rule.

The gateway passes in what it knows as data (:class:`~.types.RouteFacts`, the accepted request,
the response id's parts); which rules are in force (revision, family, the profile's
divergences), their order, the decision and the message all come from the catalogue. The
gateway only renders the :class:`~.types.Rejection` or applies the :class:`Responder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

from ..catalogue.loader import Catalogue
from ..catalogue.model import Rule, Target
from .gateway_verbs import OPEN_MODE
from .lookup import CatalogueOptionError, int_verb_option, verb_option, verb_rules
from .messages import render
from .pipeline import plan
from .registry import VERB_KINDS
from .types import MISSING, Accepted, Edit, Rejection, ResponseFacts, RouteFacts

ROUTE_STAGE = ("route",)
RESPONSE_STAGE = ("response",)
_EXTRA_BODY = "/extra_body/"


# --- rules in force -----------------------------------------------------------------------


@lru_cache(maxsize=256)
def _steps(catalogue: Catalogue, revision: str, family: str | None, profile: str | None,
           stages: tuple[str, ...], kind: str) -> tuple[tuple[Rule, Target], ...]:
    """The (rule, target) pairs of ``kind`` verbs in ``stages`` that apply, in stage order
    (the engine's own applicability: revision, family, followed sides, the profile's inactive
    divergences)."""
    in_force = plan(catalogue, revision, family, profile, stages)
    found = [(target.order, seq, rule, target) for seq, rule in enumerate(in_force.rules.values())
             if rule.stage in stages and in_force.applicable.get(rule.id, False)
             for target in rule.targets if target.verb[0] == kind]
    found.sort(key=lambda item: item[:2])
    return tuple((rule, target) for *_, rule, target in found)


def _rejection(rule: Rule, pointer: str, code: str, params: Mapping[str, Any]) -> Rejection:
    template = rule.messages.get(code) or rule.messages["default"]
    return Rejection(rule.id, rule.status or 400, render(template, params), pointer, tuple(rule.error_fields.items()))


# --- route --------------------------------------------------------------------------------


def route(catalogue: Catalogue, revision: str, profile: str | None, facts: RouteFacts,
          family: str | None = None) -> Rejection | None:
    """The first route rule (in catalogue order) whose verb refuses the request, as the gateway
    answers it; None when the request may pass. Verbs ignore facts they were not given, so the
    gateway calls this at each point of its handling with what it knows there."""
    for rule, target in _steps(catalogue, revision, family, profile, ROUTE_STAGE, "route"):
        for hit in VERB_KINDS["route"][target.route or ""].fn(facts, target.options):
            return _rejection(rule, hit.pointer or target.path, hit.code, hit.params)
    return None


def body_limit(catalogue: Catalogue) -> int:
    """``MaxChatRequestBodySize`` as the catalogue states it (the ``body-size`` check's limit)."""
    return int_verb_option(catalogue, "check", "body-size", "limit")


def body_too_large(catalogue: Catalogue) -> Rejection:
    """The answer to a body over :func:`body_limit`, for a face that stops reading at the limit."""
    (rule, *_) = verb_rules(catalogue, "check", "body-size")
    return _rejection(rule, "", "default", {})


# --- access modes -------------------------------------------------------------------------

_ACCESS_VERB = ("route", "access-mode")


@dataclass(frozen=True)
class AccessModes:
    """Upstream's ``access_mode`` config vocabulary as the ``access-mode`` rules state it: each
    spelling and the mode it means, and the mode of a spelling none names."""

    spellings: Mapping[str, str]
    unknown: str

    def resolve(self, spelling: object) -> str:
        """The mode a configured value means (trimmed, lower-cased, as upstream reads it)."""
        return self.spellings.get(str(spelling).strip().lower(), self.unknown)


@lru_cache(maxsize=8)
def access_modes(catalogue: Catalogue) -> AccessModes:
    """The :class:`AccessModes` of the catalogue's ``access-mode`` targets: ``mode`` and its
    ``aliases``, ``open`` and the shared ``open_aliases``; ``unknown`` from the target that
    claims it (none: an unknown mode falls open). A spelling meaning two modes is a catalogue bug."""
    spellings: dict[str, str] = {OPEN_MODE: OPEN_MODE}
    unknown: set[str] = set()
    targets = [t for rule in verb_rules(catalogue, *_ACCESS_VERB) for t in rule.targets if t.verb == _ACCESS_VERB]
    opens = verb_option(catalogue, *_ACCESS_VERB, "open_aliases")
    pairs = [(str(alias), OPEN_MODE) for alias in opens]
    for target in targets:
        mode = str(target.options["mode"])
        pairs += [(mode, mode)] + [(str(alias), mode) for alias in target.options.get("aliases") or ()]
        if target.options.get("unknown"):
            unknown.add(mode)
    for spelling, mode in pairs:
        if spellings.setdefault(spelling, mode) != mode:
            raise CatalogueOptionError(f"invalid catalogue: access mode spelling {spelling!r} means both {spellings[spelling]!r} and {mode!r}")
    if len(unknown) > 1:
        raise CatalogueOptionError(f"invalid catalogue: several access modes claim unknown spellings: {sorted(unknown)}")
    return AccessModes(MappingProxyType(spellings), unknown.pop() if unknown else OPEN_MODE)


# --- the client's intent ------------------------------------------------------------------


def client_value(accepted: Accepted, pointer: str) -> Any:
    """A field as the client sent it (after ``extra_body`` unwrapping): the forwarded value with
    the engine's later changes to its top-level field undone (the first change holds what the
    client had; unwrap events only moved what the client sent), then ``pointer``'s deeper
    segments. MISSING when absent."""
    segments = pointer.split("/")[1:]
    if not segments:
        return MISSING
    name = segments[0]
    value = accepted.body.get(name, MISSING)
    for event in accepted.events:
        at = event.pointer
        field = at[len(_EXTRA_BODY):] if at.startswith(_EXTRA_BODY) else at[1:]
        if field == name and event.kind != "unwrap":
            value = event.before
            break
    for segment in segments[1:]:
        value = value.get(segment, MISSING) if isinstance(value, dict) else MISSING
    return value


@dataclass(frozen=True)
class ClientIntent:
    """What the client asked for, as the gateway remembers it (contract.md §1 step 10, §6)."""

    stream: bool
    include_usage: bool
    logprobs: bool


def client_intent(accepted: Accepted) -> ClientIntent:
    """Stream, streamed usage and logprobs as the client asked (the newest revision forces the
    upstream to stream with usage and logprobs on; the events keep what the client had)."""
    stream = client_value(accepted, "/stream") is True
    top = client_value(accepted, "/top_logprobs")
    return ClientIntent(stream, stream and client_value(accepted, "/stream_options/include_usage") is True,
                        client_value(accepted, "/logprobs") is True or (isinstance(top, int) and not isinstance(top, bool) and top > 0))


# --- respond ------------------------------------------------------------------------------


class Responder:
    """The response rules in force for one answer, merged into one edit and applied to each
    body or chunk the host produces."""

    def __init__(self, edits: list[Edit]) -> None:
        ids = [edit.set_id for edit in edits if edit.set_id is not None]
        #: The id every body and chunk gets (None: the host's own id stays).
        self.response_id: str | None = ids[-1] if ids else None
        #: Field names removed at any depth: the host need not render them at all.
        self.removes: frozenset[str] = frozenset().union(*(edit.remove for edit in edits))
        self.stream_removes: frozenset[str] = frozenset().union(*(edit.stream_remove for edit in edits))
        ends = [edit.stream_end for edit in edits if edit.stream_end is not None]
        #: The data of the event a successful stream ends with (None: the stream just ends).
        self.stream_end: str | None = ends[-1] if ends else None

    def shape(self, obj: dict[str, Any], streamed: bool) -> dict[str, Any] | None:
        """``obj`` edited in place; None when a streamed chunk is to be dropped."""
        if self.response_id is not None:
            obj["id"] = self.response_id
        if self.removes:
            _strip(obj, self.removes)
        if streamed and self.stream_removes:
            for name in self.stream_removes:
                obj.pop(name, None)
            if not obj.get("choices"):
                return None  # a chunk left without choices is dropped
        return obj


def responder(catalogue: Catalogue, revision: str, profile: str | None, accepted: Accepted,
              id_parts: Mapping[str, Any]) -> Responder:
    """The :class:`Responder` for the answer to ``accepted`` (its family picks the rules in
    force; what the client sent decides the ``unless_true``/``unless_positive`` options)."""
    values: dict[str, Any] = {}  # several verbs may ask for the same field

    def client(pointer: str) -> Any:
        if pointer not in values:
            values[pointer] = client_value(accepted, pointer)
        return values[pointer]

    facts = ResponseFacts(client, id_parts)
    return Responder([VERB_KINDS["respond"][target.respond or ""].fn(facts, target.options)
                      for _rule, target in _steps(catalogue, revision, accepted.family, profile, RESPONSE_STAGE, "respond")])


def _strip(node: Any, names: frozenset[str]) -> None:
    if isinstance(node, dict):
        for name in names & node.keys():
            del node[name]
        for value in node.values():
            if isinstance(value, (dict, list)):
                _strip(value, names)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                _strip(value, names)
