"""Send one live request and record what the target did — or why nothing could be observed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from .cases import LiveRequest

RETRY_STATUSES = (429, 503)
MAX_RETRY_AFTER = 30.0
MAX_BODY = 32 * 1024 * 1024


@dataclass
class Target:
    """Where the suite sends requests. ``api_key`` is a secret: it is never written anywhere."""

    base_url: str
    api_key: str | None
    timeout: float = 60.0
    retries: int = 2

    @property
    def chat_url(self) -> str:
        return endpoint(self.base_url, "/chat/completions")


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
    error: str | None = None  # harness/transport problem: nothing trustworthy was observed
    elapsed: float = 0.0
    attempts: int = 0

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
        if isinstance(total, int):
            return total
        return sum(v for v in (usage.get("prompt_tokens"), usage.get("completion_tokens")) if isinstance(v, int))

    @property
    def usage(self) -> Any:
        if isinstance(self.json, dict) and "usage" in self.json:
            return self.json["usage"]
        for chunk in reversed(self.chunks):
            if isinstance(chunk, dict) and chunk.get("usage"):
                return chunk["usage"]
        return None


HEADERS_KEPT = ("content-type", "x-request-id", "x-devshard-id", "retry-after", "x-content-type-options")


def send(client: httpx.Client, target: Target, request: LiveRequest, sleep: Callable[[float], None] = time.sleep) -> Observation:
    """POST the request; retry 429/503 honouring Retry-After, and one transport failure."""
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if request.streaming else "application/json"}
    if target.api_key and not request.remove_auth:
        headers["Authorization"] = f"Bearer {target.api_key}"
    headers.update(request.headers)
    observation = Observation()
    started = time.monotonic()
    for attempt in range(target.retries + 1):
        observation = Observation(attempts=attempt + 1)
        try:
            _exchange(client, target, request, headers, observation)
        except httpx.TimeoutException:
            observation.error = f"timeout after {target.timeout:g}s"
        except httpx.HTTPError as exc:
            observation.error = f"transport error: {type(exc).__name__}: {exc}"
        except httpx.InvalidURL as exc:  # not retried: it will not get better
            observation.error = f"invalid target URL: {exc}"
            break
        if observation.error is None and observation.status in RETRY_STATUSES and attempt < target.retries:
            sleep(_retry_delay(observation.headers.get("retry-after"), attempt))
            continue
        if observation.error and observation.error.startswith("transport") and attempt == 0 and target.retries:
            sleep(0.2)
            continue
        break
    observation.elapsed = time.monotonic() - started
    if observation.error is None and observation.status in RETRY_STATUSES:
        observation.error = f"HTTP {observation.status} after {observation.attempts} attempts (rate limited or unavailable)"
    return observation


def _retry_delay(value: str | None, attempt: int) -> float:
    if value:
        try:
            return min(max(float(value), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return min(0.5 * 2**attempt, MAX_RETRY_AFTER)


def _exchange(client: httpx.Client, target: Target, request: LiveRequest, headers: dict[str, str], obs: Observation) -> None:
    with client.stream("POST", target.chat_url, content=request.body, headers=headers, timeout=target.timeout) as response:
        obs.status = response.status_code
        obs.headers = {k: v for k, v in response.headers.items() if k.lower() in HEADERS_KEPT}
        obs.content_type = response.headers.get("content-type", "")
        if response.status_code == 200 and "text/event-stream" in obs.content_type:
            _read_sse(response, obs)
            return
        raw = b""
        for piece in response.iter_bytes():
            raw += piece
            if len(raw) > MAX_BODY:
                obs.error = f"response body larger than {MAX_BODY} bytes"
                return
    obs.text = raw.decode("utf-8", errors="replace")
    try:
        obs.json = json.loads(obs.text) if obs.text.strip() else None
    except ValueError:
        obs.json = None
        if obs.status == 200:
            obs.error = "unparsable response: HTTP 200 with a body that is not JSON"


def _read_sse(response: httpx.Response, obs: Observation) -> None:
    try:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                obs.done = True
                continue
            try:
                obs.chunks.append(json.loads(data))
            except ValueError:
                # Cut generously, not for display: the runner redacts first, then clips (a key
                # straddling a cut made here would leave its first characters in the report).
                obs.error = f"unparsable stream event: {data[:1000]!r}"
                return
    except httpx.HTTPError as exc:
        obs.error = f"stream cut: connection closed after {response.num_bytes_downloaded} bytes ({type(exc).__name__})"
        return
    if not obs.done and not any(isinstance(c, dict) and "error" in c for c in obs.chunks):
        obs.error = f"stream cut: connection closed after {response.num_bytes_downloaded} bytes without data: [DONE]"
