"""What goes on the wire: the response object the handler writes, and the upstream body and
header shapes (contract.md §5.1, §6, §7). Route decisions and texts come from the engine and
the catalogue (:class:`RouteRules`); this module only knows the envelopes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..goemu import json as gojson
from ..catalogue.loader import Catalogue
from ..engine import body_limit, body_too_large, route
from ..engine.types import Rejection, RouteFacts

TEXT_PLAIN = "text/plain; charset=utf-8"
APPLICATION_JSON = "application/json"
EVENT_STREAM = "text/event-stream"
# json.dumps with these options builds a new encoder on every call; the answers reuse one
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass
class Response:
    """One HTTP answer. ``stream`` chunks are written (and flushed) one by one, as chunked
    transfer encoding; ``cut_after`` (fault injection) aborts the connection after that many
    stream chunks or body bytes, without a proper end."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: Iterable[bytes] | None = None
    cut_after: int | None = None
    on_close: Callable[[], None] | None = None
    close_connection: bool = False


def http_error(status: int, message: str, extra_headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Go's ``http.Error(w, json, code)`` as the pooled chat path uses it: the JSON error body
    as text/plain, ``X-Content-Type-Options: nosniff``, a trailing newline."""
    body = (gojson.dumps({"error": {"message": message}}) + "\n").encode("utf-8", errors="surrogatepass")
    headers = [("Content-Type", TEXT_PLAIN), ("X-Content-Type-Options", "nosniff"), *extra_headers]
    return Response(status, headers, body)


def json_error(status: int, message: str) -> Response:
    """``writeGatewayJSONError``: the same body as application/json (models endpoint, proxy path)."""
    body = (gojson.dumps({"error": {"message": message}}) + "\n").encode("utf-8", errors="surrogatepass")
    return Response(status, [("Content-Type", APPLICATION_JSON)], body)


def pretty_json(status: int, payload: Any, extra_headers: Iterable[tuple[str, str]] = ()) -> Response:
    """``writeJSON`` (proxy.go): two-space indent, trailing newline, raw Unicode."""
    body = (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8", errors="surrogatepass")
    return Response(status, [("Content-Type", APPLICATION_JSON), *extra_headers], body)


def compact_json(status: int, payload: Any, extra_headers: Iterable[tuple[str, str]] = ()) -> Response:
    body = _COMPACT.encode(payload).encode("utf-8", errors="surrogatepass")
    return Response(status, [("Content-Type", APPLICATION_JSON), *extra_headers], body)


def not_found() -> Response:
    """Go's default mux answer for an unknown route."""
    return Response(404, [("Content-Type", TEXT_PLAIN), ("X-Content-Type-Options", "nosniff")], b"404 page not found\n")


def method_not_allowed(allow: str) -> Response:
    """``/v1/models`` with another method than GET/HEAD (contract.md §5.2)."""
    response = json_error(405, "method not allowed")
    response.headers.append(("Allow", allow))
    return response


def sse_event(payload: Any) -> bytes:
    """One upstream SSE event: ``data: <json>\\n\\n``."""
    return b"data: " + _COMPACT.encode(payload).encode("utf-8", errors="surrogatepass") + b"\n\n"


def sse_data(text: str) -> bytes:
    """An SSE event with literal data (the stream's end marker the response rules name)."""
    return b"data: " + text.encode("utf-8", errors="surrogatepass") + b"\n\n"


class RouteRules:
    """The route rules as this gateway answers them: the engine decides from the facts the
    gateway passes (``engine.gateway.route``) and the catalogue's texts; this class renders the
    answer. It names no rule: what an answer looks like follows from the rejection itself."""

    def __init__(self, catalogue: Catalogue, revision: str, profile: str | None) -> None:
        self.catalogue = catalogue
        self.revision = revision
        self.profile = profile
        #: ``MaxChatRequestBodySize`` as the catalogue states it (the body-size check's limit).
        self.body_limit = body_limit(catalogue)

    def route(self, facts: RouteFacts, family: str | None = None) -> Rejection | None:
        return route(self.catalogue, self.revision, self.profile, facts, family)

    def too_large(self) -> tuple[Rejection, Response]:
        """The 413 for a body past the limit (the connection is closed: the rest is unread)."""
        rejection = body_too_large(self.catalogue)
        response = http_error(rejection.status, rejection.message)
        response.close_connection = True
        return rejection, response

    @staticmethod
    def error(rejection: Rejection) -> Response:
        """A route rejection as upstream writes it: ``http.Error`` for almost all; a rule with
        error members besides ``message`` (adminAuthMiddleware's type and code) is JSON."""
        if not rejection.error_fields:
            return http_error(rejection.status, rejection.message)
        payload = {"error": {"message": rejection.message, **dict(rejection.error_fields)}}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n"  # field order as upstream
        return Response(rejection.status, [("Content-Type", APPLICATION_JSON)], body.encode("utf-8"))

    def disabled(self, message: str | None, new_url: str) -> Response | None:
        """Disabled mode: the 308 ``{"message","new_url","status"}`` (keys sorted, newline), JSON,
        no Location; ``message=None`` keeps the rule's text. None when no rule redirects."""
        rejection = self.route(RouteFacts(disabled=True))
        if rejection is None:
            return None
        payload = {"message": rejection.message if message is None else message, "new_url": new_url,
                   "status": rejection.status}
        body = (gojson.dumps(payload) + "\n").encode("utf-8", errors="surrogatepass")
        return Response(rejection.status, [("Content-Type", APPLICATION_JSON)], body)

    def admin_auth(self, admin: bool) -> Response | None:
        """An admin path (an admin key is configured): the error when the request lacks the key."""
        rejection = self.route(RouteFacts(admin_path=True, admin=admin))
        return None if rejection is None else self.error(rejection)
