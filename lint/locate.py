"""JSON pointer → position in the source text, for findings and for textual fixes.

The index is built lazily by walking the source along the pointers asked for: a container's
members are scanned once (values are skipped with the C scanner from ``json``) and cached, so
locating every finding in a 10 MiB body costs about one extra parse at most, and a body with
no findings costs nothing. Positions are offsets into the decoded text (code points); lines
and columns are 1-based.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Iterable

from gonka_conformance.engine.context import split_pointer

_WS = re.compile(r"[ \t\n\r]*")
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


class LocateError(Exception):
    """The text is not well-formed JSON along the path asked for."""


@dataclass(frozen=True)
class Member:
    """One member of an object (``key`` set) or element of an array."""

    key: str | int
    key_start: int  # the opening quote of the key; the value start for array elements
    start: int  # first character of the value
    end: int  # one past the last character of the value


class Container:
    """An object (``kind`` "{") or array ("[") whose members are scanned on demand: finding
    the ``model`` key of a 10 MiB body does not skip over its ``messages``."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.kind = text[start]
        self.start = start  # the opening bracket
        self.end: int | None = None  # one past the closing bracket, once scanned that far
        self.members: list[Member] = []
        self._close = "}" if self.kind == "{" else "]"
        self._next = _skip_ws(text, start + 1)
        if self._next < len(text) and text[self._next] == self._close:
            self.end = self._next + 1

    def find(self, token: str) -> Member | None:
        if self.kind == "{":
            for member in self.members:
                if member.key == token:
                    return member
            while self.end is None:
                member = self._scan_one()
                if member.key == token:
                    return member
            return None
        if not token.isdigit() or (token != "0" and token.startswith("0")):
            return None
        index = int(token)
        while index >= len(self.members) and self.end is None:
            self._scan_one()
        return self.members[index] if index < len(self.members) else None

    def first(self) -> Member | None:
        if not self.members and self.end is None:
            self._scan_one()
        return self.members[0] if self.members else None

    def complete(self) -> "Container":
        """Scan every member (removing one needs its neighbours and the closing bracket)."""
        while self.end is None:
            self._scan_one()
        return self

    def _scan_one(self) -> Member:
        text, index = self.text, self._next
        if self.kind == "{":
            if index >= len(text) or text[index] != '"':
                raise LocateError(f"expected a key at {index}")
            key_start = index
            try:
                key, index = scanstring(text, index + 1, False)
            except ValueError as exc:
                raise LocateError(str(exc)) from None
            index = _skip_ws(text, index)
            if index >= len(text) or text[index] != ":":
                raise LocateError(f"expected ':' at {index}")
            index = _skip_ws(text, index + 1)
            name: str | int = key
        else:
            key_start = index
            name = len(self.members)
        value_start = index
        try:
            _value, index = _SCAN(text, value_start)
        except StopIteration:
            raise LocateError(f"expected a value at {value_start}") from None
        except ValueError as exc:
            raise LocateError(str(exc)) from None
        member = Member(name, key_start, value_start, index)
        self.members.append(member)
        index = _skip_ws(text, index)
        if index < len(text) and text[index] == ",":
            self._next = _skip_ws(text, index + 1)
        elif index < len(text) and text[index] == self._close:
            self.end = index + 1
        else:
            raise LocateError(f"expected ',' or {self._close!r} at {index}")
        return member


class SourceIndex:
    """Positions of the values in one JSON text (one request body)."""

    def __init__(self, text: str, *, line: int = 1, column: int = 1) -> None:
        self.text = text
        self._line0 = line  # line and column of text[0] in the file it came from
        self._column0 = column
        self._containers: dict[int, Container] = {}
        self._line_starts: list[int] | None = None
        self._root: int | None = None

    # --- pointers -------------------------------------------------------------------------

    @property
    def root(self) -> int:
        if self._root is None:
            self._root = _WS.match(self.text, 0).end()  # type: ignore[union-attr]
        return self._root

    def member(self, pointer: str) -> Member | None:
        """The member a pointer names (``None`` for the root, or when it does not exist)."""
        found: Member | None = None
        start = self.root
        try:
            for token in split_pointer(pointer):
                container = self.container(start)
                if container is None:
                    return None
                found = container.find(token)
                if found is None:
                    return None
                start = found.start
        except (LocateError, ValueError, RecursionError):
            return None
        return found

    def exists(self, pointer: str) -> bool:
        return pointer == "" or self.member(pointer) is not None

    def value_span(self, pointer: str) -> tuple[int, int] | None:
        if pointer == "":
            container = self.container(self.root)
            return (container.start, container.complete().end) if container else None  # type: ignore[return-value]
        member = self.member(pointer)
        return (member.start, member.end) if member else None

    def nearest(self, pointer: str) -> tuple[str, int]:
        """The longest existing prefix of ``pointer`` and where it starts (its key, for an
        object member): a finding about an absent field points at its parent."""
        try:
            tokens = split_pointer(pointer)
        except ValueError:
            tokens = []
        for size in range(len(tokens), 0, -1):
            prefix = "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens[:size])
            member = self.member(prefix)
            if member is not None:
                return prefix, member.key_start
        return "", self.root

    def container(self, start: int) -> Container | None:
        """The object or array whose opening bracket is at ``start`` (``None`` for scalars)."""
        cached = self._containers.get(start)
        if cached is not None:
            return cached
        text = self.text
        if start >= len(text) or text[start] not in "{[":
            return None
        container = Container(text, start)
        self._containers[start] = container
        return container

    # --- positions ------------------------------------------------------------------------

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset, in the coordinates of the enclosing file."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        row = bisect_right(self._line_starts, offset) - 1
        column = offset - self._line_starts[row] + 1
        if row == 0:
            column += self._column0 - 1
        return self._line0 + row, column

    def locate(self, pointer: str) -> tuple[int, int]:
        """Line and column of what ``pointer`` names, or of its nearest existing ancestor."""
        return self.position(self.nearest(pointer)[1])

    def positions(self, pointers: Iterable[str]) -> dict[str, tuple[int, int]]:
        return {pointer: self.locate(pointer) for pointer in set(pointers)}


def _skip_ws(text: str, index: int) -> int:
    return _WS.match(text, index).end()  # type: ignore[union-attr]
