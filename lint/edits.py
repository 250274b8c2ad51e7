"""Textual edits on a JSON text, so that a fix changes only what it must.

Fixes are expressed as changes to the client's document (remove, replace, add, rename at a
JSON pointer); this module turns them into ``(start, end, text)`` edits on the source with the
help of the :mod:`locate` index, keeping the file's own layout: key order, indentation,
separators and every untouched byte stay as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]  # defined at runtime; typeshed omits it
from typing import Any, Iterable

from gonka_conformance.common.pointers import join_pointer, split_pointer

from .locate import Container, Member, SourceIndex


class EditError(Exception):
    """A change cannot be expressed on this text (the pointer is gone, the shape differs)."""


# --- changes on the document ---------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON value given as source text, copied verbatim (keeps the client's number text)."""

    text: str


@dataclass(frozen=True)
class Remove:
    pointer: str


@dataclass(frozen=True)
class Replace:
    pointer: str
    value: Any


@dataclass(frozen=True)
class Add:
    """Set ``key`` in the object at ``parent``: replaced in place if present, else appended."""

    parent: str
    key: str
    value: Any


@dataclass(frozen=True)
class Rename:
    """Replace an object member by ``key: value`` at the same place."""

    pointer: str
    key: str
    value: Any


Change = Remove | Replace | Add | Rename


@dataclass(frozen=True, order=True)
class Edit:
    start: int
    end: int
    text: str


# --- layout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    key_separator: str  # ": " or ":"
    item_separator: str  # ", " or "," for values written on one line

    @classmethod
    def of(cls, index: SourceIndex) -> "Style":
        text = index.text
        root = index.container(index.root)
        if root is not None and root.kind == "{":
            first = root.first()
            if first is not None:
                between = text[_key_end(text, first):first.start]
                if between.strip() == ":" and not between.endswith(" "):
                    return cls(":", ",")
        return cls(": ", ", ")


def dump(value: Any, style: Style) -> str:
    """One-line JSON for a value; :class:`Raw` parts are copied as they are."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (json.dumps(k, ensure_ascii=False) + style.key_separator + dump(v, style) for k, v in value.items())
        return "{" + style.item_separator.join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + style.item_separator.join(dump(v, style) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _key_end(text: str, member: Member) -> int:
    return scanstring(text, member.key_start + 1, False)[1]


# --- planning --------------------------------------------------------------------------------


def plan(changes: Iterable[Change], index: SourceIndex) -> list[Edit]:
    """The edits that make ``changes`` (removals in one container are planned together, so
    removing neighbours leaves valid separators)."""
    style = Style.of(index)
    edits: list[Edit] = []
    removals: dict[int, tuple[Container, set[int]]] = {}
    additions: dict[int, tuple[Container, list[Add]]] = {}
    for change in changes:
        if isinstance(change, Remove):
            container, position = _parent(index, change.pointer)
            removals.setdefault(container.start, (container, set()))[1].add(position)
        elif isinstance(change, Replace):
            span = index.value_span(change.pointer)
            if span is None:
                raise EditError(f"nothing at {change.pointer or '/'}")
            edits.append(Edit(span[0], span[1], dump(change.value, style)))
        elif isinstance(change, Rename):
            container, position = _parent(index, change.pointer)
            member = container.members[position]
            if container.kind != "{":
                raise EditError(f"{change.pointer} is not an object member")
            gap = index.text[_key_end(index.text, member):member.start]
            edits.append(Edit(member.key_start, member.end,
                              json.dumps(change.key, ensure_ascii=False) + gap + dump(change.value, style)))
        else:
            container = _object_at(index, change.parent)
            existing = container.find(change.key)
            if existing is not None:
                edits.append(Edit(existing.start, existing.end, dump(change.value, style)))
            else:
                additions.setdefault(container.start, (container, []))[1].append(change)
    for container, positions in removals.values():
        edits.extend(_remove(container, positions))
    for container, added in additions.values():
        edits.append(_append(index.text, container, added, style))
    return edits


def _object_at(index: SourceIndex, pointer: str) -> Container:
    span = index.value_span(pointer)
    container = index.container(span[0]) if span else None
    if container is None or container.kind != "{":
        raise EditError(f"no object at {pointer or '/'}")
    return container


def _parent(index: SourceIndex, pointer: str) -> tuple[Container, int]:
    tokens = split_pointer(pointer)
    if not tokens:
        raise EditError("cannot remove the whole body")
    parent = join_pointer(*tokens[:-1])
    span = index.value_span(parent)
    container = index.container(span[0]) if span else None
    if container is None:
        raise EditError(f"nothing at {parent or '/'}")
    member = container.find(tokens[-1])
    if member is None:
        raise EditError(f"nothing at {pointer}")
    return container, container.position_of(member)


def _remove(container: Container, positions: set[int]) -> list[Edit]:
    members = container.members
    assert container.end is not None
    if len(positions) >= len(members):
        return [Edit(container.start + 1, container.end - 1, "")]
    edits = []
    ordered = sorted(positions)
    runs: list[tuple[int, int]] = []
    for position in ordered:
        if runs and runs[-1][1] == position - 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    for first, last in runs:
        if first == 0:  # up to the next kept member, taking the separator after the run
            edits.append(Edit(members[first].key_start, members[last + 1].key_start, ""))
        else:  # from the end of the previous kept member, taking the separator before the run
            edits.append(Edit(members[first - 1].end, members[last].end, ""))
    return edits


def _append(text: str, container: Container, added: list[Add], style: Style) -> Edit:
    """One insertion after the last member for every new key (keys given once, last wins)."""
    values = {change.key: change.value for change in added}
    container.complete()
    assert container.end is not None
    members = [json.dumps(key, ensure_ascii=False) + style.key_separator + dump(value, style)
               for key, value in values.items()]
    if not container.members:
        return Edit(container.start + 1, container.end - 1, style.item_separator.join(members))
    last = container.members[-1]
    if "\n" in text[container.start + 1:container.members[0].key_start]:
        indent = text[text.rfind("\n", 0, last.key_start) + 1:last.key_start]  # one member per line
        separator = ",\n" + indent
    elif len(container.members) > 1:
        separator = text[container.members[-2].end:last.key_start] or style.item_separator
    else:
        separator = style.item_separator
    return Edit(last.end, last.end, "".join(separator + member for member in members))


# --- applying --------------------------------------------------------------------------------


def conflicts(edit: Edit, others: Iterable[Edit]) -> bool:
    for other in others:
        if edit.start < other.end and other.start < edit.end:
            return True
        if edit.start == edit.end == other.start == other.end:
            return True  # two insertions at one point: their order would be arbitrary
        if (edit.start == edit.end and other.start < edit.start < other.end) or \
           (other.start == other.end and edit.start < other.start < edit.end):
            return True
    return False


def apply(text: str, edits: list[Edit]) -> str:
    out = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(text[position:edit.start])
        out.append(edit.text)
        position = edit.end
    out.append(text[position:])
    return "".join(out)
