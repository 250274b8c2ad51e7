"""``POST /v1/chat/completions`` against the simulated model, in the pooled gateway's order
(contract.md §1 "Where the pipeline runs"): read the body (413), normalize through the engine
(its 400s win), validate the model (400), check access (401), admit through the limiter (429),
then call the host and shape its answer for the client."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any, Iterator

from ..engine import forwarded_bytes, normalize
from ..engine import Responder, client_intent, responder
from ..engine.types import Accepted, Rejected, RouteFacts
from .faults import CUT
from .hosterrors import ContextWindows, HostError
from .httpserver import BodyTooLarge, Request
from .livelog import Line
from .respond import upstream_chunks, upstream_completion
from .simulate import canonical, simulate
from .state import GatewayState
from .wire import EVENT_STREAM, TEXT_PLAIN, Response, RouteRules, compact_json, http_error, sse_data, sse_event
from .debug import DebugLog, body_for_record


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("Authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def same_secret(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]


class _Admission:
    """The limiter as the admission rule asks it (``RouteFacts.admit``): what it admitted is
    released once, when the answer ends."""

    def __init__(self, limiter: Any, model: str) -> None:
        self.limiter = limiter
        self.model = model
        self.admitted: list[int] = []  # the input-token estimates taken (none: no admission rule in force)

    def __call__(self, tokens: int) -> tuple[str, int, int] | None:
        refused: tuple[str, int, int] | None = self.limiter.admit(tokens, self.model)
        if refused is None:
            self.admitted.append(tokens)
        return refused

    def release(self) -> None:
        while self.admitted:
            self.limiter.release(self.admitted.pop(), self.model)


class ChatService:
    def __init__(self, state: GatewayState, rules: RouteRules, debug: DebugLog | None, faults: Any, log: Any) -> None:
        self.state = state
        self.rules = rules
        self.debug = debug
        self.faults = faults
        self.log = log
        self.windows = ContextWindows(state.catalogue)

    # --- the pooled chat path -----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        state = self.state
        request_id = state.next_request_id()
        started = time.monotonic()
        record: dict[str, Any] = {}  # filled for the debug view and the live log only
        if self.debug is not None:
            record.update(request_id=request_id, time=time.time(), method=request.method, path=request.path,
                          revision=state.revision.id, profile=state.config.profile)
        lines: list[Line] = []
        token = bearer_token(request)
        response = self._handle(request, token, record, lines)
        response.headers.append(("X-Request-Id", request_id))
        if self.debug is not None:
            record["status"] = response.status
            self.debug.add(record, secrets=[token or ""])
        if self.log is not None:
            self.log.request(request_id, request.method, request.path, lines, response.status,
                             (time.monotonic() - started) * 1000, secrets=[token or ""])
        return response

    def _handle(self, request: Request, token: str | None, record: dict[str, Any], lines: list[Line]) -> Response:
        state, settings = self.state, self.state.settings
        if request.method != "POST":
            return Response(405, [("Content-Type", TEXT_PLAIN), ("X-Content-Type-Options", "nosniff"), ("Allow", "POST")],
                            b"method not allowed\n")
        try:
            raw = request.read_body()
        except BodyTooLarge:
            rejection, response = self.rules.too_large()
            record.update(outcome="rejected", rule=rejection.rule)
            return response
        self.faults.delay()
        admin = same_secret(token, state.config.admin_key)
        result = normalize(raw, model=state.default_model, revision=state.revision.id, limits=settings.limits,
                           admin=admin, profile=state.config.profile, catalogue=state.catalogue)
        record.update(admin=admin, model=result.model, family=result.family)
        if self.debug is not None:
            record["events"] = [e.to_json() for e in result.events]
        if self.log is not None:
            lines.extend(self.log.result_lines(result))
        if isinstance(result, Rejected):
            record.update(outcome="rejected", rule=result.rule, message=result.message, pointer=result.pointer)
            return http_error(result.status, result.message)
        if self.debug is not None:  # the exact upstream bytes, only when someone can look at them
            exact = forwarded_bytes(result)
            record.update(forwarded=json.loads(exact), forwarded_bytes=body_for_record(exact))
        admission = _Admission(state.limiter, result.model)
        refused = self.rules.route(self._facts(result, token, admin, len(raw), admission), result.family)
        if refused is not None:
            record.update(outcome="rejected", rule=refused.rule, message=refused.message)
            if self.log is not None and refused.pointer:  # about the model; a 429 shows as its status line
                lines.append(self.log.finding("error", refused.rule, refused.pointer, refused.message))
            return self.rules.error(refused)
        try:
            return self._answer(result, record, lines, admission.release)
        except BaseException:
            admission.release()
            raise

    def _facts(self, result: Accepted, token: str | None, admin: bool, size: int, admit: _Admission) -> RouteFacts:
        """What the gateway knows once the request is normalized (model validation, access
        control and admission run after normalization, as upstream)."""
        state = self.state
        keys = state.config.api_keys()
        return RouteFacts(model=result.model, served=tuple(state.models), access_mode=state.settings.access.get(result.model),
                          admin=admin, key_accepted=bool(token) and (not keys or any(same_secret(token, k) for k in keys)),
                          admit=admit, body_size=size)

    # --- the simulated host and the response rules ---------------------------------------------

    def _answer(self, result: Accepted, record: dict[str, Any], lines: list[Line], release: Any) -> Response:
        intent = client_intent(result)
        if self.debug is not None:
            record.update(outcome="accepted", client={"stream": intent.stream, "include_usage": intent.include_usage,
                                                      "logprobs": intent.logprobs})
        fault = self.faults.pick()
        if fault is not None:
            record["fault"] = fault
            if self.log is not None:
                lines.append(self.log.text(f"fault injected: {fault}", "bold magenta"))
            replaced = self.faults.response(fault, self.rules, intent.stream)
            if replaced is not None:
                release()
                return replaced
        fingerprint = canonical(result.body)
        runtime, nonce = self.state.next_response(result.model)
        shaper = responder(self.state.catalogue, self.state.revision.id, self.state.config.profile, result,
                           {"escrow": runtime.escrow_id, "inference": nonce})
        overflow = self.windows.check(result.body, result.family, fingerprint)
        if overflow is not None:  # the host refuses before generating; the gateway passes it through
            release()
            record.update(outcome="host_error", message=overflow.payload["error"]["message"])
            if self.log is not None:
                lines.append(self.log.text(f"host error {overflow.status}: {record['message']}", "bold magenta"))
            return self._host_error(overflow, intent.stream, [("X-Devshard-ID", str(runtime.escrow_id))], shaper.stream_end)
        sim = simulate(result.body, model=result.model, family=result.family, fingerprint=fingerprint)
        response_id = shaper.response_id or f"chatcmpl-{sim.prompt_seed:016x}"  # the host's own id stays
        created = int(time.time())
        headers = [("X-Devshard-ID", str(runtime.escrow_id))]
        if self.debug is not None:
            record.update(response_id=response_id, finish_reasons=[c.finish_reason for c in sim.choices], usage=sim.usage)
        if self.log is not None:
            summary = ", ".join(f"{c.finish_reason} ({c.completion_tokens} tokens, {c.reasoning_tokens} reasoning)" for c in sim.choices)
            lines.append(self.log.text(f"{response_id}: {summary}"))
        if not intent.stream:
            body = shaper.shape(upstream_completion(sim, created, shaper.removes), streamed=False)
            release()
            response = compact_json(200, body, headers)
            if fault == CUT:
                response.cut_after = max(1, len(response.body) // 2)
            return response
        events = list(self._sse(sim, shaper, created))
        return Response(200, [("Content-Type", EVENT_STREAM), ("Cache-Control", "no-cache"), ("Connection", "keep-alive"), *headers],
                        stream=self._paced(events), cut_after=max(1, len(events) // 2) if fault == CUT else None,
                        on_close=release)

    @staticmethod
    def _host_error(error: HostError, stream: bool, headers: list[tuple[str, str]], end: str | None) -> Response:
        """A host error passed through (contract.md §5.1, §6): its own JSON with its ``code`` as
        the status; on a stream, before any output, ``data: <host error JSON>`` then the end
        event the stream rule names (``[DONE]``), with HTTP 200."""
        if not stream:
            return compact_json(error.status, error.payload, headers)
        events = [sse_event(error.payload), *([sse_data(end)] if end is not None else [])]
        return Response(200, [("Content-Type", EVENT_STREAM), ("Cache-Control", "no-cache"), ("Connection", "keep-alive"),
                              *headers], stream=iter(events))

    def _sse(self, sim: Any, shaper: Responder, created: int) -> Iterator[bytes]:
        for chunk in upstream_chunks(sim, created, shaper.removes):
            shaped = shaper.shape(chunk, streamed=True)
            if shaped is not None:
                yield sse_event(shaped)
        if shaper.stream_end is not None:
            yield sse_data(shaper.stream_end)

    def _paced(self, events: list[bytes]) -> Iterator[bytes]:
        delay = self.state.config.faults.chunk_delay_ms / 1000.0
        for number, event in enumerate(events):
            if delay and number:
                if self.faults.stopped(delay):
                    return
            yield event

