"""The request target, parsed strictly once for routing and forwarding.

Only origin-form (``/path?query``) is accepted: absolute-form (``http://host/x``),
authority-form (``host:port``), ``@host/x`` and ``*`` are refused, so no request can name
another host. The path is percent-decoded and its dot segments resolved *before* anyone looks
at it, so the admin check and the proxy see the path the upstream would route on: ``/v1/./finalize``
is ``/v1/finalize`` and ``/v1/x/%2e%2e/admin/settings`` is ``/v1/admin/settings``.

What is refused (``BadTarget``, answered 400): anything but printable ASCII, a fragment, a
backslash (raw or ``%5c``, which some servers treat as ``/``), an invalid ``%`` escape or
non-UTF-8, a decoded control character, a ``..`` that climbs above the root, and a dot segment
hidden behind an encoded slash (``..%2fadmin``) that a decoding upstream would resolve itself.
An encoded slash elsewhere is kept (the OpenAI SDK sends ``/models/org%2Fname``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOTS = (".", "..")


class BadTarget(ValueError):
    """The request target is not a clean origin-form target."""


@dataclass(frozen=True)
class Target:
    path: str       # decoded, dot segments resolved, empty segments dropped: routing and admin checks
    raw_path: str   # the surviving segments as the client encoded them: what a proxy forwards
    query: str      # as sent (printable ASCII, no fragment)


def parse_target(target: str) -> Target:
    if not target.startswith("/"):
        raise BadTarget("the request target must be origin-form (start with /)")
    # printable ASCII without the space: "!" to "~", checked at C speed
    if not (target.isascii() and target.isprintable()) or " " in target or "#" in target or "\\" in target:
        raise BadTarget("the request target holds a character that is not allowed")
    raw, _, query = target.partition("?")
    decoded_parts: list[str] = []
    raw_parts: list[str] = []
    for segment in raw.split("/")[1:]:
        decoded = _decode(segment)
        if decoded in _DOTS:
            if decoded == "..":
                if not decoded_parts:
                    raise BadTarget("the path climbs above the root")
                decoded_parts.pop()
                raw_parts.pop()
            continue
        if not segment:
            continue
        if "/" in decoded and any(piece in _DOTS for piece in decoded.split("/")):
            raise BadTarget("a dot segment behind an encoded slash")
        decoded_parts.append(decoded)
        raw_parts.append(segment)
    trailing = "/" if raw.endswith("/") and decoded_parts else ""
    return Target("/" + "/".join(decoded_parts) + trailing, "/" + "/".join(raw_parts) + trailing, query)


def _decode(segment: str) -> str:
    if "%" not in segment:  # nothing to decode; the whole target is printable ASCII, no backslash
        return segment
    if _BAD_ESCAPE.search(segment):
        raise BadTarget("an invalid percent escape")
    try:
        decoded = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise BadTarget("the path is not UTF-8") from None
    if "\\" in decoded or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        raise BadTarget("a decoded backslash or control character")
    return decoded
