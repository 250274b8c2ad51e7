"""A JSON instance valid against a JSON Schema, deterministic for a seed: what the simulated
model answers for ``response_format: json_schema``, ``structured_outputs.json`` and tool-call
arguments, as xgrammar-constrained decoding would.

It covers the schema subset the gateway forwards (types, enum/const, properties/required,
additionalProperties, items/prefixItems and their bounds, numeric and string bounds, formats,
patterns, anyOf/oneOf/allOf, local ``$ref``). Every candidate is checked with ``jsonschema``;
a schema it cannot satisfy (contradictory bounds, an exotic pattern) gives its best effort.
The parameters live in ``simulation.yaml``.
"""

from __future__ import annotations

import functools
import math
import random
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # typeshed types the regex parser under its deprecated public names only
    import sre_constants as sre_c
    import sre_parse
else:  # the same modules without the deprecation warning
    import re._constants as sre_c  # the regex AST node kinds, to generate strings from patterns
    import re._parser as sre_parse

from ..common.decoded import get_as
from ..common.pointers import split_pointer

_FORMATS = {
    "date-time": "2026-01-02T03:04:05Z", "date": "2026-01-02", "time": "03:04:05Z", "email": "user@example.com",
    "uri": "https://example.com/a", "url": "https://example.com/a", "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "hostname": "example.com", "ipv4": "192.0.2.1", "ipv6": "2001:db8::1",
}
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


@functools.lru_cache(maxsize=1)
def parameters() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("simulation.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def instance(schema: Any, seed: int) -> Any:
    """A value valid against ``schema`` (best effort), the same for the same seed."""
    generator = _Generator(schema if isinstance(schema, dict) else {}, random.Random(seed))
    return generator.value(schema, 0)


def is_valid(schema: Any, value: Any) -> bool:
    # jsonschema loads here, on the first structured answer, not with the gateway (a tenth of
    # the embedded run's start-up)
    import jsonschema
    import referencing.exceptions  # jsonschema's own dependency (>= 4.18): the base of its $ref errors

    try:
        return jsonschema.Draft202012Validator(schema if isinstance(schema, (dict, bool)) else {}).is_valid(value)
    except (jsonschema.exceptions.SchemaError, referencing.exceptions.Unresolvable, RecursionError,
            re.error, TypeError, ValueError):
        return False


class _Generator:
    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.p = parameters()["structure"]

    def value(self, schema: Any, depth: int) -> Any:
        if schema is True or not isinstance(schema, dict):
            return self.rng.choice(_WORDS) if schema is not False else None
        if depth > self.p["max_depth"]:
            return None
        schema = self._resolve(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            valid = [v for v in schema["enum"] if is_valid({k: v2 for k, v2 in schema.items() if k != "enum"}, v)]
            return self.rng.choice(valid or schema["enum"])
        for key in ("oneOf", "anyOf"):
            arms = schema.get(key)
            if isinstance(arms, list) and arms:
                rest = {k: v for k, v in schema.items() if k != key}
                order = list(range(len(arms)))
                self.rng.shuffle(order)
                candidate = None
                for index in order[: self.p["attempts"]]:
                    candidate = self.value(_merge(rest, arms[index]), depth + 1)
                    if is_valid(schema, candidate):
                        return candidate
                return candidate
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or ["null"]
            kind = kinds[0]
        if kind is None:
            kind = _implied_type(schema)
        return getattr(self, f"_{kind}", self._string)(schema, depth)

    def _resolve(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and depth <= self.p["max_depth"]:
            target: Any = self.root
            for part in split_pointer(ref[1:]):
                target = target.get(part) if isinstance(target, dict) else None
            if isinstance(target, dict):
                schema = _merge({k: v for k, v in schema.items() if k != "$ref"}, self._resolve(target, depth + 1))
        arms = schema.get("allOf")
        if isinstance(arms, list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for arm in arms:
                if isinstance(arm, dict):
                    merged = _merge(merged, self._resolve(arm, depth + 1))
            schema = merged
        return schema

    def _null(self, schema: dict[str, Any], depth: int) -> None:
        return None

    def _boolean(self, schema: dict[str, Any], depth: int) -> bool:
        return self.rng.random() < self.p["true_probability"]

    def _integer(self, schema: dict[str, Any], depth: int) -> int:
        low, high = _bounds(schema, integer=True)
        step = schema.get("multipleOf") if isinstance(schema.get("multipleOf"), (int, float)) else 1
        span, most = self.p["integer_span"], self.p["integer_candidates"]
        start = low if low is not None else (high - span if high is not None else self.p["integer"])
        stop = high if high is not None else start + span
        candidates = [v for v in range(int(start), int(stop) + 1) if step and v % step == 0][:most] or [int(start)]
        return self.rng.choice(candidates)

    def _number(self, schema: dict[str, Any], depth: int) -> float | int:
        low, high = _bounds(schema, integer=False)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
            base = low if low is not None else (high if high is not None else step)
            value = step * math.ceil(base / step)
            if high is not None and value > high:
                value = step * math.floor(high / step)
            return value
        if low is not None and high is not None:
            return round(low + (high - low) * self.rng.random(), 6) if high > low else low
        if low is not None:
            return low + self.p["number"]
        if high is not None:
            return high - self.p["number"]
        return self.p["number"]

    def _string(self, schema: dict[str, Any], depth: int) -> str:
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            text = _from_pattern(pattern, self.rng)
            if text is not None:
                return text
        text = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if text is None:
            text = " ".join(self.rng.choice(_WORDS) for _ in range(self.p["string_words"]))
        low = get_as(schema, "minLength", int, 0)
        high = get_as(schema, "maxLength", int, None)
        while len(text) < low:
            text += self.rng.choice("abcdefghij")
        return text[:high] if high is not None else text

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix: list[Any] = get_as(schema, "prefixItems", list, [])
        low = get_as(schema, "minItems", int, 0)
        high = get_as(schema, "maxItems", int, None)
        count = max(low, len(prefix), self.p["array_items"] if schema.get("items") is not False else len(prefix))
        if high is not None:
            count = min(count, high)
        items: list[Any] = []
        for index in range(count):
            item_schema = prefix[index] if index < len(prefix) else schema.get("items", {})
            item = self.value(item_schema, depth + 1)
            if schema.get("uniqueItems") is True:
                tries = 0
                while item in items and tries < self.p["attempts"]:
                    item, tries = self.value(item_schema, depth + 1), tries + 1
                if item in items:
                    break
            items.append(item)
        return items

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = get_as(schema, "properties", dict, {})
        required = [n for n in schema.get("required", []) if isinstance(n, str)] \
            if isinstance(schema.get("required"), list) else []
        names = required or list(props)  # the required ones; all of them when none is required
        out = {name: self.value(props.get(name, schema.get("additionalProperties", {})), depth + 1) for name in names}
        low = get_as(schema, "minProperties", int, 0)
        extra = schema.get("additionalProperties", True)
        index = 0
        while len(out) < low and extra is not False:
            out[f"{_WORDS[index % len(_WORDS)]}_{index}"] = self.value(extra if isinstance(extra, dict) else {}, depth + 1)
            index += 1
        return out


def _implied_type(schema: dict[str, Any]) -> str:
    if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _merge(base: dict[str, Any], extra: Any) -> dict[str, Any]:
    if not isinstance(extra, dict):
        return base
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key == "required" and isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            merged[key] = value
    return merged


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float | None, float | None]:
    def number(key: str) -> float | None:
        value = schema.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    low, high = number("minimum"), number("maximum")
    exclusive_low, exclusive_high = number("exclusiveMinimum"), number("exclusiveMaximum")
    nudge = 1 if integer else 1e-6
    if exclusive_low is not None:
        low = max(low, exclusive_low + nudge) if low is not None else exclusive_low + nudge
    if exclusive_high is not None:
        high = min(high, exclusive_high - nudge) if high is not None else exclusive_high - nudge
    if integer:
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
    return low, high


def _from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string ``re.search`` finds ``pattern`` in (Go's RE2 syntax is a subset of Python's for
    what the gateway accepts); None when the pattern is beyond this small generator."""
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    try:
        text = _emit(tree, rng, 0)
    except (_Unsupported, RecursionError):
        return None
    try:
        return text if re.search(pattern, text) else None
    except re.error:
        return None


class _Unsupported(Exception):
    pass


def _emit(tree: Any, rng: random.Random, depth: int) -> str:
    if depth > parameters()["structure"]["pattern_depth"]:
        raise _Unsupported
    out = []
    for op, arg in tree:
        if op is sre_c.LITERAL:
            out.append(chr(arg))
        elif op is sre_c.ANY:
            out.append("a")
        elif op is sre_c.IN:
            out.append(_one_of(arg, rng))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            count = max(low, 1) if high == sre_c.MAXREPEAT else min(high, max(low, 1))
            out.extend(_emit(sub, rng, depth + 1) for _ in range(count))
        elif op is sre_c.SUBPATTERN:
            out.append(_emit(arg[-1], rng, depth + 1))
        elif op is sre_c.BRANCH:
            out.append(_emit(arg[1][0], rng, depth + 1))
        elif op is sre_c.AT:
            continue
        else:
            raise _Unsupported
    return "".join(out)


def _one_of(items: list[Any], rng: random.Random) -> str:
    if items and items[0][0] is sre_c.NEGATE:
        for candidate in "aZ0_-":
            if not _in_class(items[1:], candidate):
                return candidate
        raise _Unsupported
    op, arg = items[0]
    if op is sre_c.LITERAL:
        return chr(arg)
    if op is sre_c.RANGE:
        return chr(arg[0])
    if op is sre_c.CATEGORY:
        return {sre_c.CATEGORY_DIGIT: "7", sre_c.CATEGORY_WORD: "w", sre_c.CATEGORY_SPACE: " ",
                sre_c.CATEGORY_NOT_DIGIT: "a", sre_c.CATEGORY_NOT_WORD: "-", sre_c.CATEGORY_NOT_SPACE: "x"}.get(arg, "a")
    raise _Unsupported


def _in_class(items: list[Any], char: str) -> bool:
    code = ord(char)
    for op, arg in items:
        if op is sre_c.LITERAL and arg == code:
            return True
        if op is sre_c.RANGE and arg[0] <= code <= arg[1]:
            return True
        if op is sre_c.CATEGORY:
            return True  # conservative: treat categories as matching, so another candidate is tried
    return False
