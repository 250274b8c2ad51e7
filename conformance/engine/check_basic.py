"""Checks on the raw body and on single top-level fields (type, range, length, enum)."""

from __future__ import annotations

import math
from typing import Any, Iterator, TypeGuard

from ..goemu import json as gojson
from .context import Context, Site, child
from .registry import NO_OPTIONS, check, options, transform
from .types import MISSING, Hit

UINT64_MAX = 2**64 - 1


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer literal (Go ``json.Number.Int64`` succeeds); booleans are not. ``-0``
    is one: it is kept as a signed literal (:func:`goemu.json._parse_int`), and ParseInt reads 0."""
    if isinstance(value, int):
        return not isinstance(value, bool)
    return getattr(value, "literal", None) == "-0"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


# --- read / scan / parse ----------------------------------------------------------------


@check("body-size", options=options(required={"limit": "integer"}), when_absent=True)
def body_size(ctx: Context, site: Site) -> Iterator[Hit]:
    """The raw body is longer than ``limit`` bytes."""
    limit = int(site.options["limit"])
    if len(ctx.raw) > limit:
        yield Hit("", params={"limit": limit, "size": len(ctx.raw)})


@check("raw-nesting-depth", options=options(required={"limit": "integer"}), when_absent=True)
def raw_nesting_depth(ctx: Context, site: Site) -> Iterator[Hit]:
    """The body nests deeper than ``limit`` (measured before decoding, as upstream)."""
    limit = int(site.options["limit"])
    # Upstream scans the raw bytes before decoding. For a body that is exactly one JSON value
    # the decoded tree has the same depth and is far cheaper to measure on a large body, so
    # decode first (the parse stage reuses the result); invalid JSON, trailing bytes or
    # nesting beyond Python's recursion limit get the byte scan itself.
    try:
        body, whole = gojson.decode_document(ctx.raw)
    except gojson.GoJSONError:
        whole = False
    else:
        ctx.state["decoded"] = body
        ctx.state["whole"] = whole
    exceeded = gojson.tree_depth_exceeds(body, limit) if whole else gojson.nesting_depth_exceeds(ctx.raw, limit)
    if exceeded:
        yield Hit("", params={"limit": limit})


@transform("parse-json-object", options=NO_OPTIONS, when_absent=True)
def parse_json_object(ctx: Context, site: Site) -> Iterator[Hit]:
    """Decodes the raw body as Go does; it must be a JSON object."""
    if "decoded" in ctx.state:  # decoded by the depth check already
        body = ctx.state.pop("decoded")
        ctx.body = body if body is not None else {}
        return
    try:
        body = gojson.decode_object(ctx.raw)
    except gojson.GoJSONError as exc:
        ctx.body = {}
        yield Hit("", params={"error": exc.message, "position": exc.position})
        return
    ctx.body = body if body is not None else {}


# --- allowlist ----------------------------------------------------------------------------


@check("present", options=NO_OPTIONS)
def present(ctx: Context, site: Site) -> Iterator[Hit]:
    """The path selects a value at all (for rules that reject a field outright)."""
    yield Hit(site.pointer, params={"name": site.key, "field": site.key})


@check("allowlist", options=options(required={"allowed": "strings"}, optional={"families": "string-lists"}, delegates=True),
       when_absent=True)
def allowlist(ctx: Context, site: Site) -> Iterator[Hit]:
    """Top-level keys outside ``allowed`` (a key in ``families`` reports that code instead of ``default``)."""
    allowed = set(site.options["allowed"])
    family_of = {name: code for code, names in (site.options.get("families") or {}).items() for name in names}
    for key in list(ctx.body):
        if key != "" and key not in allowed:
            yield Hit(child("", key), family_of.get(key, "default"), params={"name": key})


@check("empty-key", options=NO_OPTIONS, when_absent=True)
def empty_key(ctx: Context, site: Site) -> Iterator[Hit]:
    """The body has an empty-string key."""
    if "" in ctx.body:
        yield Hit("/", params={})


# --- scalar types -------------------------------------------------------------------------


@check("uint", options=options(optional={"code": "string"}))
def uint(ctx: Context, site: Site) -> Iterator[Hit]:
    """The value is not an integer in the uint64 range; null counts as absent (hit code ``code``)."""
    value = site.value
    if value is None:  # null counts as absent
        return
    if not (is_int(value) and 0 <= value <= UINT64_MAX):
        yield Hit(site.pointer, site.options.get("code", "default"), params={"field": site.key})


@check("bool", options=options(optional={"code": "string"}))
def boolean(ctx: Context, site: Site) -> Iterator[Hit]:
    """The value is neither a boolean nor null (hit code ``code``, default ``default``)."""
    value = site.value
    if value is None:  # null counts as absent
        return
    if not isinstance(value, bool):
        yield Hit(site.pointer, site.options.get("code", "default"), params={"field": site.key, "type": gojson.go_type_name(value)})


@check("greater-than", options=options(optional={"min": "number", "code": "string"}))
def greater_than(ctx: Context, site: Site) -> Iterator[Hit]:
    """Reject a (sanitized) number at or below ``min``; non-numbers were handled earlier."""
    value = site.value
    if is_number(value) and value <= site.options.get("min", 0):
        yield Hit(site.pointer, site.options.get("code", "default"), params={"field": site.key})


@check("top-k", options=options(optional={"code": "string"}))
def top_k(ctx: Context, site: Site) -> Iterator[Hit]:
    """A number that is neither -1 nor at least 1 (hit code ``code``)."""
    value = site.value
    if is_number(value) and not (value == -1 or value >= 1):
        yield Hit(site.pointer, site.options.get("code", "default"), params={"field": site.key})


@check("bounded-string", options=options(required={"max_length": "integer"}))
def bounded_string(ctx: Context, site: Site) -> Iterator[Hit]:
    """The value is not a string, or is longer than ``max_length`` UTF-8 bytes."""
    value = site.value
    if not isinstance(value, str):
        yield Hit(site.pointer, "wrapper", params={"field": site.key})
        return
    limit = int(site.options["max_length"])
    length = utf8_len(value)
    if length > limit:
        yield Hit(site.pointer, "too-long", params={"field": site.key, "length": length, "limit": limit})


@check("enum", options=options(required={"values": "strings"}))
def enum(ctx: Context, site: Site) -> Iterator[Hit]:
    """The value is not a string, or not one of ``values``."""
    value = site.value
    if not isinstance(value, str):
        yield Hit(site.pointer, "shape", params={"field": site.key})
    elif value not in site.options["values"]:
        yield Hit(site.pointer, "unsupported", params={"field": site.key, "value": value})


# --- arrays and maps ----------------------------------------------------------------------


@check("string-elements", options=NO_OPTIONS)
def string_elements(ctx: Context, site: Site) -> Iterator[Hit]:
    """Elements of the array that are not strings."""
    if not isinstance(site.value, list):
        return
    for index, item in enumerate(site.value):
        if not isinstance(item, str):
            yield Hit(child(site.pointer, index), "not-string", params={"field": site.key, "index": index})


@check("list-bounds", options=options(optional={"max_entries": "integer", "max_length": "integer"}))
def list_bounds(ctx: Context, site: Site) -> Iterator[Hit]:
    """``LengthCapListParameter``: at most ``max_entries`` items, strings at most ``max_length`` bytes."""
    value = site.value
    if not isinstance(value, list):
        return
    limit = site.options.get("max_entries")
    if limit is not None and len(value) > limit:
        yield Hit(site.pointer, "too-many", params={"field": site.key, "count": len(value), "limit": limit})
        return
    max_length = site.options.get("max_length")
    if max_length is None:
        return
    for index, item in enumerate(value):
        if isinstance(item, str) and utf8_len(item) > max_length:
            yield Hit(child(site.pointer, index), "too-long",
                      params={"field": site.key, "index": index, "length": utf8_len(item), "limit": max_length})


@check("uint-elements", options=NO_OPTIONS)
def uint_elements(ctx: Context, site: Site) -> Iterator[Hit]:
    """Elements of the array that are not integers in the uint64 range."""
    if not isinstance(site.value, list):
        return
    for index, item in enumerate(site.value):
        if not (is_int(item) and 0 <= item <= UINT64_MAX):
            yield Hit(child(site.pointer, index), "not-uint", params={"field": site.key, "index": index})


@check("map-size", options=options(required={"max_entries": "integer"}))
def map_size(ctx: Context, site: Site) -> Iterator[Hit]:
    """An object with more than ``max_entries`` members."""
    limit = int(site.options["max_entries"])
    if isinstance(site.value, dict) and len(site.value) > limit:
        yield Hit(site.pointer, params={"field": site.key, "count": len(site.value), "limit": limit})


# --- typed decode (pipeline step 7) ---------------------------------------------------------


@check("typed-decode", options=options(required={"strings": "strings", "booleans": "strings"}, optional={"integers": "strings"},
                                       delegates=True), when_absent=True)
def typed_decode(ctx: Context, site: Site) -> Iterator[Hit]:
    """``readChatRequestFields``: string, boolean and non-negative integer fields (lists in YAML).

    A JSON ``null`` counts as absent; ``json.Number.Int64`` rejects strings, fractions and
    even ``100.0``.
    """
    body = ctx.body
    for code, fields, wanted in (("string", "strings", str), ("boolean", "booleans", bool)):
        for name in site.options.get(fields, ()):
            value = body.get(name)
            if value is not None and not isinstance(value, wanted):
                yield Hit(child("", name), code, params={"field": name})
    for name in site.options.get("integers", ()):
        value = body.get(name, MISSING)
        if value is MISSING or value is None:
            continue
        if not (is_int(value) and value >= 0 and value <= 2**63 - 1):
            yield Hit(child("", name), "integer", params={"field": name})


def finite_number(value: Any) -> float | None:
    """``SanitizeFloatParameter``'s reading: numbers and numeric strings, finite only."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        parsed = gojson.parse_go_float(value)
        if parsed is None:
            return None
        number = parsed
    else:
        return None
    return number if math.isfinite(number) else None

