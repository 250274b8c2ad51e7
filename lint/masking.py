"""Secrets a request body carries, found once by their field names, then masked wherever they show
up in ``--show-normalized``: an ``extra_body.api_key`` lifted to the top level reappears as an
event's ``after`` and in the forwarded body, under names no key list would catch.

The masking itself is the project's one redactor (:mod:`gonka_conformance.common.redact`); this
module only says which values are secrets and which places hold one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gonka_conformance.common.pointers import split_pointer
from gonka_conformance.common.redact import MASK

# Field names (lower case, without "-" and "_") that hold credentials. ``max_tokens`` and
# ``prompt_cache_key`` are not secrets: a name must end in one of these words exactly.
_SECRET_NAME = re.compile(
    r"(?:apikey|accesskey|secretkey|privatekey|secret|password|passwd|passphrase|token|authorization|"
    r"cookie|credentials?|sessionid)")


def is_secret_name(name: object) -> bool:
    normal = str(name).lower().replace("-", "").replace("_", "")
    match = _SECRET_NAME.search(normal)
    return match is not None and match.end() == len(normal)


def secrets_in(raw: bytes) -> list[str]:
    """Every scalar under a secret-named field of a JSON body, at any depth (nothing when the
    bytes are not JSON: the redactor's patterns still apply)."""
    try:
        body = json.loads(raw, parse_int=str, parse_float=str)
    except (ValueError, RecursionError):
        return []
    found: list[str] = []
    stack: list[tuple[Any, bool]] = [(body, False)]
    while stack:  # no recursion: a body may be nested as deep as the input allows
        value, secret = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, secret or is_secret_name(key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, secret) for item in value)
        elif secret and value is not None and not isinstance(value, bool):
            found.append(str(value))
    return found


def mask_fields(value: Any) -> Any:
    """``value`` with everything under a secret-named field replaced by the mask, however short."""
    if isinstance(value, dict):
        return {key: MASK if is_secret_name(key) else mask_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_fields(item) for item in value]
    return value


def mask_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event (its JSON form) whose pointer goes through a secret-named field shows no value."""
    try:
        secret = any(is_secret_name(token) for token in split_pointer(str(event.get("pointer", ""))))
    except ValueError:
        secret = False
    masked = dict(event)
    for side in ("before", "after"):
        if side in masked:
            masked[side] = MASK if secret else mask_fields(masked[side])
    return masked

