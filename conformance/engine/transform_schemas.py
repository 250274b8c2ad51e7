"""Silent rewrites around tools / tool_choice / structured_outputs, and local ``$ref`` inlining.

The transforms mirror ``paramvalidators/tools.go`` (contract.md §2.3): ``tools: []`` drops
``tools`` and ``tool_choice``, ``"required"`` becomes ``"auto"``, and ``"auto"`` is written when
tools are present without a ``tool_choice``. Every value they use comes from the rule options.

:func:`dereference` is the newest gateway's ``DereferenceLocalSchemaRefs`` (``schema_refs.go``
36e84282): local JSON-Pointer refs are inlined, ``$defs``/``definitions`` containers dropped,
and refs that are non-local, unresolved or recursive are refused. It is called by the schema
checks in :mod:`check_schemas`, because upstream inlines inside the same validator, right
before the bounds walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Generator, Iterator, Mapping

from ..goemu import json as gojson
from .context import Context, Site, child, unescape
from .registry import options, transform
from .types import MISSING, Change

from ..goemu.json import go_trim_space


# --- tools / tool_choice ----------------------------------------------------------------------


@transform("drop-empty-array", options=options(optional={"also": "strings"}))
def drop_empty_array(ctx: Context, site: Site) -> Iterator[Change]:
    """``tools: []`` removes the field and its companions (``also``), silently."""
    if not (isinstance(site.value, list) and not site.value and isinstance(site.parent, dict)):
        return
    del site.parent[site.key]
    yield Change(site.pointer, [], MISSING, f"empty {site.key} removed")
    parent_pointer = site.pointer[: site.pointer.rfind("/")]
    for name in site.options.get("also", ()):
        if name in site.parent:
            before = site.parent.pop(name)
            yield Change(child(parent_pointer, name), before, MISSING, f"{name} removed together with the empty {site.key}")


@transform("coerce-string", options=options(required={"from": "string", "to": "string"}))
def coerce_string(ctx: Context, site: Site) -> Iterator[Change]:
    """Rewrite the exact string ``from`` to ``to`` (Go compares the interface to a string)."""
    before, target = site.value, site.options["to"]
    if isinstance(before, str) and before == site.options["from"]:
        site.parent[site.key] = target
        yield Change(site.pointer, before, target, f"{site.key} {gojson.dumps(before)} rewritten to {gojson.dumps(target)}")


@transform("default-with-sibling", options=options(required={"sibling": "string", "value": "any"}), when_absent=True)
def default_with_sibling(ctx: Context, site: Site) -> Iterator[Change]:
    """Write ``value`` when the field is absent and the ``sibling`` array is non-empty."""
    if site.value is not MISSING or not isinstance(site.parent, dict):
        return
    sibling = site.parent.get(site.options["sibling"])
    if isinstance(sibling, list) and sibling:
        value = site.options["value"]
        site.parent[site.key] = value
        yield Change(site.pointer, MISSING, value, f"{site.key} defaulted to {gojson.dumps(value)}: {site.options['sibling']} is present")


# --- $ref inlining ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """How the gateway reads a JSON Schema; every list comes from the rule options."""

    forbidden: tuple[str, ...]       # keywords the walker refuses ($ref, $defs, definitions)
    containers: frozenset[str]       # definition containers dropped when refs are inlined
    data: frozenset[str]             # keywords holding literal data, never walked
    child_maps: frozenset[str]       # name -> schema maps whose wrapper is not a node
    branches: tuple[str, ...]        # anyOf / oneOf / allOf
    types: frozenset[str]            # JSON-Schema primitive type names
    pattern_keys: tuple[str, ...] = ()  # child maps whose keys are regexes (patternProperties)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Vocabulary":
        return cls(
            forbidden=tuple(options["forbidden"]), containers=frozenset(options["containers"]),
            data=frozenset(options["data"]), child_maps=frozenset(options["child_maps"]),
            branches=tuple(options["branches"]), types=frozenset(options["types"]),
            pattern_keys=tuple(options.get("pattern_keys", ())),
        )


class RefError(Exception):
    """A ref the gateway refuses; ``code`` picks the message, ``params`` fill it."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class NodeLimit(Exception):
    """Inlined nodes exceeded the schema's node limit (reported as the ``nodes`` bound)."""


def _container(value: Any) -> bool:
    return isinstance(value, (dict, list))


def mentions_refs(schema: Any, vocab: Vocabulary) -> bool:
    """Whether inlining would change anything: a $ref or a definition container in a schema position."""
    if isinstance(schema, list):
        return any(mentions_refs(item, vocab) for item in schema if isinstance(item, (dict, list)))
    if not isinstance(schema, dict):
        return False
    if "$ref" in schema or not vocab.containers.isdisjoint(schema):
        return True
    for key, value in schema.items():
        if key in vocab.data:
            continue
        if key in vocab.child_maps and isinstance(value, dict):
            if any(mentions_refs(item, vocab) for item in value.values() if isinstance(item, (dict, list))):
                return True
        elif _container(value) and mentions_refs(value, vocab):
            return True
    return False


Step = Generator[Any, Any, Any]  # yields sub-steps, receives their results, returns its own


def _trampoline(step: Step) -> Any:
    """Run nested steps with an explicit stack: inlining can nest hundreds of levels deep
    (one per inlined target, bounded only by the node cap), beyond Python's recursion limit."""
    stack, result = [step], None
    while stack:
        try:
            sub = stack[-1].send(result)
        except StopIteration as stop:
            stack.pop()
            result = stop.value
            continue
        stack.append(sub)
        result = None
    return result


@dataclass
class _Deref:
    """``DereferenceLocalSchemaRefs`` as resumable steps (see :func:`_trampoline`)."""

    root: dict[str, Any]
    vocab: Vocabulary
    max_nodes: int
    #: "ignore": keywords beside a $ref are dropped and the target must be an object or boolean
    #: schema (schema_refs.go f2e93446); "merge": siblings override the target's keys and any
    #: target is kept (schema_refs.go 36e84282).
    siblings: str = "ignore"
    stack: set[str] = field(default_factory=set)
    expanding: int = 0  # >0 while inside an inlined target
    expanded_nodes: int = 0
    inlined: int = 0

    def visit(self, value: dict[str, Any] | list[Any]) -> Step:
        if isinstance(value, list):
            return self.array(value)
        return self.ref(value) if "$ref" in value else self.node(value)

    def array(self, items: list[Any]) -> Step:
        out = []
        for item in items:
            out.append((yield self.visit(item)) if _container(item) else item)
        return out

    def node(self, node: dict[str, Any]) -> Step:
        if self.expanding > 0:
            self.count()
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in self.vocab.containers:
                continue
            out[key] = value if key in self.vocab.data else (yield self.child(key, value))
        return out

    def child(self, key: str, value: Any) -> Step:
        """A keyword's value: a name -> schema map for child-map keywords, else a schema."""
        if isinstance(value, dict) and key in self.vocab.child_maps:
            out = {}
            for name, item in value.items():
                out[name] = (yield self.visit(item)) if _container(item) else item
            return out
        return (yield self.visit(value)) if _container(value) else value

    def ref(self, node: dict[str, Any]) -> Step:
        # A chain of refs is followed in a loop; siblings are merged back innermost first, each
        # with the refs above it still on the recursion stack, as Go's recursion does.
        chain: list[tuple[str, dict[str, Any]]] = []
        current: Any = node
        while isinstance(current, dict) and "$ref" in current:
            ref = current["$ref"]
            if not isinstance(ref, str) or not go_trim_space(ref):
                raise RefError("ref-shape")
            if ref in self.stack:
                raise RefError("ref-recursive", ref=ref)
            target = resolve_local_pointer(self.root, ref)
            self.stack.add(ref)
            self.expanding += 1
            self.inlined += 1
            chain.append((ref, current))
            current = target
        resolved = (yield self.visit(current)) if _container(current) else current
        if self.siblings == "ignore" and not isinstance(resolved, (dict, bool)):
            raise RefError("ref-target")
        while chain:
            ref, ref_node = chain.pop()
            self.expanding -= 1
            self.stack.discard(ref)
            if self.siblings == "merge":
                resolved = yield self.merge(resolved, ref_node)
        return resolved

    def merge(self, target: Any, ref_node: dict[str, Any]) -> Step:
        """Siblings of ``$ref`` override the inlined target's keys."""
        siblings = [k for k in ref_node if k != "$ref" and k not in self.vocab.containers]
        if not isinstance(target, dict):
            if siblings:
                raise RefError("ref-merge")
            return target
        out = dict(target)
        for key in siblings:
            value = ref_node[key]
            out[key] = value if key in self.vocab.data else (yield self.child(key, value))
        return out

    def count(self) -> None:
        if self.max_nodes <= 0:
            return
        self.expanded_nodes += 1
        if self.expanded_nodes > self.max_nodes:
            raise NodeLimit()


_HEX = "0123456789abcdefABCDEF"
_INT = re.compile(r"[+-]?[0-9]+\Z")


def resolve_local_pointer(root: Any, ref: str) -> Any:
    """Go's ``resolveLocalJSONPointer``: ``#`` or ``#/a/b`` (path-unescaped, ~1 and ~0 decoded)."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise RefError("ref-nonlocal", ref=ref)
    pointer = path_unescape(ref[2:], ref)
    current = root
    for raw in pointer.split("/"):
        token = unescape(raw)
        if isinstance(current, dict):
            if token not in current:
                raise RefError("ref-unresolved", ref=ref)
            current = current[token]
        elif isinstance(current, list):
            if not _INT.match(token) or len(token.lstrip("+-")) > 18 or not 0 <= int(token) < len(current):
                raise RefError("ref-unresolved", ref=ref)
            current = current[int(token)]
        else:
            raise RefError("ref-unresolved", ref=ref)
    return current


def path_unescape(text: str, ref: str) -> str:
    """``url.PathUnescape``: ``%XX`` decoded, ``+`` kept; a bad escape is Go's EscapeError."""
    if "%" not in text:
        return text
    out = bytearray()
    raw = text.encode("utf-8", errors="surrogatepass")
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:  # %
            chunk = raw[i:i + 3]
            if len(chunk) < 3 or chr(chunk[1]) not in _HEX or chr(chunk[2]) not in _HEX:
                raise RefError("ref-escape", ref=ref, escape=chunk.decode("utf-8", errors="replace"))
            out.append(int(chunk[1:3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", errors="replace")


def dereference(
    schema: dict[str, Any], vocab: Vocabulary, max_nodes: int, siblings: str = "ignore",
) -> tuple[dict[str, Any], int]:
    """Inline local refs; return the rewritten schema and how many refs were inlined.

    Raises :class:`RefError` for refs the gateway refuses and :class:`NodeLimit` when the
    inlined nodes alone exceed ``max_nodes``. The input is not modified.
    """
    if siblings not in ("ignore", "merge"):
        raise ValueError(f"ref_siblings must be ignore or merge, not {siblings!r}")
    state = _Deref(schema, vocab, max_nodes, siblings)
    resolved = _trampoline(state.visit(schema))
    if not isinstance(resolved, dict):
        raise RefError("ref-root")
    return resolved, state.inlined
