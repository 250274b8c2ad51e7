"""Bounded decoding of an upstream answer's ``Content-Encoding`` (gzip, deflate), so the proxy
checks what the client will read, not the compressed bytes.

The proxy asks for ``Accept-Encoding: identity``; this is for an upstream that compresses
anyway. Output comes in pieces of at most ``CHUNK`` bytes and never past ``cap`` in total (a
gzip bomb raises :class:`TooLarge` after ``cap`` bytes, whatever it would inflate to); a coding
that cannot be decoded here (br, zstd, …) is :class:`Unsupported` before a byte is relayed, and
a corrupt one is :class:`Corrupt`."""

from __future__ import annotations

import zlib
from typing import Iterator

CHUNK = 64 * 1024
#: More codings than this are :class:`Unsupported`: real servers apply one or two, and each stage
#: is a zlib state and a level of nesting (a stack of a thousand overflowed the recursion limit).
MAX_CODINGS = 4
_GZIP_MAGIC = b"\x1f\x8b"


class Unsupported(Exception):
    pass


class Corrupt(Exception):
    pass


class TooLarge(Exception):
    pass


def codings(header: str | None) -> list[str]:
    """The codings applied, in the order they were applied (``identity`` dropped)."""
    names = [part.strip().lower() for part in (header or "").split(",")]
    return [name for name in names if name and name != "identity"]


class _Stage:
    """One coding undone; its output counted against the cap."""

    def __init__(self, coding: str, cap: int) -> None:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise Unsupported(coding)
        self.gzip = coding != "deflate"
        self.cap = cap
        self.total = 0
        self.head = b""  # deflate: the first two bytes tell a zlib wrapper from a raw stream
        self.inflater: "zlib._Decompress | None" = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.gzip else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.inflater is None:
            self.head += data
            if len(self.head) < 2:
                return
            wrapped = (self.head[0] & 0x0F) == 8 and (self.head[0] << 8 | self.head[1]) % 31 == 0
            self.inflater = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            data, self.head = self.head, b""
        yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        for _ in range(1 + len(data)):  # bounded: each gzip member consumes at least one byte
            assert self.inflater is not None
            try:
                while True:  # each round returns output or consumes input; the cap ends a bomb
                    before = len(data)
                    piece = self.inflater.decompress(data, CHUNK)
                    data = self.inflater.unconsumed_tail
                    if piece:
                        self.total += len(piece)
                        if self.total > self.cap:
                            raise TooLarge()
                        yield piece
                    # at the member's end: what follows is in unused_data (CPython may leave a copy
                    # in unconsumed_tail too, which fed again would be decoded twice)
                    if self.inflater.eof or (not piece and (not data or len(data) == before)):
                        break
            except zlib.error as exc:
                raise Corrupt(str(exc)) from None
            rest = self.inflater.unused_data
            if not (self.gzip and self.inflater.eof and rest.startswith(_GZIP_MAGIC)):
                return  # anything after the end that is not another gzip member is dropped
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = rest

    def finish(self) -> Iterator[bytes]:
        if self.inflater is None and self.head:
            self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self._inflate(self.head)


class Decoder:
    """Undoes ``Content-Encoding`` piece by piece; each stage bounded by ``cap``."""

    def __init__(self, header: str | None, cap: int) -> None:
        applied = codings(header)
        if len(applied) > MAX_CODINGS:
            raise Unsupported(f"{len(applied)} codings")
        self.stages = [_Stage(name, cap) for name in reversed(applied)]

    @classmethod
    def needed(cls, header: str | None, cap: int) -> "Decoder | None":
        """A decoder when the answer is encoded; raises :class:`Unsupported` for a coding the
        proxy cannot decode."""
        return cls(header, cap) if codings(header) else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, [data])

    def finish(self) -> Iterator[bytes]:
        for number, stage in enumerate(self.stages):
            yield from self._through(number + 1, stage.finish())

    def _through(self, number: int, pieces: "Iterator[bytes] | list[bytes]") -> Iterator[bytes]:
        if number == len(self.stages):
            yield from pieces
            return
        for piece in pieces:
            yield from self._through(number + 1, self.stages[number].feed(piece))


def decode_all(header: str | None, body: bytes, cap: int) -> bytes:
    decoder = Decoder(header, cap)
    return b"".join([*decoder.feed(body), *decoder.finish()])
