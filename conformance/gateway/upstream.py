"""The proxy's side towards the broker: the ``--upstream`` URL parsed once, where a request may
go under it, the credentials configuration gives it, and an HTTP client whose every read and
write is held to one deadline for the whole exchange.

- **Where**: the scheme, host and port are fixed once; a request's already normalised path (see
  ``target.py``) is appended under the base path and nowhere else, so nothing escapes the base
  or reaches another host or port. Only ``/v1`` and ``/v1/…`` are forwarded.
- **Credentials** come only from configuration: an upstream key (Bearer), else the URL's
  userinfo (Basic), plus the URL's query (``?api_key=…``), which every forwarded request carries
  (a client's parameter of the same name is dropped, so it cannot override it). They are sent
  only to that host (redirects are not followed) and listed in :attr:`Upstream.secrets` for the
  redactor.
- **Time**: httpx's timeouts apply per read, which an upstream trickling a byte at a time resets
  forever; :func:`upstream_client` wraps the network streams so each read and write waits at
  most until the deadline of the exchange in progress (:func:`start_deadline`, per thread).
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import httpcore
import httpx

V1 = "/v1"


@dataclass(frozen=True)
class Upstream:
    origin: httpx.URL                # scheme, host and port only
    base_path: str                   # as configured, encoded, no trailing slash
    query: str                       # configured query: sent with every request
    authorization: str | None        # the configured Authorization header value
    secrets: tuple[str, ...]         # every configured credential, in every spelling sent

    @classmethod
    def parse(cls, url: str, key: str | None = None) -> "Upstream":
        parsed = httpx.URL(url)
        base_path = parsed.raw_path.decode("ascii").partition("?")[0].rstrip("/")
        query = parsed.query.decode("ascii")
        secrets = [value for _, value in parse_qsl(query, keep_blank_values=True)]
        authorization = None
        if key:
            authorization = f"Bearer {key}"
            secrets.append(key)
        elif parsed.username or parsed.password:
            pair = base64.b64encode(f"{parsed.username}:{parsed.password}".encode()).decode("ascii")
            authorization = f"Basic {pair}"
            secrets += [parsed.username, parsed.password, pair]
        origin = httpx.URL(scheme=parsed.scheme, host=parsed.host, port=parsed.port)
        return cls(origin, base_path, query, authorization, tuple(s for s in secrets if s))

    @property
    def has_credentials(self) -> bool:
        return bool(self.authorization or self.query)

    @property
    def shown(self) -> str:
        """The upstream as it may be printed: no userinfo, no query."""
        return str(self.origin.copy_with(raw_path=(self.base_path or "/").encode("ascii")))

    def url_for(self, raw_path: str, client_query: str) -> httpx.URL | None:
        """The upstream URL of a normalised client path; None when the path is not under /v1."""
        if raw_path != V1 and not raw_path.startswith(V1 + "/"):
            return None
        rest = raw_path[len(V1):] if self.base_path.endswith(V1) else raw_path
        query = "&".join(part for part in (self.query, self._client_query(client_query)) if part)
        target = (self.base_path + rest or "/") + (f"?{query}" if query else "")
        return self.origin.copy_with(raw_path=target.encode("ascii"))

    def _client_query(self, query: str) -> str:
        if not self.query or not query:
            return query
        configured = {name for name, _ in parse_qsl(self.query, keep_blank_values=True)}
        return "&".join(p for p in query.split("&") if unquote_plus(p.partition("=")[0]) not in configured)


# --- one deadline per exchange ------------------------------------------------------------------

_local = threading.local()


def start_deadline(seconds: float) -> None:
    """Every upstream read and write of this thread ends by ``seconds`` from now (the exchange
    may outlive the handler's call: a relayed stream ends it with :func:`end_deadline`)."""
    _local.deadline = time.monotonic() + seconds


def end_deadline() -> None:
    _local.deadline = None


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    limit = getattr(_local, "deadline", None)
    if limit is None:
        return timeout
    left = limit - time.monotonic()
    if left <= 0:
        raise error("the upstream exchange ran out of time")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> "_DeadlineStream":
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _bounded(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _bounded(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx keeps its httpcore pool in ``_pool`` (since 0.18); the same pool, with our backend
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


def upstream_client(total_seconds: float) -> httpx.Client:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=32)
    timeout = httpx.Timeout(total_seconds, connect=min(10.0, total_seconds))
    return httpx.Client(transport=_DeadlineTransport(limits), timeout=timeout, follow_redirects=False, trust_env=False)
