"""HTTP with hard bounds: a total deadline per request and a cap on the decoded bytes.

httpx's timeouts limit each socket operation, not a whole request: a broker dripping one byte a
second never trips them. Inside ``deadline(at)`` every connect, write and read of the clients
built by ``bounded_client`` waits at most until ``at``. httpx also inflates gzip without a
limit (one 64 KiB read can become 64 MiB), so bodies are read raw and inflated here, never
more than the cap allows."""

from __future__ import annotations

import functools
import json
import ssl
import time
import zlib
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

import httpcore
import httpx

#: What the suite accepts; anything else a broker sends is an error, not inflated blindly.
ACCEPT_ENCODING = "gzip, deflate"

_DEADLINE: ContextVar[float | None] = ContextVar("gonka_request_deadline", default=None)
_MIN_WAIT = 0.001  # a socket wait of 0 means "non-blocking"; past the deadline we wait 1 ms


class DeadlineExceeded(Exception):
    """The request's total deadline passed while its body was still arriving."""


class TooLarge(Exception):
    """The decoded answer exceeded its cap."""


class Undecodable(Exception):
    """The Content-Encoding is unsupported or the compressed data is corrupt."""


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every network wait of a bounded client in this block ends by ``at`` (time.monotonic)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None) -> float | None:
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = max(at - time.monotonic(), _MIN_WAIT)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _bounded(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs tens of
    milliseconds, and httpx would load it again for every client."""
    return ssl.create_default_context()


def bounded_client(url: str) -> httpx.Client:
    """An HTTP/1.1 client (no redirects) for ``url``'s origin whose every network wait honours
    ``deadline``. A plain-HTTP origin gets no CA bundle (loading it is a third of a second),
    and without redirects the client never leaves that scheme.

    httpx has no public hook for its network backend, so the pool's is wrapped; should a
    future httpx rename it, ``iter_decoded`` still checks the deadline between reads."""
    verify: ssl.SSLContext | bool = _tls_context() if not url.lower().startswith("http://") else False
    transport = httpx.HTTPTransport(verify=verify)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return httpx.Client(transport=transport, follow_redirects=False, verify=verify)


class _Inflater:
    """One Content-Encoding layer (identity, gzip or deflate), inflated at most ``room`` bytes at a time."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise Undecodable(f"unsupported Content-Encoding {encoding[:40]!r} (the suite asks for {ACCEPT_ENCODING})")
        self._raw_deflate_tried = encoding != "deflate"
        self._fed = False

    def feed(self, data: bytes, room: int) -> bytes:
        """The decoded bytes of ``data``; more than ``room`` of them means the cap is exceeded
        (zlib stops at ``room + 1``, so a bomb never inflates beyond it)."""
        if self._z is None:
            return data
        try:
            out = self._z.decompress(data, room + 1)
        except zlib.error as exc:
            if self._fed or self._raw_deflate_tried:
                raise Undecodable(f"corrupt compressed body: {exc}") from None
            self._raw_deflate_tried = True  # "deflate" is sometimes sent without its zlib header
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data, room)
        self._fed = True
        return out


def iter_decoded(response: httpx.Response, cap: int, until: float) -> Iterator[bytes]:
    """The response body decoded, piece by piece. Raises ``TooLarge`` past ``cap`` decoded
    bytes, ``DeadlineExceeded`` past ``until`` and ``Undecodable`` for bad compression."""
    inflater = _Inflater(response.headers.get("content-encoding", ""))
    total = 0
    for raw in response.iter_raw():
        if time.monotonic() > until:
            raise DeadlineExceeded()
        data = inflater.feed(raw, cap - total)
        total += len(data)
        if total > cap:
            raise TooLarge(f"{cap} bytes after decompression")
        if data:
            yield data


def get_json(client: httpx.Client, url: str, headers: dict[str, str], cap: int, until: float,
             params: dict[str, Any] | None = None) -> tuple[int, Any]:
    """A GET whose whole exchange ends by ``until`` and whose decoded body stays under ``cap``:
    the status and the JSON body (``None`` when it is not JSON). Transport failures, the
    deadline, the cap and bad compression raise (``httpx.HTTPError``, ``DeadlineExceeded``,
    ``TooLarge``, ``Undecodable``); the caller words them."""
    with deadline(until):
        with client.stream("GET", url, headers={**headers, "Accept-Encoding": ACCEPT_ENCODING}, params=params,
                           timeout=max(until - time.monotonic(), _MIN_WAIT)) as response:
            raw = b"".join(iter_decoded(response, cap, until))
    try:
        return response.status_code, json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return response.status_code, None
