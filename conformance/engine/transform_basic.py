"""Transforms on top-level fields: strip, unwrap, sanitize/clamp, force, translate."""

from __future__ import annotations

import math
from typing import Any, Iterator

from ..goemu import json as gojson
from .check_basic import finite_number, is_int, is_number
from .context import Context, Site, child
from .registry import NO_OPTIONS, check, options, transform
from .types import MISSING, Change, Hit


def _delete(site: Site) -> Any:
    return site.parent.pop(site.key, MISSING) if isinstance(site.parent, dict) else MISSING


@transform("strip", options=NO_OPTIONS)
def strip(ctx: Context, site: Site) -> Iterator[Change]:
    """Removes the value before forwarding."""
    before = _delete(site)
    yield Change(site.pointer, before, MISSING, f"{site.key} removed before forwarding")


@transform("unwrap-extra-body", options=NO_OPTIONS)
def unwrap_extra_body(ctx: Context, site: Site) -> Iterator[Change]:
    """Lift ``extra_body`` keys to the top level; the top level wins; no recursion."""
    envelope = _delete(site)
    if not isinstance(envelope, dict):
        yield Change(site.pointer, envelope, MISSING, "non-object extra_body dropped")
        return
    for key, value in envelope.items():
        if key == site.key:
            continue  # a nested extra_body is ignored
        if key in ctx.body:
            yield Change(child(site.pointer, key), value, MISSING, f"extra_body.{key} ignored: top-level {key} wins", "conflict")
            continue
        ctx.body[key] = value
        ctx.state.setdefault("lifted", set()).add(key)
        yield Change(child("", key), MISSING, value, f"extra_body.{key} lifted to the top level")
    yield Change(site.pointer, MISSING, MISSING, "extra_body envelope removed", "envelope")


@transform("sanitize-float", options=options(optional={"min": "number", "max": "number"}))
def sanitize_float(ctx: Context, site: Site) -> Iterator[Change]:
    """``SanitizeFloatParameter``: numeric strings become numbers, other values vanish, clamp."""
    before = site.value
    if before is None:
        return
    number = finite_number(before)
    if number is None:
        _delete(site)
        yield Change(site.pointer, before, MISSING, f"non-numeric or non-finite {site.key} removed", "removed")
        return
    low, high = site.options.get("min"), site.options.get("max")
    clamped = number
    if low is not None and clamped < low:
        clamped = float(low)
    if high is not None and clamped > high:
        clamped = float(high)
    if isinstance(before, str) or clamped != number:
        site.parent[site.key] = clamped
        detail = f"{site.key} clamped to [{_fmt(low)}, {_fmt(high)}]" if clamped != number else f"string {site.key} converted to a number"
        yield Change(site.pointer, before, clamped, detail, "clamped" if clamped != number else "converted")
    else:
        site.parent[site.key] = number  # Go re-encodes the float64, not the client's literal


def _fmt(value: Any) -> str:
    return "-inf" if value is None else gojson.go_float(float(value))


@transform("force-value", options=options(required={"value": "number"}, optional={"only_uint": "boolean"}))
def force_value(ctx: Context, site: Site) -> Iterator[Change]:
    """Overwrite a present value (``only_uint``: only when it is a non-negative integer)."""
    if site.options.get("only_uint") and not (is_int(site.value) and site.value >= 0):
        return
    if site.value is None:  # null counts as absent
        return
    value = site.options["value"]
    if _same(site.value, value):
        return
    site.parent[site.key] = value
    yield Change(site.pointer, site.value, value, f"{site.key} forced to {gojson.dumps(value)}")


@transform("write-value", options=options(required={"value": "any"}), when_absent=True)
def write_value(ctx: Context, site: Site) -> Iterator[Change]:
    """Always write a value, whether or not the client sent the field."""
    value = site.options["value"]
    if site.parent is None or _same(site.value, value):
        return
    site.parent[site.key] = value
    yield Change(site.pointer, site.value, value, f"{site.key} forced to {gojson.dumps(value)}")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@transform("clamp-uint", options=options(required={"max": "integer"}))
def clamp_uint(ctx: Context, site: Site) -> Iterator[Change]:
    """An integer above ``max`` is lowered to ``max``."""
    limit = site.options["max"]
    if is_int(site.value) and site.value > limit:
        site.parent[site.key] = limit
        yield Change(site.pointer, site.value, limit, f"{site.key} capped at {limit}")


@transform("floor-int", options=options(required={"min": "integer"}))
def floor_int(ctx: Context, site: Site) -> Iterator[Change]:
    """Raise an integer (or any number, ``numbers: true``) below ``min`` up to ``min``."""
    value, low = site.value, site.options["min"]
    if is_int(value) and value < low:
        site.parent[site.key] = low
        yield Change(site.pointer, value, low, f"{site.key} raised to {low}")


@transform("clamp-n", options=options(required={"min": "integer", "max": "integer"},
                                      optional={"one_when_temperature_zero": "boolean"}))
def clamp_n(ctx: Context, site: Site) -> Iterator[Change]:
    """Legacy ``n``: clamp to [min, max]; 1 when the raw temperature is 0."""
    value = site.value
    if not (is_int(value) and value >= 0):
        return  # typed decode reports it
    target = min(max(value, site.options["min"]), site.options["max"])
    if site.options.get("one_when_temperature_zero") and finite_number(ctx.body.get("temperature")) == 0:
        target = 1
    if target != value:
        site.parent[site.key] = target
        yield Change(site.pointer, value, target, f"n coerced to {target}")


@transform("filter-stream-options", options=options(required={"keep": "strings"}))
def filter_stream_options(ctx: Context, site: Site) -> Iterator[Change | Hit]:
    """Drops stream_options unless stream is true; keeps only the ``keep`` keys."""
    value = site.value
    if ctx.body.get("stream") is not True:
        _delete(site)
        yield Change(site.pointer, value, MISSING, "stream_options removed: stream is not true", "not-streaming")
        return
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper", params={"field": site.key})
        return
    keep = set(site.options["keep"])
    for key in [k for k in value if k not in keep]:
        yield Change(child(site.pointer, key), value.pop(key), MISSING, f"stream_options.{key} removed")
    if not value:
        _delete(site)
        yield Change(site.pointer, {}, MISSING, "empty stream_options removed")


@transform("filter-float-map", options=options(required={"min": "number", "max": "number"}))
def filter_float_map(ctx: Context, site: Site) -> Iterator[Change]:
    """``SanitizeFloatMapParameter``: drop out-of-range or non-finite numbers; keep the rest."""
    value = site.value
    if not isinstance(value, dict):
        return
    low, high = site.options["min"], site.options["max"]
    for key in list(value):
        entry = value[key]
        if is_number(entry):
            number = _as_float(entry)
            if number is None or not math.isfinite(number) or not low <= number <= high:
                del value[key]
                yield Change(child(site.pointer, key), entry, MISSING, f"{site.key} entry outside [{low}, {high}] dropped")
    if not value:
        _delete(site)
        yield Change(site.pointer, {}, MISSING, f"{site.key} removed: no entries left", "emptied")


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except OverflowError:
        return None


@transform("strip-blank-strings", options=NO_OPTIONS)
def strip_blank_strings(ctx: Context, site: Site) -> Iterator[Change]:
    """Drops blank strings from a string list (Go's TrimSpace); an emptied list is removed."""
    value = site.value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return
    # SanitizeStringListParameter: Go's TrimSpace decides blankness; with DropFieldIfEmpty an
    # emptied list, or one that was empty to begin with, is removed.
    kept = [v for v in value if gojson.go_trim_space(v)]
    if kept and len(kept) == len(value):
        return
    if kept:
        site.parent[site.key] = kept
        yield Change(site.pointer, value, kept, f"blank {site.key} entries removed")
    else:
        _delete(site)
        yield Change(site.pointer, value, MISSING, f"{site.key} removed: only blank entries", "emptied")


@transform("translate-reasoning", options=options(optional={"enabled_false_effort": "string"}))
def translate_reasoning(ctx: Context, site: Site) -> Iterator[Change]:
    """OpenRouter ``reasoning`` → ``reasoning_effort``; the wrapper is always removed."""
    value = _delete(site)
    yield Change(site.pointer, value, MISSING, "reasoning wrapper removed")
    if not isinstance(value, dict) or "reasoning_effort" in ctx.body:
        return
    if value.get("enabled") is False:
        effort = site.options.get("enabled_false_effort")
        if effort is not None:
            ctx.body["reasoning_effort"] = effort
            yield Change("/reasoning_effort", MISSING, effort, f"reasoning.enabled=false recorded as reasoning_effort {effort!r}", "opt-out")
        return
    if "effort" in value:
        ctx.body["reasoning_effort"] = value["effort"]
        yield Change("/reasoning_effort", MISSING, value["effort"], "reasoning.effort lifted to reasoning_effort", "lifted")


@transform("move-into-template-kwargs", options=options(optional={"require_bool": "boolean", "key": "string"}))
def move_into_template_kwargs(ctx: Context, site: Site) -> Iterator[Change | Hit]:
    """``enable_thinking`` → ``chat_template_kwargs.<key>``; an existing kwarg wins."""
    value = site.value
    if site.options.get("require_bool") and not isinstance(value, bool):
        yield Hit(site.pointer, "not-bool", params={"field": site.key, "type": gojson.go_type_name(value)})
        return
    _delete(site)
    key = site.options.get("key", site.key)
    yield from _into_template(ctx, key, value, site.pointer)


def _into_template(ctx: Context, key: str, value: Any, source: str) -> Iterator[Change]:
    kwargs = ctx.body.get("chat_template_kwargs")
    if kwargs is None:
        kwargs = ctx.body["chat_template_kwargs"] = {}
    if not isinstance(kwargs, dict):
        yield Change(source, value, MISSING, f"{source[1:]} dropped: chat_template_kwargs is not an object")
        return
    if key in kwargs:
        yield Change(source, value, MISSING, f"{source[1:]} dropped: chat_template_kwargs.{key} already set", "kept-existing")
        return
    kwargs[key] = value
    yield Change(f"/chat_template_kwargs/{key}", MISSING, value, f"{source[1:]} moved into chat_template_kwargs.{key}")


@check("validate-thinking", options=options(required={"types": "strings"}))
def validate_thinking(ctx: Context, site: Site) -> Iterator[Hit]:
    """The thinking object: an object whose ``type`` is one of ``types``."""
    value = site.value
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper", params={"field": site.key})
        return
    kind = value.get("type", MISSING)
    accepted = site.options["types"]
    if kind is MISSING or kind is None:
        yield Hit(site.pointer + "/type", "type-required", params={})
    elif not isinstance(kind, str):
        yield Hit(site.pointer + "/type", "type-string", params={})
    elif kind not in accepted:
        yield Hit(site.pointer + "/type", "type-value", params={"value": kind})


@transform("normalize-thinking", options=options(required={"enabled_aliases": "strings"}, delegates=True))
def normalize_thinking(ctx: Context, site: Site) -> Iterator[Change]:
    """Non-Kimi routes: ``adaptive``/``auto`` → ``enabled``; ``display`` removed (delegated)."""
    value = site.value
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return
    enabled = site.options["enabled_aliases"]
    if value["type"] in enabled and value["type"] != "enabled" and ctx.code_applies(site, "type"):
        before = value["type"]
        value["type"] = "enabled"
        yield Change(site.pointer + "/type", before, "enabled", f"thinking.type {before!r} normalized to 'enabled'", "type")
    if "display" in value and ctx.code_applies(site, "display"):
        yield Change(site.pointer + "/display", value.pop("display"), MISSING, "thinking.display removed", "display")


@transform("mirror-thinking", options=options(required={"enabled_aliases": "strings"}))
def mirror_thinking(ctx: Context, site: Site) -> Iterator[Change]:
    """Kimi: the thinking switch becomes ``chat_template_kwargs.thinking``; top level removed."""
    value = _delete(site)
    yield Change(site.pointer, value, MISSING, "top-level thinking removed", "removed")
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        enabled = value["type"] in site.options["enabled_aliases"]
        yield from _into_template(ctx, "thinking", enabled, site.pointer)
