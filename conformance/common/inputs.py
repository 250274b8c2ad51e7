"""Bounded reading of a file or stdin, with one clear usage error per failure."""

from __future__ import annotations

import sys

from .errors import UsageError


def read_input(path: str, limit: int | None = None) -> bytes:
    """Read a file or stdin ('-'); ``limit`` bounds memory (read at most limit+1 bytes)."""
    try:
        if path == "-":
            stream = sys.stdin.buffer
            return stream.read(limit + 1) if limit is not None else stream.read()
        with open(path, "rb") as handle:
            return handle.read(limit + 1) if limit is not None else handle.read()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
