"""Inputs: paths, directories and stdin turned into request bodies to lint.

* ``.json`` — one request body (a HAR saved as ``.json`` is recognised by its ``log`` key);
* ``.jsonl`` / ``.ndjson`` — one body per line (request logs), streamed line by line;
* ``.har`` — every POST to a ``*/chat/completions`` URL (headers are never read out);
* directories — searched recursively for those extensions;
* ``-`` — stdin, sniffed (or named with ``--stdin-filename``).

Memory is bounded: a body is read up to the gateway's limit plus one byte (the engine then
reports the 413), a JSONL line longer than that is consumed without being kept, and HAR files
and stdin have a size cap. Bad input becomes an :class:`InputError` naming the file and the
position, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import io
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator
from urllib.parse import urlsplit

from gonka_conformance.catalogue.files import kind_of
from gonka_conformance.common.errors import UsageError
from gonka_conformance.common.inputs import read_input

MAX_CONTAINER = 256 * 1024 * 1024  # a HAR file or stdin is read whole, up to this size
EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".har": "har"}
SKIP_DIRS = {"node_modules", "__pycache__", "venv", "site-packages"}


@dataclass(frozen=True)
class Record:
    """One request body and where it sits in its file."""

    file: str
    record: int | None  # JSONL line number (1-based) or HAR entry index (0-based)
    raw: bytes
    line: int = 1  # line and column where the body text starts in the file
    column: int = 1
    anchor: tuple[int, int] | None = None  # HAR: every finding points at the captured body
    kind: str = "json"  # what the file turned out to be (json | jsonl | har): decides whether --fix may write

    @property
    def writable(self) -> bool:
        """A HAR capture (whatever its extension) is never rewritten: its records are entries."""
        return self.kind in ("json", "jsonl")


@dataclass(frozen=True)
class InputError:
    """Input that cannot be linted: one clear line, never a traceback."""

    file: str
    message: str
    record: int | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        elif self.record is not None:
            where += f" (record {self.record})"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "record": self.record, "line": self.line, "column": self.column,
                "message": self.message}


@dataclass(frozen=True)
class Note:
    """Something skipped on purpose (not an error): a FIFO, socket or device in a directory walk."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class Source:
    """One file (or stdin) to lint, with the way its records are read."""

    display: str
    kind: str  # json | jsonl | har
    path: Path | None = None  # None: ``data`` holds stdin
    data: bytes | None = None
    explicit: bool = True  # named on the command line (not found in a directory walk)


# --- discovery -------------------------------------------------------------------------------


def discover(paths: list[str], *, exclude: tuple[str, ...] = (), stdin_filename: str | None = None,
             stdin: IO[bytes] | None = None) -> Iterator[Source | InputError | Note]:
    """Expand the command line's paths into sources, in a stable order."""
    seen: set[str] = set()
    for arg in paths:
        if arg == "-":
            yield from _stdin_source(stdin or sys.stdin.buffer, stdin_filename)
            continue
        path = Path(arg)
        try:
            is_dir = path.is_dir()
            exists = is_dir or path.exists() or path.is_symlink()
        except OSError as exc:  # a named file under a directory we may not search
            yield InputError(arg, _os_message(exc))
            continue
        if is_dir:
            yield from _directory(arg, path, exclude, seen)
        elif exists:
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                yield Source(arg, EXTENSIONS.get(path.suffix.lower(), "sniff"), path=path)
        else:
            yield InputError(arg, "no such file or directory")


def _directory(arg: str, path: Path, exclude: tuple[str, ...], seen: set[str]) -> Iterator[Source | InputError | Note]:
    errors: list[InputError | Note] = []
    found = sorted(_walk(path, exclude, errors))
    yield from errors
    if not found and not any(isinstance(e, InputError) for e in errors):
        yield InputError(arg, "no .json, .jsonl, .ndjson or .har files in this directory")
    for file in found:
        key = os.path.abspath(file)
        if key not in seen:
            seen.add(key)
            yield Source(str(file), EXTENSIONS[file.suffix.lower()], path=file, explicit=False)


def _walk(root: Path, exclude: tuple[str, ...], errors: list[InputError | Note]) -> Iterator[Path]:
    """Matching files under ``root``; a directory that cannot be read becomes an error, not a gap,
    and what is not a regular file (a FIFO would block the run forever) is skipped with a note."""

    def unreadable(exc: OSError) -> None:
        errors.append(InputError(str(exc.filename or root), _os_message(exc)))

    # symlinked directories are not followed
    for directory, subdirs, files in os.walk(root, onerror=unreadable):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in SKIP_DIRS]
        for name in files:
            file = Path(directory) / name
            if file.suffix.lower() not in EXTENSIONS or name.startswith("."):
                continue
            relative = file.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(file.as_posix(), pattern)
                   or fnmatch.fnmatch(name, pattern) for pattern in exclude):
                continue
            special = _special_file(file)
            if special is not None:
                errors.append(Note(str(file), f"skipped: {special}, not a regular file"))
                continue
            yield file


def _special_file(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (a symlink is followed; a broken one is left
    to the reader, which reports it)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def _stdin_source(stream: IO[bytes], name: str | None) -> Iterator[Source | InputError]:
    display = name or "-"
    try:
        data = stream.read(MAX_CONTAINER + 1)
    except OSError as exc:
        yield InputError(display, f"cannot read stdin: {exc.strerror or exc}")
        return
    if len(data) > MAX_CONTAINER:
        yield InputError(display, f"stdin is larger than {MAX_CONTAINER // 2**20} MiB; pass a file instead")
        return
    kind = EXTENSIONS.get(Path(name).suffix.lower(), "sniff") if name else "sniff"
    yield Source(display, sniff(data) if kind == "sniff" else kind, data=data)


def sniff(data: bytes) -> str:
    """JSON, JSON Lines or HAR, from the content (stdin, unknown extensions)."""
    text = data.lstrip(b" \t\r\n\xef\xbb\xbf")
    if text[:1] == b"{":
        first, _, rest = text.partition(b"\n")
        if rest.strip():
            try:
                if isinstance(json.loads(first, parse_int=str), dict):
                    return "jsonl"
            except (ValueError, RecursionError):
                pass
        if _looks_like_har(text[:4096]):
            return "har"
    return "json"


def _looks_like_har(head: bytes) -> bool:
    compact = head.replace(b" ", b"").replace(b"\n", b"").replace(b"\r", b"").replace(b"\t", b"")
    return compact.startswith(b'{"log":{')


# --- reading ---------------------------------------------------------------------------------


def records(source: Source, *, max_body: int) -> Iterator[Record | InputError]:
    """Every request body in a source (or the reason it cannot be read)."""
    try:
        kind = source.kind
        if kind == "sniff":
            head = source.data if source.data is not None else _read_head(source.path)  # type: ignore[arg-type]
            kind = sniff(head)
        if kind == "jsonl":
            if source.data is not None:
                yield from _jsonl(source.display, io.BytesIO(source.data), max_body)
            else:
                with open(source.path, "rb") as handle:  # type: ignore[arg-type]
                    yield from _jsonl(source.display, handle, max_body)
        elif kind == "har":
            yield from _har(source, _read(source, MAX_CONTAINER, "HAR file"), max_body)
        else:
            raw = _read(source, max_body, None)
            if _looks_like_har(raw[:4096]):  # a HAR saved as .json (or sniffed)
                yield from _har(source, raw if len(raw) <= max_body else _read(source, MAX_CONTAINER, "HAR file"),
                                max_body)
            else:
                yield Record(source.display, None, raw)
    except _Unreadable as exc:
        yield InputError(source.display, str(exc))
    except OSError as exc:
        yield InputError(source.display, _os_message(exc))


class _Unreadable(Exception):
    pass


def _os_message(exc: OSError) -> str:
    """For what read_input does not cover: directory walks and streamed JSON Lines."""
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    return f"cannot read: {exc.strerror or exc}"


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(64 * 1024)


def _read(source: Source, limit: int, what: str | None) -> bytes:
    """Read at most ``limit + 1`` bytes: one byte over is enough to know the body is too big."""
    if source.data is not None:
        data = source.data[: limit + 1]
    else:
        try:
            data = read_input(str(source.path), limit)
        except UsageError as exc:  # its message names the path; InputError names the display
            raise _Unreadable(str(exc).removeprefix(f"{source.path}: ")) from None
    if what is not None and len(data) > limit:
        raise _Unreadable(f"{what} larger than {limit // 2**20} MiB")
    return data


def _jsonl(display: str, handle: IO[bytes], max_body: int) -> Iterator[Record | InputError]:
    number = 0
    while True:
        line = handle.readline(max_body + 2)
        if not line:
            return
        number += 1
        if not line.endswith(b"\n") and len(line) >= max_body + 2:
            while True:  # an oversized record: consume the rest of the line without keeping it
                rest = handle.readline(1024 * 1024)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Record(display, number, line[: max_body + 1], line=number, kind="jsonl")
            continue
        body = line.rstrip(b"\r\n")
        if body.strip(b" \t\r\n"):
            yield Record(display, number, body, line=number, kind="jsonl")


def _har(source: Source, data: bytes, max_body: int) -> Iterator[Record | InputError]:
    from .locate import SourceIndex

    display = source.display
    try:
        text = data.decode("utf-8-sig")
        har = json.loads(text, parse_int=str)  # numbers are not read; a huge one must not fail
    except UnicodeDecodeError as exc:
        yield InputError(display, f"HAR file is not UTF-8 (byte {exc.start})")
        return
    except json.JSONDecodeError as exc:
        yield InputError(display, f"invalid HAR (JSON): {exc.msg}", line=exc.lineno, column=exc.colno)
        return
    except RecursionError:
        yield InputError(display, "invalid HAR: nested too deeply")
        return
    entries = har.get("log", {}).get("entries") if isinstance(har, dict) and isinstance(har.get("log"), dict) else None
    if not isinstance(entries, list):
        yield InputError(display, "not a HAR file: no log.entries array")
        return
    index = SourceIndex(text)
    found = 0
    for number, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or str(request.get("method", "")).upper() != "POST":
            continue
        url = request.get("url")
        if not isinstance(url, str) or not _is_chat_completions(url):
            continue
        found += 1
        pointer = f"/log/entries/{number}/request/postData/text"
        post = request.get("postData")
        body = post.get("text") if isinstance(post, dict) else None
        if not isinstance(body, str):
            yield InputError(display, "POST to chat/completions without a captured body (postData.text)",
                             record=number)
            continue
        raw: bytes
        if isinstance(post, dict) and post.get("encoding") == "base64":
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                yield InputError(display, "postData.text is not valid base64", record=number)
                continue
        else:
            raw = body.encode("utf-8", errors="surrogatepass")
        position = index.locate(pointer)
        yield Record(display, number, raw[: max_body + 1], anchor=position, kind="har")
    if not found:
        yield InputError(display, "no POST requests to */chat/completions in this HAR file")


def _is_chat_completions(url: str) -> bool:
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return path.rstrip("/").endswith("/chat/completions")
