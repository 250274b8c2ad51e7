"""Automatic fixes, keyed by the catalogue's ``lint.fix.op`` names.

An op reads one finding (and the client's body) and returns changes to the document; it
returns ``None`` when it does not apply to that finding, and then no fix is offered. Ops the
catalogue names but this module does not implement are simply never offered
(:func:`unimplemented_ops` lists them). Whether a fix is *safe* comes from the catalogue.

Most safe ops adopt what the gateway does anyway (remove a field it strips, write the value
it clamps to), so the forwarded body does not change; the others rewrite the payload the way
the rule's documentation prescribes.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

from gonka_conformance.catalogue.model import Rule
from gonka_conformance.common.pointers import child, split_pointer
from gonka_conformance.engine import CatalogueOptionError, tool_call_id_format
from gonka_conformance.engine import Bounds, NodeLimit, RefError, Vocabulary, dereference
from gonka_conformance.engine.types import MISSING, Analysis, Limits

from .edits import Add, Change, Raw, Remove, Rename, Replace
from .findings import Finding, FixInfo
from .locate import SourceIndex

if TYPE_CHECKING:
    from gonka_conformance.catalogue.loader import Catalogue


@dataclass
class FixContext:
    """What an op may look at for one finding."""

    finding: Finding
    rule: Rule | None
    index: SourceIndex
    analysis: Analysis
    catalogue: "Catalogue"
    limits: Limits
    profile: str | None
    shared: dict[str, Any] = field(default_factory=dict, repr=False)  # per body: the parsed doc, …

    @property
    def spec(self) -> Mapping[str, Any]:
        return (self.rule.lint.get("fix") or {}) if self.rule else {}

    @property
    def options(self) -> Mapping[str, Any]:
        return self.spec.get("with") or {}

    def has(self, pointer: str) -> bool:
        return self.index.exists(pointer)

    def value(self, pointer: str) -> Any:
        """The client's value at ``pointer`` (MISSING when absent), decoded from its source
        span only: an op looking at ``max_tokens`` does not parse the conversation."""
        key = "value:" + pointer
        if key not in self.shared:
            self.shared[key] = self._decode(pointer)
        return self.shared[key]

    def _decode(self, pointer: str) -> Any:
        """``json.loads`` of the value's span, decoded where it starts: finding where it
        ends would decode it once more (the C scanner reads one value and stops)."""
        if pointer == "":
            span = self.index.value_span(pointer)
            try:
                return json.loads(self.index.text[span[0]:span[1]]) if span else MISSING
            except (ValueError, RecursionError):
                return MISSING
        member = self.index.member(pointer)
        if member is None:
            return MISSING
        try:
            value, _end = _VALUE(self.index.text, member.start)
        except (StopIteration, ValueError, RecursionError):
            return MISSING
        return value

    def raw(self, pointer: str) -> Raw:
        span = self.index.value_span(pointer)
        if span is None:
            raise KeyError(pointer)
        return Raw(self.index.text[span[0]:span[1]])


#: ``json.loads``'s own scanner, reading one value at an offset.
_VALUE = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]

Op = Callable[[FixContext], "list[Change] | None"]
OPS: dict[str, Op] = {}
MANUAL = "manual"  # a deliberate op: the fix needs a human decision (the rule's note says which)


def op(*names: str) -> Callable[[Op], Op]:
    def register(fn: Op) -> Op:
        for name in names:
            OPS[name] = fn
        return fn
    return register


def unimplemented_ops(catalogue: "Catalogue") -> dict[str, list[str]]:
    """Op name → the rules naming it, for every op without an implementation (``manual`` is
    deliberate, not missing)."""
    missing: dict[str, list[str]] = {}
    for rule in catalogue.rules:
        name = (rule.lint.get("fix") or {}).get("op")
        if name and name not in OPS and name != MANUAL:
            missing.setdefault(name, []).append(rule.id)
    return missing


def changes_for(ctx: FixContext) -> list[Change] | None:
    name = ctx.spec.get("op")
    fn = OPS.get(name) if name else None
    if fn is None:
        return None
    try:
        changes = fn(ctx)
    except (KeyError, TypeError, ValueError, IndexError, RecursionError):
        return None  # the payload is not shaped the way the op expects: offer nothing
    return changes or None


def describe(ctx: FixContext) -> FixInfo | None:
    rule = ctx.rule
    if rule is None:
        return None
    spec = ctx.spec
    text = rule.docs.get("fix") if isinstance(rule.docs, Mapping) else None
    if not spec and not text:
        return None
    available = bool(spec) and changes_for(ctx) is not None
    return FixInfo(text, spec.get("op"), spec.get("safe"), available, spec.get("note"))


# --- helpers -----------------------------------------------------------------------------------


def target_option(catalogue: "Catalogue", rule_id: str, name: str) -> Any:
    """A rule's target option (the first target that has it); missing is an error, never a default."""
    rule = catalogue.by_id.get(rule_id)
    for target in rule.targets if rule else ():
        if name in target.options:
            return target.options[name]
    raise CatalogueOptionError(f"invalid catalogue: rule {rule_id!r} has no target option {name!r}")


def int_option(catalogue: "Catalogue", rule_id: str, name: str) -> int:
    value = target_option(catalogue, rule_id, name)
    if not _is_int(value):
        raise CatalogueOptionError(f"invalid catalogue: rule {rule_id!r}: option {name!r} must be an integer")
    return value


def _parent(pointer: str) -> str:
    return pointer[: pointer.rfind("/")] if pointer else ""  # a "/" inside a token is escaped


def _last(pointer: str) -> str:
    tokens = split_pointer(pointer)
    return tokens[-1] if tokens else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- ops -------------------------------------------------------------------------------------


@op("remove-field", "remove-strict", "remove-orphan-tool-messages", "remove-empty-assistant-turns",
    "remove-tool-message-name", "remove-disallowed-message-fields")
def remove_field(ctx: FixContext) -> list[Change] | None:
    fields = ctx.options.get("fields")
    if fields:
        parent = _parent(ctx.finding.pointer)
        found = [child(parent, name) for name in fields if ctx.has(child(parent, name))]
        return [Remove(pointer) for pointer in found] or None
    pointer = ctx.finding.pointer
    if pointer and ctx.has(pointer):
        return [Remove(pointer)]
    return None


def _adopt(ctx: FixContext) -> list[Change] | None:
    """What the gateway did at the finding's pointer, written into the payload."""
    pointer, after = ctx.finding.pointer, ctx.finding.after
    if not pointer or not ctx.has(pointer):
        return None
    if after is MISSING:
        return [Remove(pointer)]
    return [Replace(pointer, after)]


@op("clamp-field", "drop-blank-entries")
def clamp_field(ctx: FixContext) -> list[Change] | None:
    if ctx.finding.origin != "event":
        return None
    return _adopt(ctx)


@op("set-max-tokens")
def set_max_tokens(ctx: FixContext) -> list[Change] | None:
    value = ctx.options.get("value", "cap")
    target = ctx.limits.max_tokens_cap if value == "cap" else value
    if not _is_int(target):
        return None
    pointer = ctx.finding.pointer
    if pointer in ("/max_tokens", "/max_completion_tokens") and ctx.has(pointer):
        return [Replace(pointer, target)]
    present = [p for p in ("/max_tokens", "/max_completion_tokens") if ctx.has(p)]
    return [Replace(p, target) for p in present] or [Add("", "max_tokens", target)]


@op("set-thinking-budget-zero")
def set_thinking_budget_zero(ctx: FixContext) -> list[Change] | None:
    if ctx.value("/thinking_token_budget") == 0:
        return None
    return [Add("", "thinking_token_budget", 0)]


@op("kimi-fix-first")
def kimi_fix_first(ctx: FixContext) -> list[Change] | None:
    """The FAQ's fix-first payload, as the rule's ``lint.fix.with`` spells it: ``max_tokens``
    (also written to ``max_completion_tokens`` when the client sent that) and every other key."""
    wanted = dict(ctx.options)
    max_tokens = wanted.pop("max_tokens", None)
    if not _is_int(max_tokens) or not wanted:
        return None  # the catalogue spells no fix-first payload
    present = [p for p in ("/max_tokens", "/max_completion_tokens") if ctx.has(p)]
    changes: list[Change] = [Replace(p, max_tokens) for p in present] or [Add("", "max_tokens", max_tokens)]
    changes += [Add("", key, value) for key, value in wanted.items()]
    return changes


@op("rewrite-duplicate-tool-call-ids", "rewrite-tool-call-ids")
def rewrite_tool_call_ids(ctx: FixContext) -> list[Change] | None:
    if "tool-call-ids" not in ctx.shared:  # one rewrite for the whole conversation
        ctx.shared["tool-call-ids"] = _rewrite_tool_call_ids(ctx)
    return ctx.shared["tool-call-ids"]


@lru_cache(maxsize=8)
def _id_format(catalogue: "Catalogue") -> tuple["re.Pattern[str]", str]:
    """The canonical id's ``pattern`` and ``template`` (``functions.{name}:{index}``)."""
    pattern, template = tool_call_id_format(catalogue)
    return re.compile(pattern), template


def _canonical_id(catalogue: "Catalogue", name: Any, index: int) -> str | None:
    """The template filled in; ``None`` when no spelling of the name fits the pattern."""
    pattern, template = _id_format(catalogue)
    name = name.strip() if isinstance(name, str) and name.strip() else "call"
    new = template.format(name=name, index=index)
    if pattern.fullmatch(new):
        return new
    # Characters the pattern refuses in a tool name become "_" (one at a time, so any pattern works).
    safe = "".join(ch if pattern.fullmatch(template.format(name=ch, index=index)) else "_" for ch in name)
    new = template.format(name=safe, index=index)
    return new if pattern.fullmatch(new) else None


def _rewrite_tool_call_ids(ctx: FixContext) -> list[Change] | None:
    """Every tool call id becomes the catalogue's canonical id (its index counts calls across
    the whole conversation, so ids are unique); each tool result follows the call it answers,
    in order. No call and no result is dropped."""
    messages = ctx.value("/messages")
    if not isinstance(messages, list):
        return None
    changes: list[Change] = []
    pending: dict[str, deque[str]] = {}
    counter = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and isinstance(calls, list):
            for j, call in enumerate(calls):
                if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                    continue
                function = call.get("function")
                new = _canonical_id(ctx.catalogue, function.get("name") if isinstance(function, dict) else None,
                                    counter)
                if new is None:
                    return None
                counter += 1
                pending.setdefault(call["id"], deque()).append(new)
                if new != call["id"]:
                    changes.append(Replace(f"/messages/{i}/tool_calls/{j}/id", new))
        elif message.get("role") == "tool" and isinstance(message.get("tool_call_id"), str):
            queue = pending.get(message["tool_call_id"])
            if queue:
                new = queue.popleft()
                if new != message["tool_call_id"]:
                    changes.append(Replace(f"/messages/{i}/tool_call_id", new))
    return changes or None


@op("functions-to-tools")
def functions_to_tools(ctx: FixContext) -> list[Change] | None:
    pointer = ctx.finding.pointer
    parent, name = _parent(pointer), _last(pointer)
    value = ctx.value(pointer)
    if name == "functions":
        if not isinstance(value, list) or not all(isinstance(f, dict) for f in value):
            return None
        tools = [{"type": "function", "function": ctx.raw(f"{pointer}/{i}")} for i in range(len(value))]
        existing = ctx.value(f"{parent}/tools")
        if existing is MISSING:
            return [Rename(pointer, "tools", tools)]
        if not isinstance(existing, list):
            return None
        kept = [ctx.raw(f"{parent}/tools/{i}") for i in range(len(existing))]
        return [Remove(pointer), Replace(f"{parent}/tools", kept + tools)]
    if name == "function_call":
        if value in ("none", "auto"):
            choice: Any = value
        elif isinstance(value, dict) and isinstance(value.get("name"), str):
            choice = {"type": "function", "function": {"name": value["name"]}}
        else:
            return None
        if ctx.value(f"{parent}/tool_choice") is not MISSING:
            return [Remove(pointer)]
        return [Rename(pointer, "tool_choice", choice)]
    return None


@op("reasoning-to-effort")
def reasoning_to_effort(ctx: FixContext) -> list[Change] | None:
    pointer = ctx.finding.pointer
    if _last(pointer) != "reasoning" or not ctx.has(pointer):
        return None
    lifted = [e.after for e in ctx.analysis.events
              if e.rule == ctx.finding.rule and e.pointer.endswith("/reasoning_effort") and e.before is MISSING
              and e.after is not MISSING]
    if lifted and ctx.value(f"{_parent(pointer)}/reasoning_effort") is MISSING:
        return [Rename(pointer, "reasoning_effort", lifted[0])]
    return [Remove(pointer)]  # the gateway lifts nothing from it: dropping it changes nothing


@op("developer-to-system")
def developer_to_system(ctx: FixContext) -> list[Change] | None:
    pointer = ctx.finding.pointer
    role = pointer if pointer.endswith("/role") else f"{pointer}/role"
    if ctx.value(role) != "developer":
        return None
    return [Replace(role, "system")]


@op("set-model")
def set_model(ctx: FixContext) -> list[Change] | None:
    family = ctx.analysis.result.family
    if not ctx.profile or not family or not ctx.has("/model"):
        return None
    expected = ctx.catalogue.broker(ctx.profile).model_ids.get(family)
    if not isinstance(expected, str) or ctx.value("/model") == expected:
        return None
    return [Replace("/model", expected)]


@op("set-tool-choice-auto")
def set_tool_choice_auto(ctx: FixContext) -> list[Change] | None:
    pointer = ctx.finding.pointer
    if _last(pointer) != "tool_choice":
        pointer = "/tool_choice"
    if ctx.has(pointer):
        return [Replace(pointer, "auto")] if ctx.value(pointer) != "auto" else None
    return [Add(_parent(pointer), "tool_choice", "auto")]


@op("drop-max-completion-tokens")
def drop_max_completion_tokens(ctx: FixContext) -> list[Change] | None:
    tokens, completion = ctx.value("/max_tokens"), ctx.value("/max_completion_tokens")
    if not (_is_int(tokens) and _is_int(completion)):
        return None
    changes: list[Change] = [Remove("/max_completion_tokens")]
    if completion < tokens:
        changes.append(Replace("/max_tokens", completion))
    return changes


@op("drop-non-text-parts")
def drop_non_text_parts(ctx: FixContext) -> list[Change] | None:
    pointer = ctx.finding.pointer
    part = _parent(pointer) if _last(pointer) == "type" else pointer
    content_pointer = _parent(part)
    content = ctx.value(content_pointer)
    if not isinstance(content, list):
        return None
    index = int(_last(part))
    others = [p for i, p in enumerate(content) if i != index and isinstance(p, dict) and p.get("type") == "text"]
    if not others:
        return None  # nothing but the image: dropping it would leave an empty message
    return [Remove(part)]


@op("trim-oldest-messages")
def trim_oldest_messages(ctx: FixContext) -> list[Change] | None:
    messages = ctx.value("/messages")
    limit = int_option(ctx.catalogue, ctx.finding.rule, "max_entries")
    if not isinstance(messages, list) or len(messages) <= limit:
        return None
    drop: list[int] = []
    excess = len(messages) - limit
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            continue
        if excess > 0 or role == "tool":  # never start the kept history with a tool result
            drop.append(i)
            excess -= 1
            continue
        break
    return [Remove(f"/messages/{i}") for i in drop] or None


@op("coerce-type")
def coerce_type(ctx: FixContext) -> list[Change] | None:
    pointer = ctx.finding.pointer
    value = ctx.value(pointer)
    wanted = _wanted_type(ctx.rule, pointer)
    converted: Any = MISSING
    if wanted == "int":
        digits = value.strip() if isinstance(value, str) else ""
        if digits.isascii() and digits.isdigit():  # ("²".isdigit() is true, but int() refuses it)
            try:
                converted = int(digits)
            except ValueError:  # more digits than Python converts: no value a gateway accepts
                return None
        elif isinstance(value, float) and value.is_integer() and value >= 0:
            converted = int(value)
    elif wanted == "bool":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            converted = value.strip().lower() == "true"
    elif wanted == "str":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            converted = ctx.raw(pointer).text
    if converted is MISSING:
        return None
    return [Replace(pointer, converted)]


def _wanted_type(rule: Rule | None, pointer: str) -> str | None:
    if rule is None:
        return None
    for target in rule.targets:
        if target.check == "typed-decode":
            # The typed decode reads ``model`` as a Go string; the catalogue does not list it
            # (yet) as an option, so "strings" is read when present and /model is the fallback.
            strings = target.options.get("strings") or ("model",)
            if len(split_pointer(pointer)) == 1 and _last(pointer) in strings:
                return "str"
            if _last(pointer) in (target.options.get("integers") or ()):
                return "int"
        elif target.path == pointer:
            return {"uint": "int", "bool": "bool"}.get(target.check or "")
        elif target.check == "string-elements" and _parent(pointer) == target.path:
            return "str"
    return None


@op("move-extra-body-keys")
def move_extra_body_keys(ctx: FixContext) -> list[Change] | None:
    """Lift ``extra_body`` keys to the top level as the gateway does (the top level wins)."""
    if not ctx.has("/extra_body"):
        return None
    envelope = ctx.value("/extra_body")
    top_level = ctx.analysis.client_keys
    changes: list[Change] = []
    if isinstance(envelope, dict):
        for key in envelope:
            if key not in top_level:
                changes.append(Add("", key, ctx.raw(child("/extra_body", key))))
    changes.append(Remove("/extra_body"))
    return changes


# --- schemas -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SchemaSite:
    pattern: "re.Pattern[str]"  # matches the pointer of a schema root
    vocabulary: Mapping[str, Any]
    bounds: Bounds


@lru_cache(maxsize=64)
def _schema_sites(catalogue: "Catalogue", rule_id: str) -> list[_SchemaSite]:
    """Where the schema checks that report ``rule_id`` (they delegate to it) find schemas: the
    target's own path, then its ``prefix`` message option below that path (e.g.
    ``tools[{index}].function.parameters`` under ``/tools``), with the target's vocabulary and
    bounds (read by the engine's own :class:`Bounds`)."""
    sites = []
    for rule in catalogue.rules:
        for target in rule.targets:
            options = target.options
            prefix, vocabulary = options.get("prefix"), options.get("schema")
            delegates = options.get("delegate") or {}
            reports = rule.id == rule_id or rule_id in delegates.values()
            if not reports or not isinstance(prefix, str) or not isinstance(vocabulary, Mapping) \
                    or not isinstance(target.path, str) or "bounds" not in options:
                continue
            sites.append(_SchemaSite(_site_pattern(target.path, prefix), vocabulary,
                                     Bounds.from_options(options["bounds"])))
    return sites


def _site_pattern(path: str, prefix: str) -> "re.Pattern[str]":
    """``/tools`` + ``tools[{index}].function.parameters`` → ``/tools/[0-9]+/function/parameters``."""
    tokens = prefix.replace("[{index}]", ".{index}").split(".")[1:]  # the first token is the path's own
    regex = re.escape(path) + "".join("/[0-9]+" if t == "{index}" else re.escape(child("", t)) for t in tokens)
    return re.compile(regex)


@op("inline-schema-refs")
def inline_schema_refs(ctx: FixContext) -> list[Change] | None:
    """Inline local ``$ref``s (and drop ``$defs``/``definitions``) with the engine's own
    dereferencer: refs it cannot inline (remote, recursive, unresolved) get no fix."""
    pointer = ctx.finding.pointer
    for site in _schema_sites(ctx.catalogue, ctx.finding.rule):
        match = site.pattern.match(pointer)
        if match is None or (match.end() < len(pointer) and pointer[match.end()] != "/"):
            continue
        root = pointer[: match.end()]
        schema = ctx.value(root)
        if not isinstance(schema, dict):
            return None
        try:
            inlined, _count = dereference(schema, Vocabulary.from_options(site.vocabulary), site.bounds.max_nodes)
        except (RefError, NodeLimit):
            return None
        return [Replace(root, inlined)] if inlined != schema else None
    return None


@op("use-response-format")
def use_response_format(ctx: FixContext) -> list[Change] | None:
    """``structured_outputs: {json: S}`` becomes ``response_format: {type: json_schema, …}``;
    other constraints (regex, choice, grammar) have no response_format equivalent."""
    value = ctx.value("/structured_outputs")
    if not isinstance(value, dict):
        return None
    if ctx.has("/response_format"):
        return [Remove("/structured_outputs")]
    if isinstance(value.get("json"), dict) and set(value) <= {"json", "disable_additional_properties"}:
        schema = {"name": "output", "schema": ctx.raw("/structured_outputs/json")}
        return [Rename("/structured_outputs", "response_format", {"type": "json_schema", "json_schema": schema})]
    if value.get("json_object") is True and set(value) == {"json_object"}:
        return [Rename("/structured_outputs", "response_format", {"type": "json_object"})]
    return None
