"""The engine's public result types. Every face of the product builds on these."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from ..goemu import json as gojson


class _Missing:
    """Marks an absent JSON value (distinct from ``null``)."""

    _instance: "_Missing | None" = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Limits:
    """Output-token limits the gateway applies (contract.md §4). The numbers come from the
    catalogue through ``pipeline.limits_for`` (no Python default: the catalogue states them)."""

    default_max_tokens: int
    max_tokens_cap: int


# --- what check and transform functions yield -------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A problem a check found. ``code`` picks the message template (and may delegate the
    hit to another rule through the target's ``delegate`` option); ``params`` fill it."""

    pointer: str
    code: str = "default"
    params: Mapping[str, Any] = field(default_factory=dict)


# Change and Event are built several times for every request; a frozen dataclass's generated
# __init__ pays one object.__setattr__ per field, these fill the instance dict at once (same
# fields, defaults, equality, hash and immutability).


@dataclass(frozen=True, init=False)
class Change:
    """A silent rewrite a transform made at ``pointer`` (``before``/``after`` may be MISSING)."""

    pointer: str
    before: Any = MISSING
    after: Any = MISSING
    detail: str = ""
    code: str = "default"

    def __init__(self, pointer: str, before: Any = MISSING, after: Any = MISSING, detail: str = "", code: str = "default") -> None:
        self.__dict__.update(pointer=pointer, before=before, after=after, detail=detail, code=code)


# --- what the engine returns -------------------------------------------------------------


@dataclass(frozen=True, init=False)
class Event:
    """A silent change the gateway makes: strip, coerce, clamp, default, translate, force, unwrap."""

    rule: str
    kind: str
    pointer: str
    detail: str
    before: Any = MISSING
    after: Any = MISSING

    def __init__(self, rule: str, kind: str, pointer: str, detail: str, before: Any = MISSING, after: Any = MISSING) -> None:
        self.__dict__.update(rule=rule, kind=kind, pointer=pointer, detail=detail, before=before, after=after)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "pointer": self.pointer, "detail": self.detail}
        if self.before is not MISSING:
            data["before"] = self.before
        if self.after is not MISSING:
            data["after"] = self.after
        return data


@dataclass(frozen=True)
class Rejection:
    """A request the gateway refuses: the status and exact message upstream sends."""

    rule: str
    status: int
    message: str
    pointer: str
    #: Members the error object carries besides ``message`` (the rule's ``type``/``code``), as
    #: (name, value) pairs; empty for almost every gateway error.
    error_fields: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "message": self.message, "pointer": self.pointer}


@dataclass(frozen=True)
class Advice:
    """Not a gateway action: a documented way this payload is likely to go wrong."""

    rule: str
    pointer: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "pointer": self.pointer, "message": self.message}


@dataclass(frozen=True)
class Accepted:
    body: dict[str, Any]
    events: tuple[Event, ...]
    model: str
    family: str | None
    revision: str
    outcome: Literal["accepted"] = "accepted"  # a Literal, so checking it narrows the union

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": "accepted", "model": self.model, "family": self.family, "revision": self.revision,
            "body": wire_json(self.body), "events": [e.to_json() for e in self.events],
        }


@dataclass(frozen=True)
class Rejected:
    status: int
    message: str
    rule: str
    pointer: str
    events: tuple[Event, ...]
    model: str
    family: str | None
    revision: str
    outcome: Literal["rejected"] = "rejected"

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": "rejected", "status": self.status, "message": self.message, "rule": self.rule,
            "pointer": self.pointer, "model": self.model, "family": self.family, "revision": self.revision,
        }


Result = Accepted | Rejected


def wire_json(body: dict[str, Any]) -> Any:
    """The forwarded body as upstream puts it on the wire (sorted keys, Go number text),
    decoded back into plain JSON values for printing."""
    return json.loads(gojson.dumps(body))


@dataclass(frozen=True)
class Analysis:
    """Everything the engine sees in one payload, past the first rejection (for the linter)."""

    result: Result
    rejections: tuple[Rejection, ...]
    events: tuple[Event, ...]
    advice: tuple[Advice, ...]
    body: dict[str, Any] | None  # the normalized body (as far as the pipeline got)
    parsed: bool  # False when read/scan/parse failed and no rule beyond them ran
    #: The top-level keys of the body as the client sent it (empty when it did not parse);
    #: the linter tells a client's field from one the gateway wrote with it.
    client_keys: frozenset[str] = frozenset()


# --- what the gateway tells the engine, and what the engine answers (engine/gateway.py) -------


@dataclass(frozen=True)
class RouteFacts:
    """What the gateway knows about a request at one point of its handling, as data: the route
    verbs decide from these (each verb ignores a request whose facts it was not given), and the
    rule's message says why. Defaults mean "not known here"."""

    model: str | None = None           # the routed model, after normalize
    served: tuple[str, ...] | None = None  # the model ids this gateway serves (None: not checked)
    access_mode: str | None = None     # the model's configured access mode (None: no entry)
    admin: bool = False                # the request carries the admin key
    key_accepted: bool = False         # it carries a client key the gateway accepts
    admin_path: bool = False           # an admin path (admin key configured)
    disabled: bool = False             # the gateway is in disabled (redirect) mode
    #: The limiter: called with the estimated input tokens once every earlier route rule passed;
    #: ``(code, current, limit)`` when it refuses (None: the request was admitted).
    admit: "Callable[[int], tuple[str, int, int] | None] | None" = None
    body_size: int = 0                 # bytes of the request body (the admission estimate)


@dataclass(frozen=True)
class ResponseFacts:
    """What the response verbs need to know about one answer."""

    client: "Callable[[str], Any]"     # the value the client sent at a pointer (MISSING: absent)
    id_parts: Mapping[str, Any]        # the response id's parts (e.g. escrow, inference)


@dataclass(frozen=True)
class Edit:
    """What a response verb does to the answer; the gateway's :class:`~.gateway.Responder`
    applies the edits of every response rule in force."""

    set_id: str | None = None                      # the top-level ``id`` of every body and chunk
    remove: frozenset[str] = frozenset()           # field names removed at any depth
    stream_remove: frozenset[str] = frozenset()    # top-level fields removed from streamed chunks;
                                                   # a chunk left without choices is dropped
    stream_end: str | None = None                  # the data of the event ending a successful stream
