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
from json.decoder import scanstring  # type: ignore[attr-defined]  # defined at runtime; typeshed omits it
from gonka_conformance.common.pointers import join_pointer, split_pointer

_WS = re.compile(r"[ \t\n\r]*")
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_UNDECIDED = object()
# Values are skipped, not used: numbers stay text (a 20,000-digit integer is valid JSON, and
# int() would refuse it under Python's integer-string limit).
_SCAN = json.scanner.make_scanner(json.JSONDecoder(parse_int=str, parse_float=str))  # type: ignore[attr-defined]


class LocateError(Exception):
    """The text is not well-formed JSON along the path asked for."""


class Member:
    """One member of an object (``key`` a string) or element of an array (``key`` its index).

    ``end`` is found on first use: locating the ``messages`` key of a 10 MiB body does not
    scan the conversation itself."""

    __slots__ = ("key", "key_start", "start", "_end", "_owner")

    def __init__(self, key: str | int, key_start: int, start: int, end: int | None,
                 owner: "Container | None" = None) -> None:
        self.key = key
        self.key_start = key_start  # the opening quote of the key; the value start for array elements
        self.start = start  # first character of the value
        self._end = end
        self._owner = owner

    @property
    def end(self) -> int:
        """One past the last character of the value."""
        if self._end is None:
            assert self._owner is not None
            self._owner._finish()
        assert self._end is not None
        return self._end

    def __repr__(self) -> str:
        return f"Member({self.key!r}, {self.key_start}, {self.start}, {self._end})"


class Container:
    """An object (``kind`` "{") or array ("[") whose members are scanned on demand."""

    def __init__(self, text: str, start: int, *, root: bool = False) -> None:
        self.text = text
        self.root = root  # the body itself: its late keys can be found without a scan
        self.kind = text[start]
        self.start = start  # the opening bracket
        self.end: int | None = None  # one past the closing bracket, once scanned that far
        self.members: list[Member] = []
        self._pending: Member | None = None  # the last member, its value not scanned yet
        self._jumped: dict[str, Member] = {}
        self._last: int | None = None
        self._escaped: bool | None = None
        self._close = "}" if self.kind == "{" else "]"
        self._next = _skip_ws(text, start + 1)
        if self._next < len(text) and text[self._next] == self._close:
            self.end = self._next + 1

    def find(self, token: str) -> Member | None:
        if self.kind == "{":
            for member in self.members:
                if member.key == token:
                    return member
            if token in self._jumped:
                return self._jumped[token]
            if self.root and self.end is None:  # (a pending value stays unscanned)
                jumped = self._jump(token)
                if jumped is not _UNDECIDED:
                    return jumped  # type: ignore[return-value]
            while not self._done:
                member = self._open_next()
                if member.key == token:
                    return member
            return None
        if not token.isdigit() or (token != "0" and token.startswith("0")):
            return None
        index = int(token)
        while index >= len(self.members) and not self._done:
            self._open_next()
        return self.members[index] if index < len(self.members) else None

    def _jump(self, key: str) -> "Member | None | object":
        """Find a top-level key near the end of a large body without scanning the values
        before it (``max_tokens`` after a 10 MiB ``messages``): search for the quoted key and
        prove the candidate is a member of this object by parsing from it to the body's
        closing brace. Returns ``_UNDECIDED`` when a scan is the cheaper or the only sure way."""
        text = self.text
        if not _PLAIN_KEY.fullmatch(key):
            return _UNDECIDED
        if self._last is None:
            end = len(text)
            while end and text[end - 1] in " \t\r\n":
                end -= 1
            self._last = end - 1  # the closing brace, if nothing trails the body
        last = self._last
        if last <= self._next or text[last] != "}":
            return _UNDECIDED
        needle = '"' + key + '"'
        first = text.find(needle, self._next, min(last, self._next + 65536))
        if first != -1 and first - self._next < last - first:
            return _UNDECIDED  # an early key: the members before it are cheap to skip
        position = text.rfind(needle, self._next, last)
        if position == -1:
            # A key made of plain characters has no other spelling than \u escapes.
            if self._escaped is None:
                self._escaped = "\\u" in text
            return _UNDECIDED if self._escaped else None
        for _attempt in range(4):
            if position == -1 or position - self._next < last - position:
                return _UNDECIDED  # not in the later part: scanning from the start is cheaper
            member = self._verify(key, position, last)
            if member is not None:
                self._jumped[key] = member
                return member
            position = text.rfind(needle, self._next, position)
        return _UNDECIDED

    def _verify(self, key: str, position: int, last: int) -> "Member | None":
        text = self.text
        before = position - 1
        while before >= 0 and text[before] in " \t\r\n":
            before -= 1
        if before < 0 or text[before] not in "{,":
            return None
        try:
            index = _skip_ws(text, position + len(key) + 2)
            if text[index] != ":":
                return None
            start = _skip_ws(text, index + 1)
            _value, end = _SCAN(text, start)
            index = _skip_ws(text, end)
            while text[index] == ",":  # the members after it, up to this object's closing brace
                index = _skip_ws(text, index + 1)
                if text[index] != '"':
                    return None
                _key, index = scanstring(text, index + 1, False)
                index = _skip_ws(text, index)
                if text[index] != ":":
                    return None
                _value, index = _SCAN(text, _skip_ws(text, index + 1))
                index = _skip_ws(text, index)
        except (StopIteration, ValueError, IndexError, RecursionError):
            return None
        return Member(key, position, start, end) if index == last and text[index] == "}" else None

    def first(self) -> Member | None:
        if not self.members and not self._done:
            self._open_next()
        return self.members[0] if self.members else None

    def complete(self) -> "Container":
        """Scan every member (removing one needs its neighbours and the closing bracket)."""
        while not self._done:
            self._open_next()
        self._finish()
        return self

    def position_of(self, member: Member) -> int:
        """The index of ``member`` among the (completed) members."""
        self.complete()
        for index, candidate in enumerate(self.members):
            if candidate.key_start == member.key_start:
                return index
        raise LocateError(f"no member at {member.key_start}")

    @property
    def _done(self) -> bool:
        """No member left to open (the last one may still be pending)."""
        if self.end is not None:
            return True
        if self._pending is not None:
            self._finish()
        return self.end is not None

    def _open_next(self) -> Member:
        """Read the next member's key and where its value starts; the value is skipped later."""
        if self._pending is not None:
            self._finish()
        text, index = self.text, self._next
        if self.kind == "{":
            if index >= len(text) or text[index] != '"':
                raise LocateError(f"expected a key at {index}")
            key_start = index
            try:
                key, index = scanstring(text, index + 1, False)
            except ValueError as exc:
                raise LocateError(str(exc)) from None
            colon = _COLON.match(text, index)  # white space, ':' and white space in one C call
            if colon is None:
                raise LocateError(f"expected ':' at {_skip_ws(text, index)}")
            index = colon.end()
            name: str | int = key
        else:
            key_start = index
            name = len(self.members)
        member = Member(name, key_start, index, None, self)
        self.members.append(member)
        self._pending = member
        return member

    def _finish(self) -> None:
        """Skip the pending member's value (with the C scanner) and the separator after it."""
        member = self._pending
        if member is None:
            return
        text = self.text
        try:
            _value, index = _SCAN(text, member.start)
        except StopIteration:
            raise LocateError(f"expected a value at {member.start}") from None
        except ValueError as exc:
            raise LocateError(str(exc)) from None
        member._end = index
        self._pending = None
        separator = _SEPARATOR.match(text, index)  # white space, ',' and white space in one C call
        if separator is not None:
            self._next = separator.end()
            return
        index = _skip_ws(text, index)
        if index < len(text) and text[index] == self._close:
            self.end = index + 1
        else:
            raise LocateError(f"expected ',' or {self._close!r} at {index}")

class SourceIndex:
    """Positions of the values in one JSON text (one request body)."""

    def __init__(self, text: str, *, line: int = 1, column: int = 1) -> None:
        self.text = text
        self._line0 = line  # line and column of text[0] in the file it came from
        self._column0 = column
        self._containers: dict[int, Container] = {}
        self._members: dict[str, Member | None] = {}
        self._line_starts: list[int] | None = None
        self._lookups = 0
        self._single_line: bool | None = None
        self._root: int | None = None

    # --- pointers -------------------------------------------------------------------------

    @property
    def root(self) -> int:
        if self._root is None:
            self._root = _WS.match(self.text, 0).end()  # type: ignore[union-attr]
        return self._root

    def member(self, pointer: str) -> Member | None:
        """The member a pointer names (``None`` for the root, or when it does not exist).
        Remembered per pointer: a finding's anchor, position and fix ask for the same ones."""
        try:
            return self._members[pointer]
        except KeyError:
            found = self._members[pointer] = self._member(pointer)
            return found

    def _member(self, pointer: str) -> Member | None:
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
            prefix = join_pointer(*tokens[:size])
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
        container = Container(text, start, root=start == self.root)
        self._containers[start] = container
        return container

    # --- positions ------------------------------------------------------------------------

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset, in the coordinates of the enclosing file."""
        text = self.text
        self._lookups += 1
        if self._single_line is None:
            # One search for the whole text: compact JSON (every JSON Lines record, most
            # captured bodies) has no newline, and then no lookup counts lines in it.
            self._single_line = "\n" not in text
        if self._single_line:
            row, column = 0, offset + 1
        else:
            if self._line_starts is None and self._lookups > 16:  # many findings: index the lines once
                self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
            if self._line_starts is not None:
                row = bisect_right(self._line_starts, offset) - 1
                column = offset - self._line_starts[row] + 1
            else:
                row = text.count("\n", 0, offset)
                column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        if row == 0:
            column += self._column0 - 1
        return self._line0 + row, column

    def locate(self, pointer: str) -> tuple[int, int]:
        """Line and column of what ``pointer`` names, or of its nearest existing ancestor."""
        return self.position(self.nearest(pointer)[1])


def _skip_ws(text: str, index: int) -> int:
    if index < len(text) and text[index] not in " \t\n\r":
        return index  # the common case, without a regex call
    return _WS.match(text, index).end()  # type: ignore[union-attr]
