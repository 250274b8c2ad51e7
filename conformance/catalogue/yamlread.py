"""Bounded YAML reading: a catalogue file to plain data plus the line of every value.

A catalogue can come from anyone (``--catalogue DIR``), so reading one is bounded in time and
memory, and every problem is one ``file:line: what`` line:

* the file itself is read by :mod:`.files` (regular files only, up to a size limit);
* the YAML events are turned into data here, without a node tree and without recursion:
  nesting deeper than :data:`MAX_DEPTH` stops the read, and so does a document of more than
  :data:`MAX_VALUES` values, an alias counting at its expanded size (a "billion laughs" alias
  bomb stops within a few thousand events);
* only JSON's types are built (strings, numbers, booleans, null, mappings with string keys,
  sequences): any other tag, a merge key or a duplicate key is an error; dates stay strings.

libyaml's parser is used where it exists (ten times faster); the pure-Python one otherwise.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

MAX_DEPTH = 64  # mappings and sequences inside each other (the catalogue needs about 12)
MAX_VALUES = 100_000  # values in one file, aliases expanded (the largest packaged one has about 4,000)

_JSON_SCALARS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class YamlProblem(Exception):
    """One ``file:line: what`` problem."""


def _without_timestamps(base: type) -> type:
    """A loader class whose plain scalars never become dates: every value must survive JSON."""
    loader = type(f"Catalogue{base.__name__}", (base,), {})
    loader.yaml_implicit_resolvers = {  # type: ignore[attr-defined]
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()  # type: ignore[attr-defined]
    }
    return loader


PY_LOADER = _without_timestamps(yaml.SafeLoader)
C_LOADER = _without_timestamps(yaml.CSafeLoader) if hasattr(yaml, "CSafeLoader") else None
LOADER = C_LOADER or PY_LOADER  # tests swap in PY_LOADER to check both


def parse(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    """The document's data and ``{path: line}`` for every value (``path`` a tuple of keys and
    indexes; the values an alias copies are found at the alias's line)."""
    loader = LOADER(text)
    try:
        return _Builder(loader, filename).document()
    except yaml.YAMLError as exc:
        raise YamlProblem(yaml_problem(exc, filename)) from None
    finally:
        loader.dispose()


def yaml_problem(exc: yaml.YAMLError, filename: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark is not mark:
        problem = f"{problem} ({context} at line {context_mark.line + 1})"
    return f"{filename}:{line}: invalid YAML: {problem}"


_NO_KEY = object()
_OPEN = object()  # an anchor whose collection is still being read


class _Open:
    """A mapping or sequence being filled."""

    __slots__ = ("value", "path", "anchor", "size", "key")

    def __init__(self, value: dict[str, Any] | list[Any], path: tuple, anchor: str | None) -> None:
        self.value = value
        self.path = path
        self.anchor = anchor
        self.size = 1  # values inside, aliases expanded
        self.key: Any = _NO_KEY


class _Builder:
    def __init__(self, loader: Any, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.lines: dict[tuple, int] = {}
        self.anchors: dict[str, Any] = {}
        self.count = 0

    def problem(self, line: int, message: str) -> YamlProblem:
        return YamlProblem(f"{self.filename}:{line}: {message}")

    def document(self) -> tuple[Any, dict[tuple, int]]:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None, self.lines
        loader.get_event()  # document start
        data = self.node()
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            line = loader.get_event().start_mark.line + 1
            raise self.problem(line, "invalid YAML: expected a single document in the stream, but found another")
        return data, self.lines

    def node(self) -> Any:
        """The next node, read iteratively."""
        stack: list[_Open] = []
        get = self.loader.get_event
        while True:
            event = get()
            line = event.start_mark.line + 1
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = stack.pop()
                if done.anchor is not None:
                    self.anchors[done.anchor] = (done.value, done.size)
                if not stack:
                    return done.value
                stack[-1].size += done.size
                continue
            parent = stack[-1] if stack else None
            if parent is not None and parent.key is _NO_KEY and isinstance(parent.value, dict):
                parent.key = self.key(event, parent.value, line)
                continue
            if parent is None:
                path: tuple = ()
            elif isinstance(parent.value, dict):
                path = parent.path + (parent.key,)
            else:
                path = parent.path + (len(parent.value),)
            self.lines[path] = line
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                opened = self.open(event, path, depth=len(stack), line=line)
                self.attach(parent, opened.value)
                stack.append(opened)
                continue
            value, size = self.scalar_or_alias(event, line)
            self.add(size, line)
            if parent is None:
                return value
            parent.size += size
            self.attach(parent, value)

    def open(self, event: Any, path: tuple, *, depth: int, line: int) -> _Open:
        if depth >= MAX_DEPTH:
            raise self.problem(line, f"nested deeper than the limit of {MAX_DEPTH} levels")
        if event.tag not in _COLLECTION_TAGS:
            raise self.problem(line, f"invalid YAML: could not determine a constructor for the tag {event.tag!r}")
        if event.anchor is not None:
            self.anchors[event.anchor] = _OPEN
        self.add(1, line)
        return _Open({} if isinstance(event, yaml.MappingStartEvent) else [], path, event.anchor)

    @staticmethod
    def attach(parent: _Open | None, value: Any) -> None:
        if parent is None:
            return
        if isinstance(parent.value, dict):
            parent.value[parent.key] = value
            parent.key = _NO_KEY
        else:
            parent.value.append(value)

    def key(self, event: Any, mapping: dict[str, Any], line: int) -> str:
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            raise self.problem(line, "mapping keys must be strings, got a collection")
        key, size = self.scalar_or_alias(event, line)
        self.add(size, line)
        if not isinstance(key, str):
            raise self.problem(line, f"mapping keys must be strings, got {key!r}")
        if key in mapping:
            raise self.problem(line, f"duplicate key {key!r}")
        return key

    def scalar_or_alias(self, event: Any, line: int) -> tuple[Any, int]:
        if isinstance(event, yaml.AliasEvent):
            found = self.anchors.get(event.anchor or "")
            if found is None:
                raise self.problem(line, f"invalid YAML: found undefined alias {event.anchor!r}")
            if found is _OPEN:
                raise self.problem(line, "an alias refers to the node that contains it")
            value, size = found
            if self.count + size > MAX_VALUES:  # before copying: the copy stays bounded too
                self.add(size, line)
            return copy.deepcopy(value), size
        if not isinstance(event, yaml.ScalarEvent):
            raise self.problem(line, f"invalid YAML: unexpected {type(event).__name__}")
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag not in _JSON_SCALARS:
            raise self.problem(line, f"invalid YAML: could not determine a constructor for the tag {tag!r}")
        # (ignored arg-type: the C parser's Mark is accepted at runtime; the stubs type only the pure-Python one)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
        value = self.loader.yaml_constructors[tag](self.loader, node)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        return value, 1

    def add(self, size: int, line: int) -> None:
        self.count += size
        if self.count > MAX_VALUES:
            raise self.problem(line, f"more than {MAX_VALUES} values, aliases counted at their expanded size "
                                     "(an alias bomb?)")
