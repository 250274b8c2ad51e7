"""Typed view of the YAML catalogue: rules, revisions, model families and broker profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

#: The pipeline stages, in upstream order (contract.md §1). ``route`` and ``response`` are
#: applied by the gateway around ``normalize``; ``advise`` rules only ever produce advice.
STAGES: tuple[str, ...] = (
    "read", "scan", "parse", "pre", "messages", "typed", "limits", "post", "resync",
    "route", "response", "advise",
)
#: The stages ``normalize`` runs; the first three work on the raw bytes (kinds, levels and
#: severities are enumerated once, in cases/schema/rules.schema.json).
ENGINE_STAGES = STAGES[: STAGES.index("resync") + 1]
PRE_PARSE_STAGES = STAGES[: STAGES.index("parse") + 1]

TROUBLESHOOTING_URL = "https://github.com/gonka-ai/gonka/blob/main/docs/chat-api/troubleshooting.md"


@dataclass(frozen=True)
class Target:
    """One place a rule looks at, and what it does there."""

    path: str
    check: str | None = None
    transform: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    order: float = 0.0
    revisions: "RevisionRange | None" = None
    #: Gateway verbs, run around ``normalize`` rather than in it: ``route`` (may the request
    #: pass? — stage route) and ``respond`` (how the answer is shaped — stage response).
    route: str | None = None
    respond: str | None = None

    @property
    def verb(self) -> tuple[str, str]:
        """(kind, name): ``("check", …)``, ``("transform", …)``, ``("route", …)`` or
        ``("respond", …)``, as the verb registry keys it."""
        for kind in VERB_FIELDS:
            name = getattr(self, kind)
            if name:
                return (kind, name)
        return ("transform", "")


#: The match keys naming a verb, one per verb kind (``check`` and ``transform`` run in the
#: pipeline; ``route`` and ``respond`` in the gateway's engine calls).
VERB_FIELDS: tuple[str, ...] = ("check", "transform", "route", "respond")


@dataclass(frozen=True)
class RevisionRange:
    start: str | None = None  # inclusive revision id
    until: str | None = None  # inclusive revision id


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    kind: str
    level: str
    stage: str
    order: float
    targets: tuple[Target, ...]
    families: tuple[str, ...] | None  # None = every family
    except_families: tuple[str, ...]
    revisions: RevisionRange
    when: tuple[Mapping[str, Any], ...]
    status: int | None
    messages: Mapping[str, str]
    error_fields: Mapping[str, str]  # extra members of the error object (type, code), rarely any
    advice: str | None
    anchor: str | None
    docs: Mapping[str, Any]
    lint: Mapping[str, Any]
    live: tuple[Mapping[str, Any], ...]
    source_file: str
    line: int
    evidence: "Evidence | None" = None
    no_verb: str | None = None  # why no verb runs this match-less rule (wire format, documentation)

    @property
    def severity(self) -> str:
        return str(self.lint.get("severity") or default_severity(self.kind))


@dataclass(frozen=True)
class Alternative:
    """One side of a disputed rule: what upstream does on it, and how the engine follows it."""

    name: str
    says: str
    sources: tuple[str, ...]
    active: bool | None = None  # None: the rule's own applicability
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # rule id -> target options
    executable: bool = False  # False: documented, but the engine cannot follow it
    revisions: "RevisionRange | None" = None  # the rule's revision range on this side


@dataclass(frozen=True)
class Evidence:
    """Upstream docs, code or versions disagree about a rule (``evidence: disputed``)."""

    default: str
    alternatives: tuple[Alternative, ...]

    def alternative(self, name: str) -> Alternative:
        for alternative in self.alternatives:
            if alternative.name == name:
                return alternative
        raise KeyError(name)


def default_severity(kind: str) -> str:
    if kind == "reject":
        return "error"
    if kind in ("translate", "unwrap", "accept"):
        return "info"
    return "warning"


@dataclass(frozen=True)
class Revision:
    id: str
    title: str
    gateway: str
    default: bool
    default_model: str
    routes: tuple[str, ...]
    sources: tuple[str, ...]
    notes: str


@dataclass(frozen=True)
class DisputedWindow:
    tokens: int
    source: str
    note: str


@dataclass(frozen=True)
class ContextWindow:
    """The window the hosts serve a family with (vLLM's ``max_model_len``), with its sources."""

    tokens: int
    sources: tuple[str, ...]
    disputed: tuple[DisputedWindow, ...] = ()


@dataclass(frozen=True)
class Family:
    id: str
    pattern: str
    models: tuple[str, ...]
    title: str
    context_window: ContextWindow | None = None


@dataclass(frozen=True)
class Divergence:
    rule: str
    behaviour: str  # "reject" | "inactive" | "note"
    status: int | None
    message: str | None
    observed: str
    source: str
    note: str


@dataclass(frozen=True)
class BrokerProfile:
    id: str
    title: str
    base_urls: tuple[str, ...]
    model_ids: Mapping[str, str]  # family -> the broker's spelling
    case_sensitive_models: bool
    limits: Mapping[str, int]
    divergences: tuple[Divergence, ...]
    sources: tuple[str, ...]
    observed: str
