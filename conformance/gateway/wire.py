"""What goes on the wire: the response object the handler writes, and the upstream body and
header shapes (contract.md §5.1, §6, §7). Route-rule texts come from the catalogue
(:class:`RouteRules`); this module only knows the envelopes."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..goemu import json as gojson
from ..catalogue.loader import Catalogue
from ..engine.pipeline import render

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


SSE_DONE = b"data: [DONE]\n\n"


class RouteRules:
    """Status codes and message texts of the route rules, read from the catalogue
    (``cases/rules/70-gateway.yaml`` and the body-size rule)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def reject(self, rule_id: str, code: str = "default", **params: Any) -> tuple[int, str]:
        rule = self.catalogue.by_id[rule_id]
        template = rule.messages.get(code) or rule.messages["default"]
        return int(rule.status or 400), render(template, params)

    def error(self, rule_id: str, code: str = "default", **params: Any) -> Response:
        status, message = self.reject(rule_id, code, **params)
        return http_error(status, message)

    def option(self, rule_id: str, name: str) -> Any:
        """A rule's option (``with:``); a catalogue without it is a bug, not a default."""
        for target in self.catalogue.by_id[rule_id].targets:
            if name in target.options:
                return target.options[name]
        raise KeyError(f"the catalogue's rule {rule_id} has no option {name!r}")

    @property
    def body_limit(self) -> int:
        """``MaxChatRequestBodySize`` as the catalogue states it."""
        return int(self.option("limit-body-size", "limit"))

    @functools.cached_property
    def _bytes_per_token(self) -> int:
        return int(self.option("large-prompt-context", "bytes_per_token"))

    def estimate_input_tokens(self, body: bytes) -> int:
        """``estimatePromptTokens`` for the limiter: body bytes / bytes_per_token, at least 1. The
        ratio is the one the large-prompt advice states (the same gateway estimate)."""
        return max(1, -(-len(body) // self._bytes_per_token))

    def disabled(self, message: str | None, new_url: str) -> Response:
        """308 ``{"message","new_url","status"}`` (keys sorted, newline), JSON, no Location."""
        status, default = self.reject("disabled-mode-redirect")
        payload = {"message": default if message is None else message, "new_url": new_url, "status": status}
        body = (gojson.dumps(payload) + "\n").encode("utf-8", errors="surrogatepass")
        return Response(status, [("Content-Type", APPLICATION_JSON)], body)

    def bad_admin_key(self) -> Response:
        """adminAuthMiddleware's 401: the only gateway error carrying type and code (§5.1)."""
        status, message = self.reject("reject-bad-admin-key")
        payload = {"error": {"message": message, **self.catalogue.by_id["reject-bad-admin-key"].error_fields}}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n"  # field order as upstream
        return Response(status, [("Content-Type", APPLICATION_JSON)], body.encode("utf-8"))
