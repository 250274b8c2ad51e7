"""The rule engine: runs the catalogue over one request in upstream pipeline order.

``normalize`` stops at the first rejection, as the gateway does. ``analyse`` keeps going past
rejections and also runs the advice rules, for the linter.
"""

from __future__ import annotations

import copy
import json
import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from ..goemu import json as gojson
from ..catalogue.loader import Catalogue, load_catalogue
from ..catalogue.model import ENGINE_STAGES, PRE_PARSE_STAGES, STAGES, Rule, Target
from . import builtins, registry  # noqa: F401  (builtins: the verbs are registered before any plan)
from .messages import EngineError, render  # noqa: F401  (re-exported: the faces import them from here)
from .context import Context, Site, parent_of, resolve, resolve_plain, split_pointer
from .lookup import int_verb_option
from .routing import family_of  # noqa: F401  (re-exported)
from .types import (
    MISSING, Accepted, Advice, Analysis, Change, Event, Hit, Limits, Rejected, Rejection, Result,
)


# --- planning -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    rule: Rule
    target: Target
    fn: registry.Registered
    is_check: bool
    #: The top-level key the target needs (None when it may act on an absent value or walks a
    #: wildcard): a body without it cannot match, so the step is skipped without resolving.
    head: str | None = None
    #: The path's tokens when it has no wildcard (walked directly, no parsing per request).
    tokens: tuple[str, ...] | None = None
    fn_call: Any = None   # ``fn.fn``, looked up once per plan rather than per request
    #: Called with one MISSING site when the path selects nothing (``when_absent``, no wildcard).
    absent_site: bool = False


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    applicable: Mapping[str, bool]
    rules: Mapping[str, Rule]


def _in_range(catalogue: Catalogue, index: int, start: str | None, until: str | None) -> bool:
    if start is not None and index < catalogue.revision_index(start):
        return False
    if until is not None and index > catalogue.revision_index(until):
        return False
    return True


def rule_applies(catalogue: Catalogue, rule: Rule, revision_id: str, family: str | None) -> bool:
    index = catalogue.revision_index(revision_id)
    if not _in_range(catalogue, index, rule.revisions.start, rule.revisions.until):
        return False
    if rule.families is not None and "all" not in rule.families and family not in rule.families:
        return False
    return family not in rule.except_families


def sides_of(catalogue: Catalogue, evidence: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """The disputed rules' sides to follow instead of their defaults, checked and hashable."""
    sides = []
    for rule_id, name in sorted((evidence or {}).items()):
        rule = catalogue.by_id.get(rule_id)
        if rule is None or rule.evidence is None:
            raise ValueError(f"{rule_id!r} is not a disputed rule")
        alternative = rule.evidence.alternative(name) if name in {a.name for a in rule.evidence.alternatives} else None
        if alternative is None or not (alternative.executable or name == rule.evidence.default):
            raise ValueError(f"{rule_id}: {name!r} is not a side the engine can follow")
        sides.append((rule_id, name))
    return tuple(sides)


@dataclass(frozen=True)
class _Followed:
    """What the followed sides of disputed rules change in a plan."""

    off: frozenset[str]
    options: Mapping[str, Mapping[str, Any]]  # rule id -> target options merged in
    ranges: Mapping[str, Any]  # rule id -> its revision range on the followed side


def _followed(catalogue: Catalogue, sides: tuple[tuple[str, str], ...]) -> _Followed:
    chosen = dict(sides)
    off: set[str] = set()
    options: dict[str, dict[str, Any]] = {}
    ranges: dict[str, Any] = {}
    for rule in catalogue.rules:
        if rule.evidence is None:
            continue
        side = rule.evidence.alternative(chosen.get(rule.id, rule.evidence.default))
        if side.active is False:
            off.add(rule.id)
        if side.revisions is not None:
            ranges[rule.id] = side.revisions
        for rule_id, values in side.options.items():
            options.setdefault(rule_id, {}).update(values)
    return _Followed(frozenset(off), options, ranges)


@lru_cache(maxsize=256)
def _plan(catalogue: Catalogue, revision_id: str, family: str | None, profile_id: str | None, stages: tuple[str, ...],
          sides: tuple[tuple[str, str], ...] = ()) -> Plan:
    profile = catalogue.broker(profile_id) if profile_id else None
    followed = _followed(catalogue, sides)
    rules: dict[str, Rule] = {}
    applicable: dict[str, bool] = {}
    for rule in catalogue.rules:
        if rule.id in followed.ranges:
            rule = dataclasses.replace(rule, revisions=followed.ranges[rule.id])
        ok = rule_applies(catalogue, rule, revision_id, family) and rule.id not in followed.off
        if rule.id in followed.options:
            rule = dataclasses.replace(rule, targets=tuple(
                dataclasses.replace(t, options={**t.options, **followed.options[rule.id]}) for t in rule.targets))
        for divergence in profile.divergences if profile else ():
            if divergence.rule != rule.id:
                continue
            if divergence.behaviour == "inactive":
                ok = False
            elif divergence.behaviour == "reject" and ok:
                rule = _as_reject(rule, divergence.status or 400, divergence.message or "")
        rules[rule.id] = rule
        applicable[rule.id] = ok
    index = catalogue.revision_index(revision_id)
    steps: list[tuple[int, float, int, Step]] = []
    for seq, rule in enumerate(rules.values()):
        if not applicable[rule.id] or rule.stage not in stages:
            continue
        for target in rule.targets:
            if target.verb[0] not in registry.PIPELINE_KINDS:
                continue  # a gateway verb: run by gateway.route / gateway.responder, not on the body
            if target.revisions and not _in_range(catalogue, index, target.revisions.start, target.revisions.until):
                continue
            fn = registry.CHECKS[target.check] if target.check else registry.TRANSFORMS[target.transform or ""]
            tokens = split_pointer(target.path)
            head = tokens[0] if tokens and tokens[0] != "*" and not fn.when_absent else None
            plain = None if "*" in tokens else tuple(tokens)
            steps.append((STAGES.index(rule.stage), target.order, seq,
                          Step(rule, target, fn, bool(target.check), head, plain, fn.fn,
                               fn.when_absent and "*" not in target.path)))
    steps.sort(key=lambda item: item[:3])
    return Plan(tuple(step for *_, step in steps), applicable, rules)


def _as_reject(rule: Rule, status: int, message: str) -> Rule:
    """A broker that rejects what upstream strips: the same paths, answered with its 400."""
    targets = tuple(dataclasses.replace(t, check="present", transform=None, options={}) for t in rule.targets)
    return dataclasses.replace(rule, kind="reject", targets=targets, status=status, messages={"default": message})


# --- running ------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised internally to end the pipeline at the first rejection (normalize mode)."""


@dataclass
class _Run:
    ctx: Context
    rules: Mapping[str, Rule]
    events: list[Event]
    rejections: list[Rejection]
    advice: list[Advice]

    def execute(self, step: Step) -> None:
        rule, target, ctx = step.rule, step.target, self.ctx
        body = ctx.body
        if rule.when and not all(_condition_holds(body, c) for c in rule.when):
            return
        if body is None:
            sites: Any = ()
        elif step.tokens is not None:
            sites = resolve_plain(body, step.tokens, target.path)
        else:
            sites = list(resolve(body, target.path))
        if not sites and step.absent_site:
            parent, key = parent_of(body, target.path)
            sites = ((target.path, parent, key, MISSING),)
        for pointer, parent, key, value in sites:
            site = Site(pointer, parent, key, value, target.options, rule)
            try:
                # Record each item as it is yielded, so pointers are translated with the state
                # the function had when it made the change (messages may be dropped later).
                for item in step.fn_call(ctx, site):
                    self.record(rule, target, item)
            except _Stop:
                raise
            except EngineError:
                raise
            except Exception as exc:  # a bug in a rule function: name the rule, never crash silently
                raise EngineError(f"rule {rule.id} ({target.check or target.transform}) failed at {pointer or '/'}: {exc!r}") from exc

    def record(self, rule: Rule, target: Target, item: Hit | Change) -> None:
        delegate = (target.options.get("delegate") or {}).get(item.code)
        owner = self.rules[delegate] if delegate else rule
        if delegate and not self.ctx.applies(delegate):
            return  # the delegated behaviour is not in force here (other revision or family)
        pointer = self.ctx.client_pointer(item.pointer)
        if isinstance(item, Change):
            self.events.append(Event(owner.id, owner.kind, pointer, item.detail, item.before, item.after))
            return
        if owner.kind == "advise" or owner.stage == "advise":
            template = owner.advice or owner.messages.get(item.code) or owner.messages.get("default", "")
            self.advice.append(Advice(owner.id, pointer, render(template, item.params)))
            return
        message = owner.messages.get(item.code) or owner.messages.get("default")
        if message is None:
            raise EngineError(f"rule {owner.id} has no message for code {item.code!r}")
        rejection = Rejection(owner.id, owner.status or 400, render(message, item.params), pointer)
        self.rejections.append(rejection)
        if not self.ctx.collect or owner.stage in PRE_PARSE_STAGES:
            raise _Stop()


def _condition_holds(body: dict[str, Any], condition: Mapping[str, Any]) -> bool:
    value = MISSING
    for _p, _parent, _k, found in resolve(body, condition["path"]):
        value = found
        break
    if "present" in condition and (value is not MISSING) != condition["present"]:
        return False
    if "equals" in condition and (value is MISSING or value != condition["equals"] or type(value) is not type(condition["equals"])):
        return False
    if "not_equals" in condition and value is not MISSING and value == condition["not_equals"] and type(value) is type(condition["not_equals"]):
        return False
    return True


def _json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists and immutable scalars): copy.deepcopy's
    result, several times faster on the tool schemas the linter copies on every request
    (exact type tests: one set lookup per value instead of isinstance chains)."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _JSON_SCALARS else _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _JSON_SCALARS else _json_copy(v) for v in value]
    return value if kind in _JSON_SCALARS else copy.deepcopy(value)


_JSON_SCALARS = frozenset((str, int, float, bool, type(None), gojson.Num))


def resolve_model(body: Any, routed_model: str) -> str:
    """Upstream routing: a non-blank string ``model`` wins, else the routed/default model."""
    if isinstance(body, dict):
        model = body.get("model")
        if isinstance(model, str) and gojson.go_trim_space(model):
            return gojson.go_trim_space(model)
    return routed_model


def run(
    source: bytes | str | Mapping[str, Any],
    *,
    model: str | None = None,
    revision: str | None = None,
    limits: Limits | None = None,
    admin: bool = False,
    profile: str | None = None,
    catalogue: Catalogue | None = None,
    collect: bool = False,
    evidence: Mapping[str, str] | None = None,
) -> Analysis:
    cat = catalogue or load_catalogue()
    rev = cat.revision(revision)
    sides = sides_of(cat, evidence)
    if limits is None:
        limits = limits_for(cat, profile)
    raw = _as_bytes(source)
    routed = gojson.go_trim_space(model or "") or rev.default_model
    pre_plan = _plan(cat, rev.id, None, profile, PRE_PARSE_STAGES, sides)
    ctx = Context(
        catalogue=cat, revision=rev, revision_index=cat.revision_index(rev.id), limits=limits, admin=admin,
        routed_model=routed, collect=collect, applicable=pre_plan.applicable, raw=raw, body=None,  # type: ignore[arg-type]
    )
    state = _Run(ctx, pre_plan.rules, [], [], [])
    stages = ENGINE_STAGES + (("advise",) if collect else ())
    parsed = False
    client_keys: frozenset[str] = frozenset()
    try:
        for step in pre_plan.steps:
            state.execute(step)
        if ctx.body is None:
            ctx.body = {}
        if state.rejections:
            raise _Stop()
        parsed = True
        client_keys = frozenset(ctx.body)  # before any rule changes it: what the client sent
        if collect:  # advice rules compare against what the client sent
            ctx.state["client"] = {k: _json_copy(v) for k, v in ctx.body.items() if k != "messages"}
            ctx.state["profile"] = profile
        ctx.model = resolve_model(ctx.body, routed)
        ctx.family = family_of(cat, ctx.model)
        plan = _plan(cat, rev.id, ctx.family, profile, tuple(s for s in stages if s not in PRE_PARSE_STAGES), sides)
        ctx.applicable = plan.applicable
        state.rules = plan.rules
        for step in plan.steps:
            # A step whose top-level key is absent selects nothing: skip it without resolving.
            if step.head is not None and step.head not in ctx.body:
                continue
            state.execute(step)
    except _Stop:
        pass
    return _finish(ctx, state, parsed, client_keys)


def limits_for(catalogue: Catalogue, profile: str | None = None, **overrides: int | None) -> Limits:
    """The output-token limits in force: the catalogue's compiled defaults (the options of the
    ``output-token-limits`` transform), a broker profile's overlay, then explicit overrides
    (None = keep)."""
    values = {name: int_verb_option(catalogue, "transform", "output-token-limits", name)
              for name in ("default_max_tokens", "max_tokens_cap")}
    values.update({k: int(v) for k, v in (catalogue.broker(profile).limits if profile else {}).items()})
    values.update({k: int(v) for k, v in overrides.items() if v is not None})
    return Limits(**values)


def _finish(ctx: Context, state: _Run, parsed: bool, client_keys: frozenset[str] = frozenset()) -> Analysis:
    events = tuple(state.events)
    family = ctx.family
    model = ctx.model or ctx.routed_model
    result: Result
    if state.rejections:
        first = state.rejections[0]
        result = Rejected(first.status, first.message, first.rule, first.pointer, events, model, family, ctx.revision.id)
    else:
        result = Accepted(ctx.body, events, model, family, ctx.revision.id)
    return Analysis(result, tuple(state.rejections), events, tuple(state.advice), ctx.body if parsed else None, parsed,
                    client_keys)


def _as_bytes(source: bytes | str | Mapping[str, Any]) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str):
        return source.encode("utf-8", errors="surrogatepass")
    # Python's encoder keeps a float's own text (2.0 stays 2.0), as a client library would send it.
    return json.dumps(source, ensure_ascii=False, default=_unknown).encode("utf-8", errors="surrogatepass")


def _unknown(value: Any) -> Any:
    raise TypeError(f"request body contains a non-JSON value of type {type(value).__name__}")


def normalize(
    body: bytes | str | Mapping[str, Any],
    model: str | None = None,
    revision: str | None = None,
    limits: Limits | None = None,
    admin: bool = False,
    *,
    profile: str | None = None,
    catalogue: Catalogue | None = None,
    evidence: Mapping[str, str] | None = None,
) -> Result:
    """What the gateway forwards for this request, or the rejection upstream reports first.

    ``evidence`` follows another documented side of disputed rules (rule id -> alternative)."""
    return run(body, model=model, revision=revision, limits=limits, admin=admin, profile=profile, catalogue=catalogue,
               evidence=evidence).result


def analyse(
    body: bytes | str | Mapping[str, Any],
    model: str | None = None,
    revision: str | None = None,
    limits: Limits | None = None,
    admin: bool = False,
    *,
    profile: str | None = None,
    catalogue: Catalogue | None = None,
) -> Analysis:
    """Every rejection, silent change and advisory for this request (the linter's view)."""
    return run(body, model=model, revision=revision, limits=limits, admin=admin, profile=profile,
               catalogue=catalogue, collect=True)


def forwarded_bytes(result: Accepted) -> bytes:
    """The exact bytes upstream would forward (Go ``json.Marshal``)."""
    return gojson.dumps(result.body).encode("utf-8", errors="surrogatepass")


def plan(catalogue: Catalogue, revision_id: str, family: str | None, profile_id: str | None,
         stages: tuple[str, ...]) -> Plan:
    """The cached plan for ``stages``: the applicable rules' steps in run order (public for the
    reference gateway, which runs the response-side stages on its simulated answers)."""
    return _plan(catalogue, revision_id, family, profile_id, stages)
