"""Reading files that may be hostile: only regular files, and never more than a limit."""

from __future__ import annotations

import os
import stat

MAX_FILE_BYTES = 1 << 20  # one YAML file (the largest packaged catalogue file is about 50 KiB)


class FileProblem(Exception):
    """One ``file:line: what`` problem with a file (a catalogue file, the ignore file)."""


class NotRegular(OSError):
    """The path is a FIFO, a device, a socket or a directory (``what`` says which)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def read_file(path: str | os.PathLike[str], filename: str) -> str:
    """The text of a regular file of at most :data:`MAX_FILE_BYTES` (UTF-8)."""
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except NotRegular as exc:
        raise FileProblem(f"{filename}:1: not a regular file ({exc.what})") from None
    except OSError as exc:
        raise FileProblem(f"{filename}:1: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem(f"{filename}:1: larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(f"{filename}:{line}: cannot read: not UTF-8 (byte 0x{data[exc.start]:02x})") from None


def read_regular(path: str | os.PathLike[str], limit: int, *, owner: int | None = None) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (one past the limit tells the caller it is too
    big). Raises :class:`NotRegular` for anything but a regular file (a FIFO is opened without
    waiting for a writer, ``/dev/zero`` is never read) and :class:`PermissionError` when
    ``owner`` is given and the file belongs to another user."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(kind_of(info.st_mode))
        if owner is not None and info.st_uid != owner:
            raise PermissionError(f"owned by another user (uid {info.st_uid})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def kind_of(mode: int) -> str:
    """What a non-regular file is, for a message ("a FIFO")."""
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "a special file"
