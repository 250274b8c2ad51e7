"""Named check and transform functions. Rules are data; these are the verbs they use.

A function takes ``(ctx, site)`` and yields :class:`Hit` (a problem) and/or :class:`Change`
(a rewrite it made). It is called once per JSON value the target's path selects; functions
registered with ``when_absent=True`` are also called when the path selects nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from .context import Context, Site
    from .types import Change, Hit

Fn = Callable[["Context", "Site"], "Iterable[Hit | Change]"]


@dataclass(frozen=True)
class Registered:
    fn: Fn
    when_absent: bool


CHECKS: dict[str, Registered] = {}
TRANSFORMS: dict[str, Registered] = {}


def check(name: str, *, when_absent: bool = False) -> Callable[[Fn], Fn]:
    def register(fn: Fn) -> Fn:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = Registered(fn, when_absent)
        return fn

    return register


def transform(name: str, *, when_absent: bool = False) -> Callable[[Fn], Fn]:
    def register(fn: Fn) -> Fn:
        if name in TRANSFORMS:
            raise ValueError(f"transform {name!r} registered twice")
        TRANSFORMS[name] = Registered(fn, when_absent)
        return fn

    return register
