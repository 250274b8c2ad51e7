"""Schema-bounded parameters: tools, tool_choice, response_format, structured_outputs,
metadata and chat_template_kwargs (contract.md §2.3-§2.6 and §2.1 row 39).

One JSON-Schema bounds walker (``SchemaBounds`` in ``paramvalidators/schema_bounds.go``) serves
``tools[].function.parameters``, ``response_format.json_schema.schema`` and
``structured_outputs.json``; a plain structure walker (``ObjectBounds``) serves
``chat_template_kwargs``. Limits, keyword lists and message texts come from the rule options
and messages (cases/rules/30-schemas.yaml); only the traversal lives here.

Go walks maps in random order, so with several problems upstream may report any of them; the
functions here visit keys in body order and yield problems in upstream check order, so the
engine's first (applicable) hit is a faithful choice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

from ..goemu import json as gojson
from ..goemu.re2 import go_regexp_error
from .check_basic import utf8_len
from .context import Context, Site, child
from .registry import NO_OPTIONS, check, options
from ..goemu.json import go_trim_space
from .transform_schemas import NodeLimit, RefError, Vocabulary, dereference, mentions_refs
from .types import MISSING, Change, Hit


# =============================================================================================
# Structural bounds
# =============================================================================================


#: The options every schema-walking verb shares (``bounds`` are the fields of :class:`Bounds`).
_BOUNDS_OPTIONS = options(required={"max_depth": "integer", "max_nodes": "integer", "max_size": "integer"},
                          optional={"max_branch": "integer", "max_enum": "integer", "max_pattern_len": "integer"})
_Spec = str | Mapping[str, Any]  # one option's spec as registry.options takes it: a shorthand or a JSON Schema
_SCHEMA_OPTIONS: dict[str, _Spec] = {"prefix": "string", "bounds": _BOUNDS_OPTIONS, "schema": "object"}
_REF_OPTIONS: dict[str, _Spec] = {"refs": {"const": "inline"}, "ref_siblings": {"enum": ["ignore", "merge"]}}


@dataclass(frozen=True)
class Bounds:
    max_depth: int
    max_nodes: int
    max_size: int
    max_branch: int = 0
    max_enum: int = 0
    max_pattern_len: int = 0  # 0 disables the pattern length and compile checks, as upstream

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Bounds":
        return cls(**{k: int(v) for k, v in options.items()})


@dataclass(frozen=True)
class Problem:
    code: str
    params: Mapping[str, Any]
    path: tuple[Any, ...] = ()  # where in the walked value, for the linter's pointer


class _Found(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _SchemaWalker:
    """``SchemaBounds.walk``: depth (root 1), object nodes, forbidden keywords, enum size,
    primitive ``type``, compilable ``pattern``, branch arms; data keywords are not walked and
    ``properties``-style wrapper maps are not levels."""

    def __init__(self, bounds: Bounds, vocab: Vocabulary) -> None:
        self.b, self.v = bounds, vocab
        self.nodes = 0

    def fail(self, code: str, path: tuple[Any, ...], **params: Any) -> None:
        raise _Found(Problem(code, params, path))

    def walk(self, value: Any, depth: int, path: tuple[Any, ...]) -> None:
        b, v = self.b, self.v
        if depth > b.max_depth:
            self.fail("depth", path, limit=b.max_depth)
        if not isinstance(value, dict):
            return
        self.nodes += 1
        if self.nodes > b.max_nodes:
            self.fail("nodes", path, limit=b.max_nodes)
        for keyword in v.forbidden:
            if keyword in value:
                self.fail("ref", path + (keyword,), keyword=keyword)
        enum = value.get("enum")
        if isinstance(enum, list) and len(enum) > b.max_enum:
            self.fail("enum", path + ("enum",), limit=b.max_enum)
        self.check_type(value, path)
        self.check_pattern(value, path)
        self.check_pattern_keys(value, path)
        for keyword in v.branches:
            arms = value.get(keyword)
            if isinstance(arms, list) and len(arms) > b.max_branch:
                self.fail("branch", path + (keyword,), keyword=keyword, limit=b.max_branch)
        # Array elements and child-map values are walked even when scalar (only the depth check
        # applies to them), so they are visited only where that check can fail.
        deep = depth + 1 > b.max_depth
        for key, item in value.items():
            if key in v.data:
                continue
            if isinstance(item, dict):
                if key not in v.child_maps:
                    self.walk(item, depth + 1, path + (key,))
                    continue
                children: Any = item.items()
            elif isinstance(item, list):
                children = enumerate(item)
            else:
                continue
            for name, sub in children:
                if deep or isinstance(sub, dict):
                    self.walk(sub, depth + 1, path + (key, name))

    def check_type(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        if "type" not in node:
            return
        raw, where = node["type"], path + ("type",)
        if isinstance(raw, str):
            if raw not in self.v.types:
                self.fail("type", where, value=raw)
        elif isinstance(raw, list):
            for item in raw:
                if not isinstance(item, str):
                    self.fail("type-element", where)
                if item not in self.v.types:
                    self.fail("type", where, value=item)
        else:
            self.fail("type-shape", where)

    def check_pattern(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        limit = self.b.max_pattern_len
        if limit <= 0 or "pattern" not in node:
            return
        raw, where = node["pattern"], path + ("pattern",)
        if not isinstance(raw, str):
            self.fail("pattern-shape", where)
        self._regex(raw, where, limit, "pattern")

    def check_pattern_keys(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        """Newest: the keys of ``patternProperties`` are patterns too, bounded and compiled."""
        limit = self.b.max_pattern_len
        for keyword in self.v.pattern_keys if limit > 0 else ():
            names = node.get(keyword)
            for name in names if isinstance(names, dict) else ():
                self._regex(name, path + (keyword, name), limit, "pattern-key")

    def _regex(self, text: str, where: tuple[Any, ...], limit: int, code: str) -> None:
        """A pattern (or pattern key) within its byte limit that Go's RE2 compiles; hit codes
        ``<code>-length`` and ``<code>``."""
        length = utf8_len(text)
        if length > limit:
            self.fail(f"{code}-length", where, length=length, limit=limit)
        error = go_regexp_error(text)
        if error is not None:
            self.fail(code, where, error=error)


def walk_schema(schema: dict[str, Any], bounds: Bounds, vocab: Vocabulary) -> Problem | None:
    try:
        _SchemaWalker(bounds, vocab).walk(schema, 1, ())
    except _Found as found:
        return found.problem
    return None


def walk_object(value: Any, bounds: Bounds) -> Problem | None:
    """``ObjectBounds.walk``: every value is depth-checked (root 1); every object is a node."""
    nodes = 0

    def walk(item: Any, depth: int, path: tuple[Any, ...]) -> None:
        nonlocal nodes
        if depth > bounds.max_depth:
            raise _Found(Problem("depth", {"limit": bounds.max_depth}, path))
        if isinstance(item, dict):
            nodes += 1
            if nodes > bounds.max_nodes:
                raise _Found(Problem("nodes", {"limit": bounds.max_nodes}, path))
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            return
        deep = depth + 1 > bounds.max_depth
        for key, sub in children:
            if deep or isinstance(sub, (dict, list)):
                walk(sub, depth + 1, path + (key,))

    try:
        walk(value, 1, ())
    except _Found as found:
        return found.problem
    return None


class _TooBig(Exception):
    pass


# Where Go's json.Marshal writes more bytes than Python's compact ``ensure_ascii=False`` text:
# the HTML-safe escapes (one byte becomes six) and U+2028/U+2029 (three bytes become six).
_GO_WIDER = (("<", 5), (">", 5), ("&", 5), ("\u2028", 3), ("\u2029", 3))
_LITERALS = re.compile(r"true|false|null")


def _compact_text(value: Any) -> str | None:
    """Python's compact JSON text of a decoded value (C speed), or ``None`` where it refuses."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None


def _go_size_of_text(text: str) -> int | None:
    """``len(json.Marshal(value))`` from :func:`_compact_text`, or ``None`` where the two texts
    differ by more than a count of characters: a float (Go keeps the number literal), ``\\b``
    or ``\\f`` (Go writes ``\\u0008``). Map keys are sorted by Go but not here, which changes
    no length. The tools schemas of every request go through this, so it runs at C speed
    instead of one Python call per string."""
    unescaped = text.replace("\\\\", "") if "\\" in text else text
    if "\\b" in unescaped or "\\f" in unescaped:
        return None
    outside = "".join(unescaped.replace('\\"', "").split('"')[::2])  # the text outside strings
    if any(c in outside for c in ".eE"):  # a float (true and false hold an e)
        if any(c in _LITERALS.sub("", outside) for c in ".eE"):
            return None
    size = len(text.encode("utf-8", errors="surrogatepass")) if not text.isascii() else len(text)
    return size + sum(text.count(ch) * extra for ch, extra in _GO_WIDER)


def marshaled_size(value: Any, limit: int | None = None) -> int:
    """``len(json.Marshal(value))``; with a ``limit`` it stops early and returns some size above it."""
    text = _compact_text(value)
    fast = _go_size_of_text(text) if text is not None else None
    if fast is not None:
        return fast
    total = 0

    def add(n: int) -> None:
        nonlocal total
        total += n
        if limit is not None and total > limit:
            raise _TooBig()

    def string(text: str) -> None:
        if limit is not None and len(text) + 2 > limit - total:
            add(len(text) + 2)  # already over: every character is at least one byte
        encoded = gojson.go_string(text)
        add(len(encoded) if encoded.isascii() else len(encoded.encode("utf-8", errors="surrogatepass")))

    def size(item: Any) -> None:
        if isinstance(item, str):
            string(item)
        elif isinstance(item, dict):
            add(2 + max(len(item) - 1, 0) + len(item))  # braces, commas, colons
            for key, sub in item.items():
                string(key)
                size(sub)
        elif isinstance(item, list):
            add(2 + max(len(item) - 1, 0))
            for sub in item:
                size(sub)
        else:
            add(len(gojson.dumps(item)))

    try:
        size(value)
    except _TooBig:
        return total
    return total


# =============================================================================================
# Bounded JSON-Schema sites (tools parameters, response_format schema, structured_outputs.json)
# =============================================================================================


def _pointer(base: str, path: tuple[Any, ...]) -> str:
    return child(base, *path) if path else base


def bounded_schema(
    ctx: Context, site: Site, holder: dict[str, Any], key: str, pointer: str, prefix: str,
) -> Iterator[Hit | Change]:
    """Inline local refs (when ``refs: inline`` and the inline rule is in force), then walk the
    schema and check its serialized size — the order of ``tools.go`` / ``response_format.go``."""
    options = site.options
    bounds = Bounds.from_options(options["bounds"])
    vocab = Vocabulary.from_options(options["schema"])
    if not ctx.code_applies(site, "pattern-key"):
        vocab = replace(vocab, pattern_keys=())
    schema, inlined = holder[key], None
    verdict = _verdict(schema, bounds, vocab)
    problem, size = verdict.problem, verdict.size
    if options.get("refs") == "inline" and ctx.code_applies(site, "inline") and verdict.mentions_refs:
        try:
            schema, inlined = dereference(schema, vocab, bounds.max_nodes, options.get("ref_siblings", "ignore"))
        except RefError as exc:
            yield Hit(pointer, exc.code, {"prefix": prefix, **exc.params})
            return
        except NodeLimit:
            yield Hit(pointer, "nodes", {"prefix": prefix, "limit": bounds.max_nodes})
            return
        problem, size = walk_schema(schema, bounds, vocab), None
    if problem is not None:
        yield Hit(_pointer(pointer, problem.path), problem.code, {"prefix": prefix, **problem.params})
        return  # a rejected inlined copy is not written back: it may nest far too deep to keep
    if inlined is not None:
        holder[key] = schema
        detail = f"{inlined} local $ref inlined" if inlined else "unused definition containers removed"
        yield Change(pointer, MISSING, MISSING, detail, "inline")
    if bounds.max_size > 0:
        if size is None:
            size = marshaled_size(schema, bounds.max_size)
        if size > bounds.max_size:
            yield Hit(pointer, "size", {"prefix": prefix, "limit": bounds.max_size})


@dataclass(frozen=True)
class _Verdict:
    mentions_refs: bool
    problem: Problem | None
    size: int | None  # json.Marshal length (above the limit may be any size above it)


_VERDICTS: dict[tuple[str, Bounds, Vocabulary], _Verdict] = {}
_VERDICT_TEXT_LIMIT = 1 << 14  # the tools size bound: larger schemas are judged each time, never kept
_VERDICTS_KEPT = 256  # at most 4 MiB of keys, also in the reference gateway


def _verdict(schema: Any, bounds: Bounds, vocab: Vocabulary) -> _Verdict:
    """Whether a schema mentions refs, the walker's first problem and its size: all three
    depend only on the schema's JSON text (key order included) and the bounds, so they are
    remembered by that text. Agents send the same tool definitions with every request, and
    the linter sees thousands of requests per log."""
    text = _compact_text(schema)
    text_size = _go_size_of_text(text) if text is not None else None
    # Only a text that measures exactly is a key: Python prints the floats 1.0 and 1.00 alike.
    key: tuple[str, Bounds, Vocabulary] | None = None
    if text is not None and text_size is not None and len(text) <= _VERDICT_TEXT_LIMIT:
        key = (text, bounds, vocab)
    known = _VERDICTS.get(key) if key is not None else None
    if known is not None:
        return known
    problem = walk_schema(schema, bounds, vocab)
    size = None
    if problem is None and bounds.max_size > 0:
        size = text_size if text_size is not None else marshaled_size(schema, bounds.max_size)
    verdict = _Verdict(mentions_refs(schema, vocab), problem, size)
    if key is not None:
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.clear()  # a log with endlessly varied schemas: start over, bounded
        _VERDICTS[key] = verdict
    return verdict


# =============================================================================================
# tools / tool_choice (contract.md §2.3)
# =============================================================================================


@check("tools", options=options(required={"tool_type": "string", **_SCHEMA_OPTIONS},
                                 optional={"strip": "strings", **_REF_OPTIONS}, delegates=True))
def tools(ctx: Context, site: Site) -> Iterator[Hit | Change]:
    """``ToolsValidator``: array shape, each tool's shape and name, ``strict`` stripped, and the
    bounded ``function.parameters`` schema. Every tool is checked (upstream stops at the first)."""
    if not isinstance(site.value, list):
        yield Hit(site.pointer, "wrapper")
        return
    for index, tool in enumerate(site.value):
        yield from _tool(ctx, site, index, tool, child(site.pointer, index))


def _tool(ctx: Context, site: Site, index: int, tool: Any, pointer: str) -> Iterator[Hit | Change]:
    options = site.options
    if not isinstance(tool, dict):
        yield Hit(pointer, "tool-shape", {"index": index})
        return
    if tool.get("type") != options["tool_type"] or not isinstance(tool.get("type"), str):
        yield Hit(child(pointer, "type"), "tool-type", {"index": index, "type": options["tool_type"]})
        return
    fn = tool.get("function")
    if not isinstance(fn, dict):
        yield Hit(child(pointer, "function"), "function-shape", {"index": index})
        return
    name = fn.get("name")
    name_pointer = child(pointer, "function", "name")
    if not isinstance(name, str) or name == "":
        yield Hit(name_pointer, "name", {"index": index})
        return
    if not go_trim_space(name):
        yield Hit(name_pointer, "blank-tool-name", {"index": index})
        if ctx.code_applies(site, "blank-tool-name"):
            return
    for key in options.get("strip", ()):
        if key in fn:
            before = fn.pop(key)
            yield Change(child(pointer, "function", key), before, MISSING, f"tools[{index}].function.{key} removed", key)
    if isinstance(fn.get("parameters"), dict):
        prefix = options["prefix"].format(index=index)
        yield from bounded_schema(ctx, site, fn, "parameters", child(pointer, "function", "parameters"), prefix)


@check("tool-choice", options=options(required={"values": "strings", "function_type": "string", "max_name_length": "integer"}, delegates=True))
def tool_choice(ctx: Context, site: Site) -> Iterator[Hit]:
    """``ToolChoiceValidator``: one of the allowed strings, or ``{type: function, function: {name}}``."""
    value, options = site.value, site.options
    allowed = options["values"]
    params = {"allowed": ", ".join(gojson.go_string(v) for v in allowed), "type": options["function_type"]}
    if isinstance(value, str):
        if value not in allowed:
            yield Hit(site.pointer, "value", params)
        return
    if not isinstance(value, dict):
        yield Hit(site.pointer, "value", params)
        return
    if value.get("type") != options["function_type"] or not isinstance(value.get("type"), str):
        yield Hit(child(site.pointer, "type"), "type", params)
        return
    fn = value.get("function")
    if not isinstance(fn, dict):
        yield Hit(child(site.pointer, "function"), "function", params)
        return
    name, name_pointer = fn.get("name"), child(site.pointer, "function", "name")
    if not isinstance(name, str) or name == "":
        yield Hit(name_pointer, "name", params)
        return
    if not go_trim_space(name):
        yield Hit(name_pointer, "blank-tool-choice-name", params)
        if ctx.code_applies(site, "blank-tool-choice-name"):
            return
    limit = int(options["max_name_length"])
    if utf8_len(name) > limit:
        yield Hit(name_pointer, "name-too-long", {**params, "length": utf8_len(name), "limit": limit})


# =============================================================================================
# response_format (contract.md §2.4)
# =============================================================================================


def _go_match(pattern: str, text: str) -> bool:
    """``regexp.MatchString`` for the simple anchored name pattern: Go's ``$`` is end of text."""
    match = re.search(pattern, text)
    return match is not None and (not pattern.endswith("$") or match.end() == len(text))


@check("response-format", options=options(
    required={"types": "strings", "schema_type": "string", "max_name_length": "integer", "name_pattern": "string",
              **_SCHEMA_OPTIONS},
    optional=_REF_OPTIONS, delegates=True))
def response_format(ctx: Context, site: Site) -> Iterator[Hit | Change]:
    """``ResponseFormatValidator``: wrapper, ``type``, and for json_schema the name and the
    bounded schema (local refs inlined first where the inline rule is in force)."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper")
        return
    kind = value.get("type")
    if not isinstance(kind, str) or not go_trim_space(kind):
        yield Hit(child(site.pointer, "type"), "type-missing")
        return
    types = options["types"]
    if kind not in types:
        yield Hit(child(site.pointer, "type"), "type-unsupported", {"value": kind, "allowed": ", ".join(types)})
        return
    if kind != options["schema_type"]:
        return
    wrapper_pointer = child(site.pointer, kind)
    wrapper = value.get(kind)
    if not isinstance(wrapper, dict):
        yield Hit(wrapper_pointer, "json-schema-wrapper")
        return
    yield from _schema_name(ctx, site, wrapper.get("name"), child(wrapper_pointer, "name"))
    if not isinstance(wrapper.get("schema"), dict):
        yield Hit(child(wrapper_pointer, "schema"), "schema-shape")
        return
    yield from bounded_schema(ctx, site, wrapper, "schema", child(wrapper_pointer, "schema"), options["prefix"])


def _schema_name(ctx: Context, site: Site, name: Any, pointer: str) -> Iterator[Hit]:
    options = site.options
    if not isinstance(name, str) or name == "":
        yield Hit(pointer, "name")
        return
    if not go_trim_space(name):
        yield Hit(pointer, "blank-schema-name")
        if ctx.code_applies(site, "blank-schema-name"):
            return
    limit = int(options["max_name_length"])
    if utf8_len(name) > limit:
        yield Hit(pointer, "name-too-long", {"limit": limit, "length": utf8_len(name)})
        return
    if not _go_match(options["name_pattern"], name):
        yield Hit(pointer, "name-pattern", {"pattern": options["name_pattern"]})


# =============================================================================================
# structured_outputs (contract.md §2.5)
# =============================================================================================


@check("object-shape", options=NO_OPTIONS)
def object_shape(ctx: Context, site: Site) -> Iterator[Hit]:
    """The value is not a JSON object."""
    if not isinstance(site.value, dict):
        yield Hit(site.pointer, "wrapper", {"field": site.key})


@check("field-conflict", options=options(required={"with": "string"}))
def field_conflict(ctx: Context, site: Site) -> Iterator[Hit]:
    """The field may not be combined with ``with`` (present in the body, even as null)."""
    other = site.options["with"]
    if other in ctx.body:
        yield Hit(site.pointer, params={"field": site.key, "other": other})


@check("structured-outputs", options=options(
    required={"constraints": "strings", "modifiers": "strings", "regex_fields": "strings", "bool_fields": "strings",
              **_SCHEMA_OPTIONS, "max_regex_len": "integer", "max_choice_entries": "integer",
              "max_choice_entry_len": "integer", "max_choice_total": "integer", "max_grammar_len": "integer",
              "max_grammar_nesting": "integer", "grammar_open": "string", "grammar_close": "string",
              "max_structural_tag_len": "integer", "structural_tag_object_from": "string"},
    optional=_REF_OPTIONS, delegates=True))
def structured_outputs(ctx: Context, site: Site) -> Iterator[Hit | Change]:
    """``StructuredOutputsValidator`` after the route gate, shape and conflict checks: closed
    sub-key set, exactly one constraint, then each constraint and modifier in upstream order."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        return  # the wrapper target reported it
    constraints, modifiers = options["constraints"], options["modifiers"]
    known = set(constraints) | set(modifiers)
    for key in value:
        if key not in known:
            yield Hit(child(site.pointer, key), "unknown", {"key": key})
    chosen = [name for name in constraints if value.get(name) is not None]
    if len(chosen) != 1:
        code = "exactly-one-none" if not chosen else "exactly-one-many"
        yield Hit(site.pointer, code, {"constraints": "/".join(constraints), "count": len(chosen), "names": ", ".join(chosen)})
    for name in list(constraints) + list(modifiers):
        item = value.get(name)
        if item is not None:
            yield from _structured_field(ctx, site, value, name, item, child(site.pointer, name))


def _structured_field(ctx: Context, site: Site, holder: dict[str, Any], name: str, item: Any, pointer: str) -> Iterator[Hit | Change]:
    options = site.options
    if name == "json":
        if not isinstance(item, dict):
            yield Hit(pointer, "json-shape")
        else:
            yield from bounded_schema(ctx, site, holder, name, pointer, options["prefix"])
    elif name in options["regex_fields"]:
        yield from _regex_field(name, item, pointer, int(options["max_regex_len"]))
    elif name == "choice":
        yield from _choice(item, pointer, options)
    elif name == "grammar":
        yield from _grammar(item, pointer, options)
    elif name in options["bool_fields"]:
        if not isinstance(item, bool):
            yield Hit(pointer, "bool-field" if name in options["constraints"] else "flag", {"field": name})
    elif name == "structural_tag":
        yield from _structural_tag(ctx, item, pointer, options)


def _regex_field(name: str, item: Any, pointer: str, limit: int) -> Iterator[Hit]:
    if not isinstance(item, str):
        yield Hit(pointer, "regex-shape", {"field": name})
        return
    length = utf8_len(item)
    if length > limit:
        yield Hit(pointer, "regex-length", {"field": name, "length": length, "limit": limit})
        return
    error = go_regexp_error(item)
    if error is not None:
        yield Hit(pointer, "regex-compile", {"field": name, "error": error})


def _choice(item: Any, pointer: str, options: Mapping[str, Any]) -> Iterator[Hit]:
    if not isinstance(item, list) or not item:
        yield Hit(pointer, "choice-shape")
        return
    keys = ("max_choice_entries", "max_choice_entry_len", "max_choice_total")
    max_entries, max_entry, max_total = (int(options[k]) for k in keys)
    if len(item) > max_entries:
        yield Hit(pointer, "choice-count", {"count": len(item), "limit": max_entries})
        return
    total = 0
    for index, entry in enumerate(item):
        where = child(pointer, index)
        if not isinstance(entry, str):
            yield Hit(where, "choice-element", {"index": index})
            return
        length = utf8_len(entry)
        if length > max_entry:
            yield Hit(where, "choice-entry", {"index": index, "length": length, "limit": max_entry})
            return
        total += length
        if total > max_total:
            yield Hit(where, "choice-total", {"total": total, "limit": max_total})
            return


def _grammar(item: Any, pointer: str, options: Mapping[str, Any]) -> Iterator[Hit]:
    """Length, then active bracket nesting (quoted brackets count too, as upstream)."""
    if not isinstance(item, str):
        yield Hit(pointer, "grammar-shape")
        return
    length, limit = utf8_len(item), int(options["max_grammar_len"])
    if length > limit:
        yield Hit(pointer, "grammar-length", {"length": length, "limit": limit})
        return
    opening, closing = options["grammar_open"], options["grammar_close"]
    max_nesting = int(options["max_grammar_nesting"])
    depth = deepest = 0
    for ch in item:
        if ch in opening:
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_nesting:
                yield Hit(pointer, "grammar-nesting", {"depth": deepest, "limit": max_nesting})
                return
        elif ch in closing and depth > 0:
            depth -= 1


def _structural_tag(ctx: Context, item: Any, pointer: str, options: Mapping[str, Any]) -> Iterator[Hit]:
    limit = int(options["max_structural_tag_len"])
    if ctx.at_least(options["structural_tag_object_from"]):
        if not isinstance(item, dict):
            yield Hit(pointer, "structural-tag-object")
            return
        length = marshaled_size(item)
    else:
        if not isinstance(item, str):
            yield Hit(pointer, "structural-tag-string")
            return
        length = utf8_len(item)
    if length > limit:
        yield Hit(pointer, "structural-tag-length", {"length": length, "limit": limit})


# =============================================================================================
# metadata (contract.md §2.6) and chat_template_kwargs (§2.1 row 39)
# =============================================================================================


@check("metadata", options=options(required={"max_keys": "integer", "max_key_length": "integer", "max_value_length": "integer"}))
def metadata(ctx: Context, site: Site) -> Iterator[Hit]:
    """``MetadataValidator``: an object of at most ``max_keys`` string entries; byte lengths."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper")
        return
    max_keys = int(options["max_keys"])
    if len(value) > max_keys:
        yield Hit(site.pointer, "key-count", {"count": len(value), "limit": max_keys})
        return
    max_key, max_value = int(options["max_key_length"]), int(options["max_value_length"])
    for key, item in value.items():
        where = child(site.pointer, key)
        if utf8_len(key) > max_key:
            yield Hit(where, "key-length", {"key": key, "length": utf8_len(key), "limit": max_key})
        elif not isinstance(item, str):
            yield Hit(where, "value-type", {"key": key})
        elif utf8_len(item) > max_value:
            yield Hit(where, "value-length", {"key": key, "length": utf8_len(item), "limit": max_value})


@check("chat-template-kwargs", options=options(
    required={"forbidden_keys": "strings", "prefix": "string", "bounds": _BOUNDS_OPTIONS}, delegates=True))
def chat_template_kwargs(ctx: Context, site: Site) -> Iterator[Hit]:
    """``ChatTemplateKwargsValidator``: an object without keys that override
    ``apply_hf_chat_template``'s arguments, then depth / nodes / serialized size."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper")
        return
    forbidden = set(options["forbidden_keys"])
    for key in value:
        if key in forbidden:
            yield Hit(child(site.pointer, key), "forbidden", {"key": key})
    bounds = Bounds.from_options(options["bounds"])
    prefix = options["prefix"]
    problem = walk_object(value, bounds)
    if problem is not None:
        yield Hit(_pointer(site.pointer, problem.path), problem.code, {"prefix": prefix, **problem.params})
    elif marshaled_size(value, bounds.max_size) > bounds.max_size:
        yield Hit(site.pointer, "size", {"prefix": prefix, "limit": bounds.max_size})
