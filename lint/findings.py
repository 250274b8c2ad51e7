"""Findings: the engine's analysis of one payload, seen from the client's side.

No rule is evaluated here. The engine reports every rejection, every silent change (event)
and every advisory with a rule id and a JSON pointer into the client's body; this module
decides which of them are *findings* — things about what the client sent — and gives each the
rule's catalogue metadata (severity, anchor, fix).

Which events are findings (see docs/lint.md, "What is a finding"):

* rejections and advice always are;
* an event is **ambient** when the same rule changes the same pointer for a minimal request
  (one user message) to the same model, revision and profile: a forced or defaulted value
  every request gets (``return_token_ids``, the default ``max_tokens``, the upstream stream…);
* an event is **client-related** when its pointer (or, below the top level, its parent) is
  in the client's body, or when it changes a value that existed and that no ambient event
  wrote (a value the gateway moved from the client's field is still the client's);
* an event is a finding when it is client-related, unless it is an ambient ``info`` event;
  and also when it is not ambient and at least a ``warning`` — a value the gateway writes
  *because of* what the client sent (Kimi's forced zero budget for ``max_tokens: 100``).

So a clean request gets no findings, while every one of these events stays visible with
``--show-normalized``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from gonka_conformance.catalogue.model import Rule
from gonka_conformance.common.pointers import split_pointer
from gonka_conformance.engine import analyse
from gonka_conformance.engine import unsupported_model
from gonka_conformance.engine.types import MISSING, Analysis, Event, Limits, Rejection

if TYPE_CHECKING:
    from gonka_conformance.catalogue.loader import Catalogue

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class FixInfo:
    """How to fix a finding: the catalogue's advice, and whether an automatic fix exists."""

    description: str | None  # the rule's docs.fix, for a human
    op: str | None  # the catalogue's lint.fix.op
    safe: bool | None
    available: bool  # an implementation of ``op`` exists and applies to this finding
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "op": self.op, "safe": self.safe,
                "available": self.available, "note": self.note}


@dataclass(frozen=True)
class Finding:
    """One problem in one payload. ``pointer`` is RFC 6901, into the client's own body."""

    rule: str
    severity: str  # error | warning | info
    message: str
    pointer: str
    title: str = ""
    kind: str = ""
    origin: str = "event"  # rejection | event | advice
    anchor: str | None = None
    status: int | None = None  # the HTTP status of a rejection
    fix: FixInfo | None = None
    file: str | None = None
    record: int | None = None  # JSONL line number or HAR entry index
    line: int | None = None
    column: int | None = None
    #: The rule's upstream evidence is disputed (``evidence: disputed``): the gateway may do otherwise.
    uncertain: bool = False
    # What the gateway changed, for the fixes that adopt it (not part of the JSON output).
    before: Any = field(default=MISSING, compare=False, repr=False)
    after: Any = field(default=MISSING, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.pointer

    def placed(self, file: str | None, record: int | None, line: int | None, column: int | None,
               fix: FixInfo | None) -> "Finding":
        """This finding with its place and fix (``dataclasses.replace`` is slow per finding)."""
        return Finding(self.rule, self.severity, self.message, self.pointer, self.title, self.kind, self.origin,
                       self.anchor, self.status, fix, file, record, line, column, self.uncertain, self.before, self.after)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file, "record": self.record, "rule": self.rule, "title": self.title,
            "anchor": self.anchor, "severity": self.severity, "kind": self.kind, "origin": self.origin,
            "status": self.status, "pointer": self.pointer, "line": self.line, "column": self.column,
            "message": self.message, "fix": self.fix.to_json() if self.fix else None, "uncertain": self.uncertain,
        }


# --- ambient events -----------------------------------------------------------------------

MINIMAL_MESSAGES = [{"role": "user", "content": "hi"}]


#: Model ids longer than this are not remembered by ``ambient``'s cache, which keeps its keys: a
#: log of distinct megabyte-long ids would otherwise stay in memory (the engine's routing caches
#: bound theirs the same way).
_REMEMBERED_ID = 256


def ambient(catalogue: "Catalogue", model: str | None, routed: str | None, revision: str | None,
            profile: str | None, limits: Limits | None, admin: bool) -> frozenset[tuple[str, str]]:
    """(rule, pointer) of every event a minimal request to the same target gets."""
    long = any(isinstance(m, str) and len(m) > _REMEMBERED_ID for m in (model, routed))
    return (_ambient if long else _remembered_ambient)(catalogue, model, routed, revision, profile, limits, admin)


def _ambient(catalogue: "Catalogue", model: str | None, routed: str | None, revision: str | None,
             profile: str | None, limits: Limits | None, admin: bool) -> frozenset[tuple[str, str]]:
    body: dict[str, Any] = {"messages": MINIMAL_MESSAGES}
    if model is not None:
        body["model"] = model
    analysis = analyse(body, model=routed, revision=revision, limits=limits, admin=admin,
                       profile=profile, catalogue=catalogue)
    return frozenset((event.rule, event.pointer) for event in analysis.events)


_remembered_ambient = lru_cache(maxsize=256)(_ambient)


# --- mapping -------------------------------------------------------------------------------


def _rule(catalogue: "Catalogue", rule_id: str) -> Rule | None:
    return catalogue.by_id.get(rule_id)


def _meta(rule: Rule | None) -> dict[str, Any]:
    if rule is None:
        return {"title": "", "kind": "", "anchor": None}
    return {"title": rule.title, "kind": rule.kind, "anchor": rule.anchor, "uncertain": rule.evidence is not None}


def _never_error(severity: str) -> str:
    return "warning" if severity == "error" else severity  # only a rejection is an error


def event_severity(rule: Rule | None) -> str:
    return _never_error(rule.severity if rule else "warning")


def advice_severity(rule: Rule | None) -> str:
    return _never_error(rule.severity if rule else "info")


def map_analysis(
    analysis: Analysis,
    catalogue: "Catalogue",
    ambient_events: frozenset[tuple[str, str]],
    client_has: Callable[[str], bool],
    profile: str | None = None,
) -> list[Finding]:
    """The findings of one analysis (unlocated, without fix availability)."""
    findings: list[Finding] = []
    for rejection in (*analysis.rejections, *_routing(analysis, catalogue, profile)):
        rule = _rule(catalogue, rejection.rule)
        findings.append(Finding(rejection.rule, "error", rejection.message, rejection.pointer,
                                origin="rejection", status=rejection.status, **_meta(rule)))
    written: set[str] = set()  # pointers an ambient (gateway-side) event wrote
    for event in analysis.events:
        rule = _rule(catalogue, event.rule)
        severity = event_severity(rule)
        is_ambient = (event.rule, event.pointer) in ambient_events
        if is_ambient and severity == "info":
            keep = False
        elif not is_ambient and severity != "info":
            keep = True  # a value the gateway wrote because of what the client sent
        else:
            keep = _client_related(event, client_has, written, analysis.client_keys)
            if not keep and not is_ambient and rule is not None and rule.kind in TRANSLATING_KINDS:
                # The client's own field was moved or translated: one finding per rule is enough.
                keep = not any(f.rule == event.rule for f in findings)
        if keep:
            findings.append(Finding(event.rule, severity, event.detail, event.pointer, origin="event",
                                    before=event.before, after=event.after, **_meta(rule)))
        if is_ambient and event.after is not MISSING:
            written.add(event.pointer)  # a later change to it is the gateway's own business
    for advice in analysis.advice:
        rule = _rule(catalogue, advice.rule)
        findings.append(Finding(advice.rule, advice_severity(rule), advice.message,
                                advice.pointer, origin="advice", **_meta(rule)))
    return _dedupe(findings)


#: Rule kinds that move or rename what the client sent: never ambient noise when not ambient.
TRANSLATING_KINDS = ("translate", "unwrap")


def _routing(analysis: Analysis, catalogue: "Catalogue", profile: str | None) -> tuple[Rejection, ...]:
    """The gateway's ``unsupported model`` 400, which ``analyse`` does not route: routing runs
    after validation upstream, so it is reported after the body's own rejections."""
    if not analysis.parsed:
        return ()
    result = analysis.result
    pointer = "/model" if "model" in analysis.client_keys else ""
    rejection = unsupported_model(catalogue, result.model, result.revision, profile, pointer)
    return (rejection,) if rejection is not None else ()


def _client_related(event: Event, client_has: Callable[[str], bool], written: set[str],
                    client_keys: frozenset[str]) -> bool:
    pointer = event.pointer
    if event.before is not MISSING and not any(_within(pointer, w) for w in written):
        return True  # the gateway changed a value it did not write itself
    try:
        tokens = split_pointer(pointer)
    except ValueError:
        return False
    if not tokens:
        return True
    if tokens[0] not in client_keys:
        return False  # cheap and exact: the engine saw the client's top-level keys
    if len(tokens) <= 2:
        return True  # the field itself, or a member of an object/array the client sent
    return client_has(pointer) or client_has(pointer[: pointer.rfind("/")])


def _within(pointer: str, ancestor: str) -> bool:
    return pointer == ancestor or pointer.startswith(ancestor + "/")


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for finding in findings:
        key = (finding.rule, finding.pointer, finding.message)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def sort_key(finding: Finding) -> tuple[Any, ...]:
    return (finding.file or "", finding.record or 0, finding.line or 0, finding.column or 0,
            SEVERITY_RANK.get(finding.severity, 3), finding.rule, finding.pointer)
