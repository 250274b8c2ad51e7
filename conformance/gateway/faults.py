"""Opt-in fault injection (``--fault-*``): latency, 5xx, 429 with Retry-After, responses cut
mid-way and garbage bodies, drawn from a seeded generator so runs are reproducible."""

from __future__ import annotations

import random
import threading

from ..engine.types import RouteFacts
from .config import Faults
from .wire import EVENT_STREAM, APPLICATION_JSON, Response, RouteRules, http_error

RATE_LIMIT, SERVER_ERROR, GARBAGE, CUT = "rate-limit", "server-error", "garbage", "cut"
CAPACITY = "capacity"  # the limiter's refusal code for "no live host capacity" (gateway_limiter.go)
GARBAGE_JSON = b'{"id":"devshard-\x00\xff\xfe garbage <html><body>502 Bad Gateway</body></html>\n'
GARBAGE_SSE = b"data: {\"choices\":[{\"delta\":{\"content\":\"unterminated\n\nevent: ???\ndata: \x00\xff\n\n"


class FaultPicker:
    def __init__(self, faults: Faults, stop: threading.Event) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._stop = stop

    def delay(self) -> None:
        """The added latency (interrupted when the server stops)."""
        if self.faults.latency_ms > 0:
            self._stop.wait(self.faults.latency_ms / 1000.0)

    def stopped(self, seconds: float) -> bool:
        """Sleep (e.g. between streamed events); True when the server is stopping."""
        return self._stop.wait(seconds)

    def pick(self) -> str | None:
        """Which fault (if any) hits this request. One draw per kind, in a fixed order, so the
        sequence only depends on the seed and the request order."""
        f = self.faults
        if not f.active:
            return None
        with self._lock:
            draws = [self._rng.random() for _ in range(4)]
        for kind, rate, draw in ((RATE_LIMIT, f.rate_limit_rate, draws[0]), (SERVER_ERROR, f.error_rate, draws[1]),
                                 (GARBAGE, f.garbage_rate, draws[2]), (CUT, f.cut_rate, draws[3])):
            if draw < rate:
                return kind
        return None

    def response(self, kind: str, rules: RouteRules, stream: bool) -> Response | None:
        """The answer for faults that replace the response (``cut`` is applied by the caller)."""
        if kind == RATE_LIMIT:  # the limiter refusing for host capacity, as admission reports it
            refused = rules.route(RouteFacts(admit=lambda _tokens: (CAPACITY, 0, 0)))
            if refused is not None:
                return http_error(refused.status, refused.message, [("Retry-After", str(self.faults.retry_after))])
        if kind == SERVER_ERROR:
            return http_error(self.faults.error_status, "reference gateway fault injection: simulated upstream failure")
        if kind == GARBAGE:
            if stream:
                return Response(200, [("Content-Type", EVENT_STREAM), ("Cache-Control", "no-cache")], stream=iter([GARBAGE_SSE]))
            return Response(200, [("Content-Type", APPLICATION_JSON)], GARBAGE_JSON)
        return None
