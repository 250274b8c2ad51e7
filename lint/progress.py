"""A progress display for large inputs, on a terminal only.

A 20,000-record JSON Lines file takes tens of seconds; on a terminal the user sees a bar of
bytes read and records linted (on stderr, cleared when done). Piped or redirected output never
gets one, so logs, CI and editors read only the report.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Protocol, TextIO

LARGE_INPUT_BYTES = 1 << 20  # below this a run is over before a bar would be read


class Tick(Protocol):
    def __call__(self, size: int) -> None: ...


def _size(path: os.PathLike[str] | None, data: bytes | None) -> int:
    if data is not None:
        return len(data)
    try:
        return os.stat(path).st_size if path is not None else 0
    except OSError:
        return 0


@contextmanager
def progress(label: str, path: os.PathLike[str] | None, data: bytes | None, stream: TextIO) -> Iterator[Tick]:
    """Yield a function to call with each record's size; it draws a bar only when ``stream`` is
    a terminal and the input is large, and does nothing otherwise."""
    total = _size(path, data)
    if total < LARGE_INPUT_BYTES or not getattr(stream, "isatty", lambda: False)() or os.environ.get("CI"):
        yield lambda size: None
        return
    from rich.console import Console  # rich is slow to import: only when a bar is drawn
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    console = Console(file=stream, force_terminal=True, highlight=False, emoji=False, markup=False)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[records]} records"),
                   TransferSpeedColumn(), TimeElapsedColumn(), console=console, transient=True)
    with bar:
        task = bar.add_task(label, total=total, records=0)
        count = 0

        def tick(size: int) -> None:
            nonlocal count
            count += 1
            bar.update(task, advance=size, records=count)

        yield tick
