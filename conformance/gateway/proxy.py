"""Lint-and-forward proxy (``serve --upstream URL``): every chat request is run through the
engine and its findings are printed live; with ``--block-rejects`` a request the gateway would
reject is answered locally with the gateway's exact error; everything else is forwarded
byte for byte to the real broker with the client's own key, and the answer (streams included)
is relayed as it arrives. The key is never printed, recorded or echoed."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..engine.pipeline import analyse, forwarded_bytes
from ..engine.types import Accepted, Rejected
from .chat import bearer_token
from .debug import DebugLog, body_for_record
from .httpserver import AbortStream, BodyTooLarge, Request
from ..live.redact import Redactor
from .livelog import Line, LiveLog
from .state import GatewayState
from .wire import Response, RouteRules, http_error

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
CHAT_PATH = "/v1/chat/completions"


class ProxyService:
    def __init__(self, state: GatewayState, rules: RouteRules, debug: DebugLog | None, log: LiveLog | None,
                 redactor: Redactor) -> None:
        config = state.config
        assert config.upstream is not None
        self.state = state
        self.rules = rules
        self.debug = debug
        self.log = log
        self.redact = redactor
        parts = urlsplit(config.upstream)
        self._base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._strip_v1 = parts.path.rstrip("/").endswith("/v1")
        self.client = httpx.Client(timeout=httpx.Timeout(config.upstream_timeout, connect=10.0), follow_redirects=False,
                                   limits=httpx.Limits(max_connections=256, max_keepalive_connections=32), trust_env=False)

    def close(self) -> None:
        self.client.close()

    def target(self, path: str, query: str) -> str:
        """Incoming ``/v1/x`` onto the upstream base URL (which usually ends in /v1)."""
        if self._strip_v1 and (path == "/v1" or path.startswith("/v1/")):
            path = path[3:]
        return self._base + path + (f"?{query}" if query else "")

    def handle(self, request: Request) -> Response:
        state = self.state
        request_id = state.next_request_id()
        started = time.monotonic()
        token = bearer_token(request)
        secrets = [token or ""]
        lines: list[Line] = []
        record: dict[str, Any] = {"request_id": request_id, "time": time.time(), "method": request.method,
                                  "path": request.path, "mode": "proxy", "revision": state.revision.id,
                                  "profile": state.config.profile}

        def finish(response: Response, **fields: Any) -> Response:
            response.headers.append(("X-Request-Id", request_id))
            record.update(status=response.status, **fields)
            if self.debug is not None:
                self.debug.add(record, secrets=secrets)
            if self.log is not None:
                self.log.request(request_id, request.method, request.path, lines, response.status,
                                 (time.monotonic() - started) * 1000, secrets=secrets)
            return response

        try:
            raw = request.read_body() if request.method not in ("GET", "HEAD") else b""
        except BodyTooLarge:
            status, message = self.rules.reject("limit-body-size")
            response = http_error(status, message)
            response.close_connection = True
            if self.log is not None:
                lines.append(self.log.finding("error", "limit-body-size", "", message))
            return finish(response, outcome="rejected", rule="limit-body-size")

        if request.method == "POST" and request.path == CHAT_PATH:
            analysis = analyse(raw, model=state.default_model, revision=state.revision.id, limits=state.settings.limits,
                               profile=state.config.profile, catalogue=state.catalogue)
            result = analysis.result
            record.update(
                received=body_for_record(raw), model=result.model, family=result.family,
                rejections=[r.to_json() for r in analysis.rejections], events=[e.to_json() for e in analysis.events],
                advice=[a.to_json() for a in analysis.advice],
            )
            if isinstance(result, Accepted):
                record["forwarded"] = json.loads(forwarded_bytes(result))
            if self.log is not None:
                lines.append(self.log.text(f"model {result.model}"))
                lines.extend(self.log.result_lines(None, analysis))
                if not analysis.rejections and not analysis.events and not analysis.advice:
                    lines.append(self.log.text("no findings", "green"))
            if isinstance(result, Rejected) and state.config.block_rejects:
                if self.log is not None:
                    lines.append(self.log.text(f"blocked locally: the gateway answers {result.status} ({result.rule})", "bold red"))
                return finish(http_error(result.status, result.message), outcome="blocked", rule=result.rule)

        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        if not any(k.lower() == "accept-encoding" for k, _ in headers):
            headers.append(("Accept-Encoding", "identity"))  # relay exactly what the client can read
        try:
            upstream = self.client.send(
                self.client.build_request(request.method, self.target(request.path, request.query), content=raw, headers=headers),
                stream=True,
            )
        except httpx.HTTPError as exc:
            message = self.redact.text(f"reference proxy: upstream {Redactor.url(self._base)} failed: {exc.__class__.__name__}: {exc}", secrets)
            if self.log is not None:
                lines.append(self.log.text(message, "bold red"))
            return finish(http_error(502, message), outcome="upstream-error")

        relay = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        streamed = "text/event-stream" in upstream.headers.get("content-type", "")
        if not streamed:
            try:
                body = b"".join(upstream.iter_raw())
            except httpx.HTTPError as exc:
                message = self.redact.text(f"reference proxy: upstream answer broke off: {exc.__class__.__name__}", secrets)
                return finish(http_error(502, message), outcome="upstream-error")
            finally:
                upstream.close()
            return finish(Response(upstream.status_code, relay, body), outcome="forwarded", upstream_status=upstream.status_code)
        return finish(Response(upstream.status_code, relay, stream=self._relay(upstream), on_close=upstream.close),
                      outcome="forwarded", upstream_status=upstream.status_code)

    @staticmethod
    def _relay(upstream: httpx.Response) -> Iterator[bytes]:
        try:
            yield from upstream.iter_raw()
        except httpx.HTTPError:
            raise AbortStream() from None  # the upstream broke off: so does the client's stream
