"""Send one live request and record what the target did — or why nothing could be observed.

Every request is bounded (``transport``: a total deadline, capped decoded bytes) and guarded
(``guard``: the run's deadline, the circuit breaker, the key check). A successful answer that
is not an answer — an empty or non-JSON body, an ``{"error": …}`` body, a stream without
``[DONE]`` or with error events — is recorded as an error, never handed on as a 200."""

from __future__ import annotations

import email.utils
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, TypeGuard

import httpx

from .cases import LiveRequest
from .guard import NOT_JUDGED, Bounds, RunGuard
from .shape import completion_problems, stream_problems
from .transport import ACCEPT_ENCODING, DeadlineExceeded, TooLarge, Undecodable, deadline, get_json, iter_decoded

#: Statuses that mean "try again": rate limits and an overloaded or restarting upstream.
RETRY_STATUSES = (429, 502, 503, 504)


@dataclass
class Target:
    """Where the suite sends requests. ``api_key`` is a secret: it is never written anywhere."""

    base_url: str
    api_key: str | None
    timeout: float = 60.0  # the total deadline of one request: connect, headers and the whole body
    retries: int = 2
    guard: RunGuard = field(default_factory=RunGuard)

    @property
    def chat_url(self) -> str:
        return endpoint(self.base_url, "/chat/completions")

    @property
    def bounds(self) -> Bounds:
        return self.guard.bounds


def endpoint(base_url: str, suffix: str) -> str:
    """``suffix`` appended to the base URL's path (a query string stays a query string)."""
    url = httpx.URL(base_url)
    return str(url.copy_with(path=url.path.rstrip("/") + suffix))


@dataclass
class Observation:
    status: int | None = None
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    text: str = ""
    chunks: list[Any] = field(default_factory=list)  # decoded SSE data events (streaming)
    done: bool = False  # saw data: [DONE]
    framed: bool = False  # the answer's length was declared (chunked or Content-Length): its end is no cut
    error: str | None = None  # harness/transport problem: nothing trustworthy was observed
    elapsed: float = 0.0  # all attempts and waits
    latency: float = 0.0  # the last attempt, from the end of the upload to the end of the answer
    attempts: int = 0
    size: int = 0  # decoded bytes of the answer
    malformed: list[str] = field(default_factory=list)  # wrong types in a 200 answer (shape.py)
    unresponsive: bool = False  # no usable answer at all: timeout, connection failure, oversized

    @property
    def error_message(self) -> str | None:
        """The gateway's error text: ``error.message`` of a JSON (or text/plain JSON) body."""
        data = self.json
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            message = data["error"].get("message")
            return message if isinstance(message, str) else None
        return None

    @property
    def tokens(self) -> int:
        usage = self.usage
        if not isinstance(usage, dict):
            return 0
        total = usage.get("total_tokens")
        if _is_count(total):
            return total
        return sum(v for v in (usage.get("prompt_tokens"), usage.get("completion_tokens")) if _is_count(v))

    @property
    def usage(self) -> Any:
        if isinstance(self.json, dict) and "usage" in self.json:
            return self.json["usage"]
        for chunk in reversed(self.chunks):
            if isinstance(chunk, dict) and chunk.get("usage"):
                return chunk["usage"]
        return None


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


HEADERS_KEPT = ("content-type", "x-request-id", "x-devshard-id", "retry-after", "x-content-type-options")


def send(client: httpx.Client, target: Target, request: LiveRequest, sleep: Callable[[float], None] | None = None) -> Observation:
    """POST the request; retry 429/502/503/504 honouring Retry-After, and one connection failure.

    ``client`` should come from ``transport.bounded_client`` (any client works, with a coarser
    deadline). Nothing is sent once the run's guard has halted."""
    guard = target.guard
    wait = sleep or guard.wait
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if request.streaming else "application/json",
               "Accept-Encoding": ACCEPT_ENCODING}
    if target.api_key and not request.remove_auth:
        headers["Authorization"] = f"Bearer {target.api_key}"
    headers.update(request.headers)
    authenticated = bool(target.api_key) and not request.remove_auth and "authorization" not in {k.lower() for k in request.headers}
    observation = Observation()
    started = time.monotonic()
    for attempt in range(target.retries + 1):
        refusal = guard.refusal()
        if refusal:
            if attempt == 0:
                return Observation(error=refusal)
            break  # keep the last answer (a 429/5xx), reported below
        observation = Observation(attempts=attempt + 1)
        retry = _attempt(client, target, request, headers, observation)
        guard.record_transport(observation.unresponsive)
        if authenticated and guard.record_authentication(observation.status):
            observation.error = f"{NOT_JUDGED}{guard.halted}"  # the key, not this case, was refused
            break
        if retry == "never" or attempt == target.retries:
            break
        if observation.error is None and observation.status in RETRY_STATUSES:
            delay = retry_delay(observation.headers.get("retry-after"), attempt, target.bounds.max_retry_wait)
            if delay >= guard.remaining():
                break  # the wait would outlast the run
            wait(delay)
            continue
        if retry == "once" and attempt == 0:
            wait(0.2)
            continue
        break
    observation.elapsed = time.monotonic() - started
    if not guard.keep(observation.size):  # every answer is below its cap, but hundreds of them add up
        observation = Observation(status=observation.status, attempts=observation.attempts, elapsed=observation.elapsed,
                                  error=f"not kept: the run's answers exceed {target.bounds.max_kept_bytes} bytes in total")
    if observation.error is None and observation.status in RETRY_STATUSES:
        observation.error = f"HTTP {observation.status} after {observation.attempts} attempts (rate limited or unavailable)"
    return observation


def retry_delay(value: str | None, attempt: int, cap: float) -> float:
    """Seconds to wait before retrying: ``Retry-After`` as delta-seconds or an HTTP-date, else
    exponential backoff. Nonsense (nan, inf, negative, unparsable) falls back to the backoff;
    every wait is capped at ``cap``."""
    backoff = min(0.5 * 2**attempt, cap)
    if not value:
        return backoff
    value = value.strip()
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return backoff
    return min(seconds, cap)


def _seconds_until(http_date: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def _attempt(client: httpx.Client, target: Target, request: LiveRequest, headers: dict[str, str], obs: Observation) -> str:
    """One exchange within the request's total deadline. Returns whether a failure may be
    retried: ``"status"`` (only a retryable status), ``"once"`` (a connection failure) or ``"never"``."""
    begun = time.monotonic()
    until = min(begun + target.timeout, target.guard.deadline)
    retry = "status"
    sent = [begun]  # when the request was on the wire: a 10 MiB upload is not the target's latency

    def trace(event: str, info: Any) -> None:  # httpcore's documented "trace" extension
        if event.endswith("send_request_body.complete"):
            sent.append(time.monotonic())

    try:
        with deadline(until):
            _exchange(client, target, request, headers, obs, until, trace)
    except httpx.InvalidURL as exc:  # not retried: it will not get better
        obs.error, retry = f"invalid target URL: {exc}", "never"
    except Exception as exc:  # whatever the target sent, it is this one request's error
        what = "stream" if obs.chunks or "event-stream" in obs.content_type else "response body"
        obs.error, obs.unresponsive = _failure(exc, target, until, what)
        if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException):
            if obs.status is None:
                retry = "once"
            else:
                obs.error = f"stream cut: connection closed after {obs.size} bytes ({type(exc).__name__})"
    obs.latency = time.monotonic() - sent[-1]
    if obs.error is None and obs.status == 200:
        _check_answer(obs)
    return retry


def _failure(exc: Exception, target: Target, until: float, what: str) -> tuple[str, bool]:
    """What an exchange that raised means: the text, and whether the target gave no usable
    answer at all (which the circuit breaker counts)."""
    if isinstance(exc, (httpx.TimeoutException, DeadlineExceeded)):
        if until >= target.guard.deadline:
            return f"the run reached its --max-duration of {target.bounds.max_duration:g}s during this request", True
        return f"timeout: no complete answer within {target.timeout:g}s", True
    if isinstance(exc, TooLarge):
        return f"{what} larger than {exc.args[0]}: not read further", True
    if isinstance(exc, Undecodable):
        return f"undecodable response: {exc}", False
    if isinstance(exc, httpx.HTTPError):
        return f"transport error: {type(exc).__name__}: {exc}", True
    return f"harness error while reading the answer: {type(exc).__name__}", False


def _exchange(client: httpx.Client, target: Target, request: LiveRequest, headers: dict[str, str], obs: Observation,
              until: float, trace: Callable[[str, Any], None]) -> None:
    with client.stream("POST", target.chat_url, content=request.body, headers=headers, timeout=target.timeout,
                       extensions={"trace": trace}) as response:
        obs.status = response.status_code
        obs.headers = {k: v for k, v in response.headers.items() if k.lower() in HEADERS_KEPT}
        obs.content_type = response.headers.get("content-type", "")
        if response.status_code == 200 and "text/event-stream" in obs.content_type:
            # httpx raises on a chunked or sized message cut short, so reading such a stream to
            # its end means the target closed it on purpose; a close-delimited one may be a cut
            obs.framed = "chunked" in response.headers.get("transfer-encoding", "").lower() or \
                "content-length" in response.headers
            _read_sse(response, obs, target.bounds, until)
            return
        raw = b"".join(iter_decoded(response, target.bounds.max_body_bytes, until))
    obs.size = len(raw)
    # decoded as a JSON reader decodes bytes (UTF-8, or UTF-16/32 told by NULs or a byte-order
    # mark): a broker answering in UTF-16 is judged, and redacted, as the text a client reads
    obs.text = raw.decode(json.detect_encoding(raw), errors="replace")
    try:
        obs.json = json.loads(obs.text) if obs.text.strip() else None
    except (ValueError, RecursionError):
        obs.json = None
        if obs.status == 200:
            obs.error = "unparsable response: HTTP 200 with a body that is not JSON"


def _read_sse(response: httpx.Response, obs: Observation, bounds: Bounds, until: float) -> None:
    pending = b""
    for data in iter_decoded(response, bounds.max_stream_bytes, until):
        obs.size += len(data)
        *lines, pending = (pending + data).replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for line in lines:
            if not _sse_line(line, obs, bounds):
                return
    if pending:
        _sse_line(pending, obs, bounds)


def _sse_line(raw: bytes, obs: Observation, bounds: Bounds) -> bool:
    """Record one line of an event stream; ``False`` once the stream cannot be trusted."""
    line = raw.decode("utf-8", errors="replace")
    if not line.startswith("data:"):
        return True
    data = line[5:].strip()
    if data == "[DONE]":
        obs.done = True
        return True
    if len(obs.chunks) >= bounds.max_stream_events:
        raise TooLarge(f"{bounds.max_stream_events} events")
    try:
        obs.chunks.append(json.loads(data))
    except (ValueError, RecursionError):
        # Cut generously, not for display: the runner redacts first, then clips (a key
        # straddling a cut made here would leave its first characters in the report).
        obs.error = f"unparsable stream event: {data[:1000]!r}"
        return False
    return True


def _check_answer(obs: Observation) -> None:
    """A 200 must carry an answer: nothing else may be judged as one."""
    if obs.chunks or "text/event-stream" in obs.content_type:
        if any(isinstance(c, dict) and "error" in c for c in obs.chunks):
            obs.error = "the stream carried an error event instead of an answer"
        elif not obs.done and not obs.framed:
            obs.error = f"stream cut: connection closed after {obs.size} bytes without data: [DONE]"
        elif not obs.chunks:
            obs.error = "the stream carried no event" + (" before data: [DONE]" if obs.done else "")
        else:
            # A complete stream without [DONE] is the target's doing: the case about the end
            # event fails on it, and no other case may pass on such an answer.
            ended = [] if obs.done else ["the stream ended, complete, without data: [DONE]"]
            obs.malformed = ended + stream_problems(obs.chunks)
    elif obs.json is None:
        obs.error = "HTTP 200 with an empty body"
    elif isinstance(obs.json, dict) and "error" in obs.json:
        obs.error = "HTTP 200 carrying an error body instead of an answer"
    else:
        obs.malformed = completion_problems(obs.json)


class Unreadable(Exception):
    """A bounded GET gave no readable answer; the text says why."""


def fetch_json(client: httpx.Client, target: Target, suffix: str, headers: dict[str, str], cap: int) -> tuple[int, Any]:
    """A bounded GET of ``suffix`` under the base URL (same deadline and decoding as a chat
    request): the status and the JSON body (``None`` when it is not JSON). Raises
    ``Unreadable`` when there is no answer to read."""
    until = min(time.monotonic() + target.timeout, target.guard.deadline)
    try:
        return get_json(client, endpoint(target.base_url, suffix), headers, cap, until)
    except httpx.InvalidURL as exc:
        raise Unreadable(f"invalid base URL: {exc}") from None
    except Exception as exc:  # whatever the target sent
        raise Unreadable(_failure(exc, target, until, "response body")[0]) from None
