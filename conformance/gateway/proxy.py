"""Lint-and-forward proxy (``serve --upstream URL``): every chat request is run through the
engine and its findings are printed live; with ``--block-rejects`` a request the gateway would
reject is answered locally with the gateway's exact error; everything else is forwarded byte for
byte under the upstream's base URL, and the answer (streams included) is relayed as it arrives.

Who may use it: with client keys configured (``--api-key``, or the admin key) a request without
one of them gets the gateway's own 401 and is never forwarded, and the client's credentials stay
here; the upstream gets only the credentials configured for it (``upstream.py``). With no client
key configured the proxy is a pass-through: the client's own ``Authorization`` goes to the
broker, and configuration may then hold no upstream credentials (``GatewayConfig.validate``).

What comes back is bounded: a non-streamed answer over ``upstream_max_bytes`` is a 502, a
stream over ``upstream_max_stream_bytes`` or past the deadline is cut, and the whole exchange
ends by ``upstream_timeout`` (a 504 before the answer started). No key is ever printed, recorded
or echoed."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import httpx

from ..engine import analyse, forwarded_bytes
from ..engine.types import Accepted, Rejected, Rejection, RouteFacts
from ..common.redact import Redactor
from .chat import bearer_token, same_secret
from .contentcoding import MAX_CODINGS, Corrupt, Decoder, TooLarge, Unsupported
from .debug import DebugLog, body_for_record, body_secrets
from .echoguard import EchoGuard, not_utf8
from .httpserver import AbortStream, BodyTooLarge, Request
from .livelog import Line, LiveLog
from .state import GatewayState
from .upstream import Upstream, end_deadline, start_deadline, upstream_client
from .wire import Response, RouteRules, http_error, not_found

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
CLIENT_CREDENTIALS = frozenset({"authorization", "x-api-key", "api-key", "cookie"})  # kept here when the proxy has keys
CHAT_PATH = "/v1/chat/completions"
NOT_UTF8 = ("reference proxy: the upstream answer may be read as other text than UTF-8 (a charset, a byte-order "
            "mark or NUL bytes), so it cannot be checked for echoed credentials")
API_KEY_MODE = "api_key"  # contract.md §5.3's access mode needing a client key


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
        self.upstream = Upstream.parse(config.upstream, config.upstream_key)
        for secret in self.upstream.secrets:
            redactor.add(secret)
        self.guard = EchoGuard(self.upstream.secrets)  # every spelling of them, in what is relayed
        self._client_keys = (*config.api_keys(), *([config.admin_key] if config.admin_key else []))
        self.client = upstream_client(config.upstream_timeout)

    def close(self) -> None:
        self.client.close()

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
            url = self.upstream.url_for(request.raw_path or request.path, request.query)
        except httpx.InvalidURL:  # the HTTP layer refuses such targets first; never a 500
            return finish(http_error(400, "reference proxy: the request target cannot be forwarded"), outcome="not-forwarded")
        if url is None:
            return finish(not_found(), outcome="not-forwarded")
        try:
            raw = request.read_body() if request.method not in ("GET", "HEAD") else b""
        except BodyTooLarge:
            rejection, response = self.rules.too_large()
            if self.log is not None:
                lines.append(self.log.finding("error", rejection.rule, "", rejection.message))
            return finish(response, outcome="rejected", rule=rejection.rule)
        secrets += body_secrets(raw)

        model, blocked = self._lint(request, raw, record, lines)
        if blocked is not None:
            return finish(blocked, outcome="blocked", rule=record["rule"])
        refused = self._access(model, token)
        if refused is not None:
            if self.log is not None:
                lines.append(self.log.finding("error", refused.rule, "", refused.message))
            return finish(http_error(refused.status, refused.message), outcome="rejected", rule=refused.rule)

        response, fields = self._forward(request, url, raw, secrets, lines)
        return finish(response, **fields)

    def _access(self, model: str, token: str | None) -> Rejection | None:
        """With client keys configured, every model is in api_key mode for the proxy (the admin key
        is one of its keys); without, it is a pass-through and decides nothing."""
        if not self._client_keys:
            return None
        accepted = any(same_secret(token, key) for key in self._client_keys)
        return self.rules.route(RouteFacts(model=model, access_mode=API_KEY_MODE, key_accepted=accepted))

    def _lint(self, request: Request, raw: bytes, record: dict[str, Any], lines: list[Line]) -> tuple[str, Response | None]:
        """A chat request through the engine: findings logged and recorded; returns the model
        (for the 401's message) and, with --block-rejects, the gateway's own error."""
        state = self.state
        if request.method != "POST" or request.path != CHAT_PATH:
            return state.default_model, None
        analysis = analyse(raw, model=state.default_model, revision=state.revision.id, limits=state.settings.limits,
                           profile=state.config.profile, catalogue=state.catalogue)
        result = analysis.result
        record.update(
            received=body_for_record(raw), model=result.model, family=result.family,
            rejections=[r.to_json() for r in analysis.rejections], events=[e.to_json() for e in analysis.events],
            advice=[a.to_json() for a in analysis.advice],
        )
        if isinstance(result, Accepted):
            exact = forwarded_bytes(result)
            record.update(forwarded=json.loads(exact), forwarded_bytes=body_for_record(exact))
        if self.log is not None:
            lines.append(self.log.text(f"model {result.model}"))
            lines.extend(self.log.result_lines(None, analysis))
            if not analysis.rejections and not analysis.events and not analysis.advice:
                lines.append(self.log.text("no findings", "green"))
        if isinstance(result, Rejected) and state.config.block_rejects:
            if self.log is not None:
                lines.append(self.log.text(f"blocked locally: the gateway answers {result.status} ({result.rule})", "bold red"))
            record["rule"] = result.rule
            return result.model or state.default_model, http_error(result.status, result.message)
        return result.model or state.default_model, None

    # --- forwarding -----------------------------------------------------------------------------

    def _headers(self, request: Request) -> list[tuple[str, str]]:
        named = {n.strip().lower() for n in (request.headers.get("Connection") or "").split(",")}
        dropped = HOP_BY_HOP | named | (CLIENT_CREDENTIALS if self._client_keys else frozenset())
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in dropped]
        if self.upstream.authorization is not None:
            headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
            headers.append(("Authorization", self.upstream.authorization))
        if self.upstream.has_credentials:  # an answer we can read, to mask an echoed credential
            headers = [(k, v) for k, v in headers if k.lower() != "accept-encoding"]
        if not any(k.lower() == "accept-encoding" for k, _ in headers):
            headers.append(("Accept-Encoding", "identity"))  # relay exactly what the client can read
        return headers

    def _forward(self, request: Request, url: httpx.URL, raw: bytes, secrets: list[str],
                 lines: list[Line]) -> tuple[Response, dict[str, Any]]:
        config = self.state.config
        start_deadline(config.upstream_timeout)
        try:
            upstream = self.client.send(self.client.build_request(request.method, url, content=raw,
                                                                  headers=self._headers(request)), stream=True)
        except httpx.HTTPError as exc:
            end_deadline()
            return self._failed(exc, "did not answer", secrets, lines), {"outcome": "upstream-error"}
        streamed = "text/event-stream" in upstream.headers.get("content-type", "")
        cap = config.upstream_max_stream_bytes if streamed else config.upstream_max_bytes
        try:  # with credentials to guard, the answer is checked as the client will read it: decoded
            decoder = Decoder.needed(upstream.headers.get("content-encoding"), cap) if self.guard.active else None
        except Unsupported:
            upstream.close()
            end_deadline()
            message = ("reference proxy: the upstream answer's Content-Encoding cannot be checked for echoed "
                       f"credentials (the proxy decodes gzip and deflate, up to {MAX_CODINGS} of them)")
            return self._error(502, message, secrets, lines), {"outcome": "upstream-undecodable"}
        dropped = HOP_BY_HOP | ({"content-encoding"} if decoder is not None else frozenset())
        # an upstream that echoes the credentials it was sent must not hand them to the client,
        # in any spelling (echoguard.py): headers here, the body below or as it streams
        relay = self.guard.headers([(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in dropped])
        fields = {"outcome": "forwarded", "upstream_status": upstream.status_code}
        if not streamed:
            try:
                body = self._read_capped(upstream, cap, decoder)
            except httpx.HTTPError as exc:
                return self._failed(exc, "answer broke off", secrets, lines), {"outcome": "upstream-error"}
            except TooLarge:
                message = f"reference proxy: the upstream answer exceeds {cap} bytes"
                return self._error(502, message, secrets, lines), {"outcome": "upstream-too-large"}
            except Corrupt:
                message = "reference proxy: the upstream answer's Content-Encoding could not be decoded"
                return self._error(502, message, secrets, lines), {"outcome": "upstream-undecodable"}
            finally:
                upstream.close()
                end_deadline()
            if self.guard.active and not_utf8(upstream.headers.get("content-type", ""), body):
                return self._error(502, NOT_UTF8, secrets, lines), {"outcome": "upstream-undecodable"}
            return Response(upstream.status_code, relay, self.guard.mask(body)), fields

        def close() -> None:
            upstream.close()
            end_deadline()

        return Response(upstream.status_code, relay, stream=self._relay(upstream, cap, decoder), on_close=close), fields

    @staticmethod
    def _read_capped(upstream: httpx.Response, cap: int, decoder: Decoder | None = None) -> bytes:
        """The whole answer, decoded when ``decoder`` is given; over ``cap`` (before or after
        decoding) raises, so a bomb stops at the cap."""
        parts, total = [], 0
        for piece in upstream.iter_raw():
            total += len(piece)
            if total > cap:
                raise TooLarge()
            parts.append(piece)
        if decoder is None:
            return b"".join(parts)
        decoded: list[bytes] = []
        for piece in parts:
            decoded.extend(decoder.feed(piece))
        decoded.extend(decoder.finish())
        return b"".join(decoded)

    def _relay(self, upstream: httpx.Response, cap: int, decoder: Decoder | None = None) -> Iterator[bytes]:
        """The stream as it arrives: decoded when encoded, each credential masked even when split
        across reads (the masker holds back what may start one); over ``cap`` (raw or decoded)
        or broken off, the client's stream is cut too."""
        masker = self.guard.stream()
        total = 0
        self._utf8(b"", upstream.headers.get("content-type", ""))
        try:
            for piece in upstream.iter_raw():
                total += len(piece)
                if total > cap:
                    raise AbortStream()  # over the cap: the client sees a cut stream, not a clean end
                for decoded in (decoder.feed(piece) if decoder is not None else (piece,)):
                    yield masker.feed(self._utf8(decoded))
            for decoded in (decoder.finish() if decoder is not None else ()):
                yield masker.feed(self._utf8(decoded))
            yield masker.finish()
        except (httpx.HTTPError, TooLarge, Corrupt):
            raise AbortStream() from None  # the upstream broke off, ran out of time or sent a bomb: so does the client's stream

    def _utf8(self, data: bytes, content_type: str = "") -> bytes:
        """A piece of a stream, unless it may be read as UTF-16/32 (``not_utf8``): then the client's
        stream is cut, since what would follow cannot be checked for echoed credentials."""
        if self.guard.active and not_utf8(content_type, data):
            raise AbortStream()
        return data

    def _failed(self, exc: httpx.HTTPError, what: str, secrets: list[str], lines: list[Line]) -> Response:
        if isinstance(exc, httpx.TimeoutException):
            message = f"reference proxy: upstream {self.upstream.shown} timed out ({self.state.config.upstream_timeout:g} s for the whole exchange)"
            return self._error(504, message, secrets, lines)
        return self._error(502, f"reference proxy: upstream {self.upstream.shown} {what}: {exc.__class__.__name__}: {exc}",
                           secrets, lines)

    def _error(self, status: int, message: str, secrets: list[str], lines: list[Line]) -> Response:
        message = self.redact.text(self.guard.text(message), secrets)
        if self.log is not None:
            lines.append(self.log.text(message, "bold red"))
        return http_error(status, message)
