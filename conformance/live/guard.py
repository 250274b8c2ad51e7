"""Run-wide safety for a live run: every bound, the run's deadline and a circuit breaker.

A broker may answer slowly, endlessly or not at all, reject the key, or stop responding. The
guard is consulted before every request and told how each one went, so that such a target
costs at most ``max_duration`` seconds and a handful of requests instead of hours: once it
halts, nothing more is sent and every remaining case is an ``error``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

MIB = 1024 * 1024



#: How a case that a halted run kept from the target is worded (the terminal folds them).
NOT_SENT = "not sent: "
NOT_JUDGED = "not judged: "

@dataclass(frozen=True)
class Bounds:
    """Every size and time limit of a live run (documented in README.md and docs/live-suite.md)."""

    max_duration: float = 900.0  # the whole run, retry waits included (--max-duration)
    unresponsive_after: int = 5  # consecutive transport failures before the target is given up (--unresponsive-after)
    reject_latency: float = 10.0  # an expected reject slower than this is a deviation (--reject-latency)
    max_body_bytes: int = 8 * MIB  # one JSON answer, after decompression
    max_stream_bytes: int = 8 * MIB  # one event stream, after decompression
    max_stream_events: int = 20_000  # data events in one stream
    max_models_bytes: int = 1 * MIB  # GET /models, after decompression
    max_models: int = 1_000  # model ids a broker may list
    max_whitebox_bytes: int = 32 * MIB  # one answer of a reference gateway's debug view (--whitebox-url)
    max_retry_wait: float = 30.0  # one Retry-After wait
    max_kept_bytes: int = 256 * MIB  # all answers of a run, kept for judging and the fingerprint


class RunGuard:
    """The run deadline, the circuit breaker and the authentication check, shared by all workers.

    ``halted`` says why no request may go out any more (``None`` while the run goes on)."""

    def __init__(self, bounds: Bounds | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.bounds = bounds or Bounds()
        self._clock = clock
        self.deadline = clock() + self.bounds.max_duration
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._halted: str | None = None
        self.refused = 0  # requests not sent because the run had halted
        self._failures = 0
        self._kept = 0
        self._key_accepted = False

    @property
    def halted(self) -> str | None:
        return self._halted

    def remaining(self) -> float:
        return self.deadline - self._clock()

    def refusal(self) -> str | None:
        """Why the next request must not be sent, or ``None``."""
        if self._halted is None and self.remaining() <= 0:
            self.halt(f"the run reached its --max-duration of {self.bounds.max_duration:g}s")
        if self._halted is None:
            return None
        with self._lock:
            self.refused += 1
        return NOT_SENT + self._halted

    def halt(self, reason: str) -> None:
        with self._lock:
            if self._halted is None:
                self._halted = reason
        self._halt.set()

    def wait(self, seconds: float) -> None:
        """Sleep (a Retry-After wait), waking at once when the run halts."""
        self._halt.wait(max(0.0, min(seconds, self.remaining())))

    def keep(self, size: int) -> bool:
        """Whether an answer of ``size`` decoded bytes still fits the run's memory budget."""
        with self._lock:
            if self._kept + size > self.bounds.max_kept_bytes:
                return False
            self._kept += size
            return True

    def record_transport(self, failed: bool) -> None:
        """One attempt's fate: a timeout, connection failure or oversized answer, or any answer."""
        with self._lock:
            self._failures = self._failures + 1 if failed else 0
            tripped = failed and self._failures >= self.bounds.unresponsive_after
        if tripped:
            self.halt(f"target unresponsive: {self.bounds.unresponsive_after} consecutive requests failed "
                      "(timeouts, connection errors or oversized answers)")

    def record_authentication(self, status: int | None) -> bool:
        """An authenticated request's status; ``True`` when it shows the key is refused: a 401/403
        before any 2xx, which would otherwise make every accepted case a deviation. Only a 2xx
        proves the key: a gateway answers its own 400s before it checks access (contract.md §1)."""
        if status is None:
            return False
        with self._lock:
            if 200 <= status < 300:
                self._key_accepted = True
            if status not in (401, 403) or self._key_accepted:
                return False
        self.halt(authentication_failed(f"the target answered HTTP {status} to an authenticated request"))
        return True


def authentication_failed(what: str) -> str:
    return f"authentication failed: {what}; check the API key (--api-key-env) and --models"
