"""The white-box view (opt-in, ``--debug-endpoint``): the last requests' forwarded bodies and
engine events, so the live suite can verify silent rules (strips, coercions, translations)
against the reference, and a broker can see what its users' agents send.

``GET /_reference/debug/requests[?limit=N]`` lists the newest records last;
``GET /_reference/debug/requests/<request-id>`` returns one (the id is the response's
``X-Request-Id``); ``DELETE /_reference/debug/requests`` clears the history.

When the gateway has an admin key, the view answers only to it (a bad or missing key gets the
admin middleware's 401); without one it is open, as the live suite's embedded gateway needs.
No header is recorded, and every record passes through the shared redactor (configured keys,
the request's own key and anything shaped like a credential) before it is stored. A value the
body keeps under a secret-named field (``api_key``, ``authorization``, … as the redactor names
them) is masked wherever it shows, so ``received`` and ``forwarded_bytes`` (texts) hide what
``forwarded`` (a parsed object) hides.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from typing import Any, Iterable
from urllib.parse import parse_qs

from ..goemu import json as gojson
from ..common.redact import MASK, Redactor

from .wire import Response, not_found, pretty_json

DEBUG_PREFIX = "/_reference/debug/requests"
MAX_RECORDED_BODY = 2 * 1024 * 1024   # larger bodies are summarised, not kept


class DebugLog:
    def __init__(self, size: int, redactor: Redactor | None = None) -> None:
        self.size = size
        self.redactor = redactor or Redactor()
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, record: dict[str, Any], secrets: Iterable[str] = ()) -> None:
        """Store a redacted copy; ``secrets``: the request's own key (not configured anywhere)."""
        found = [*secrets]
        for name in ("received", "forwarded_bytes"):
            if isinstance(record.get(name), str):
                found += body_secrets(record[name])
        record = self.redactor.data(record, found)
        with self._lock:
            self._records[record["request_id"]] = record
            while len(self._records) > self.size:
                self._records.popitem(last=False)

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get(request_id)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records.values())[-limit:] if limit > 0 else []

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def body_for_record(raw: bytes) -> Any:
    """A body as the record keeps it: the text, or a summary when large or not UTF-8."""
    if len(raw) > MAX_RECORDED_BODY:
        return {"omitted": "body too large to record", "bytes": len(raw)}
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"omitted": "body is not UTF-8", "bytes": len(raw)}


class _Object(list):
    """A JSON object's (key, value) pairs, duplicate keys kept."""


def body_secrets(body: bytes | str) -> list[str]:
    """The values a JSON body keeps under secret-named fields, in every spelling a text copy of
    it may show (raw, JSON-escaped, Go's HTML-safe escaping), so they can be masked wherever they
    appear whatever field holds them. Not JSON: nothing (a parse error is no secret)."""
    try:
        tree = json.loads(body, object_pairs_hook=_Object, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return []
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        node, secret = stack.pop()
        if isinstance(node, _Object):
            stack.extend((value, secret or _names_a_secret(key)) for key, value in node)
        elif isinstance(node, list):
            stack.extend((value, secret) for value in node)
        elif secret and isinstance(node, str):
            found.update((node, json.dumps(node)[1:-1], json.dumps(node, ensure_ascii=False)[1:-1], gojson.dumps(node)[1:-1]))
    return sorted(found)


@functools.lru_cache(maxsize=1024)
def _names_a_secret(key: str) -> bool:
    """Whether the shared redactor masks a field of this name (asked through its public API)."""
    return list(Redactor().data({key: ""}).values()) == [MASK]


def debug_view(method: str, path: str, query: str, log: DebugLog) -> Response:
    tail = path[len(DEBUG_PREFIX):]
    if tail in ("", "/"):
        if method in ("GET", "HEAD"):
            try:
                limit = int((parse_qs(query).get("limit") or [str(log.size)])[0])
            except ValueError:
                limit = log.size
            return pretty_json(200, {"requests": log.recent(limit)})
        if method == "DELETE":
            log.clear()
            return Response(204)
        return Response(405, [("Allow", "GET, HEAD, DELETE")])
    record = log.get(tail.lstrip("/"))
    if record is None or method not in ("GET", "HEAD"):
        return not_found()
    return pretty_json(200, record)
