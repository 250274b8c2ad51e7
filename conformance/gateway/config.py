"""Configuration of the reference gateway: plain frozen dataclasses, validated once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TextIO

import httpx

from ..common.urls import check_http_url  # noqa: F401  (re-exported for the gateway's callers)
from ..engine.types import Limits

@dataclass(frozen=True)
class DisabledMode:
    """The kill switch (``disabled`` admin setting): every non-admin path answers 308.
    ``message=None`` uses the catalogue's default text (rule ``disabled-mode-redirect``)."""

    message: str | None = None
    new_url: str = ""


@dataclass(frozen=True)
class Faults:
    """Opt-in fault injection for the chat endpoint. Rates are probabilities in [0, 1] drawn
    from a seeded generator, so a run with the same seed and request order is reproducible."""

    latency_ms: float = 0.0           # added before every chat answer
    chunk_delay_ms: float = 0.0       # between streamed events (a slow stream)
    error_rate: float = 0.0           # answer 5xx (``error_status``)
    error_status: int = 502
    rate_limit_rate: float = 0.0      # answer 429 with Retry-After
    retry_after: int = 1              # seconds, for the 429
    cut_rate: float = 0.0             # cut the response mid-way (streams and bodies)
    garbage_rate: float = 0.0         # answer 200 with a body that is not JSON / SSE
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.error_rate or self.rate_limit_rate or self.cut_rate or self.garbage_rate)

    def validate(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "cut_rate", "garbage_rate"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0) or math.isnan(value):
                raise ValueError(f"fault rate {name} must be between 0 and 1, got {value}")
        for name in ("latency_ms", "chunk_delay_ms"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:  # inf would overflow the timer, nan never compares
                raise ValueError(f"fault {name} must be a finite number of milliseconds, not negative; got {value}")
        if not (500 <= self.error_status <= 599):
            raise ValueError(f"fault error status must be a 5xx code, got {self.error_status}")
        if self.retry_after < 0:
            raise ValueError("Retry-After must not be negative")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything ``gonka-conformance serve`` can be told. ``port=0`` picks a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    revision: str | None = None            # contract revision id (default: the catalogue's default)
    profile: str | None = None             # broker profile overlay (limits, divergences, model spelling)
    models: tuple[str, ...] | None = None  # served model ids (default: the revision's routes)
    # Secrets (and a URL that may carry credentials) stay out of repr().
    api_key: str | tuple[str, ...] | None = field(default=None, repr=False)  # None: any Bearer key, none is a 401
    admin_key: str | None = field(default=None, repr=False)  # bypasses the output cap and every access mode
    admin_only_models: tuple[str, ...] = ()
    open_models: tuple[str, ...] = ()      # served without any key
    disabled: DisabledMode | None = None
    debug_endpoint: bool = False           # GET /_reference/debug/requests (white-box view)
    debug_history: int = 256
    faults: Faults = field(default_factory=Faults)
    upstream: str | None = field(default=None, repr=False)  # lint-and-forward proxy mode
    upstream_key: str | None = field(default=None, repr=False)  # proxy: Bearer key sent to the upstream only
    block_rejects: bool = False            # proxy: answer locally with the gateway's 400
    upstream_timeout: float = 600.0        # proxy: the whole upstream exchange, stream included
    upstream_max_bytes: int = 32 * 1024 * 1024          # proxy: a non-streamed upstream answer (else 502)
    upstream_max_stream_bytes: int = 256 * 1024 * 1024  # proxy: a relayed stream (else it is cut)
    limits: Limits | None = None           # None: the profile's limits, else the catalogue's
    max_concurrent_requests: int = 0       # gateway limiter; 0 = unlimited
    max_input_tokens_in_flight: int = 0    # gateway limiter; 0 = unlimited
    escrow_id: int = 57577                 # first simulated escrow (one per served model)
    catalogue_root: str | None = None
    io_timeout: float = 30.0               # per socket read/write, and the keep-alive wait for a request
    head_timeout: float = 10.0             # request line and headers must arrive within this
    body_timeout: float = 120.0            # whole request body must arrive within this
    max_connections: int = 256             # open connections; waiting ones yield to new ones, else 503
    max_idle_per_client: int = 64          # waiting connections per client address; the oldest yields
    log: TextIO | None = None              # live request log (rich); None = silent

    def api_keys(self) -> tuple[str, ...]:
        if self.api_key is None:
            return ()
        if isinstance(self.api_key, str):
            return (self.api_key,)
        return tuple(self.api_key)

    def validate(self) -> None:
        if not (0 <= self.port <= 65535):
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        for key in self.api_keys() + ((self.admin_key,) if self.admin_key is not None else ()):
            if not key or key != key.strip() or any(ch.isspace() for ch in key):
                raise ValueError("API keys must be non-empty and contain no whitespace")
        if self.upstream is not None:
            check_http_url(self.upstream, "--upstream")
            self._validate_upstream_credentials()
        elif self.block_rejects:
            raise ValueError("--block-rejects only applies with --upstream")
        elif self.upstream_key:
            raise ValueError("--upstream-key-env only applies with --upstream")
        for name in ("io_timeout", "head_timeout", "body_timeout", "upstream_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")
        for name in ("max_connections", "max_idle_per_client", "upstream_max_bytes", "upstream_max_stream_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_concurrent_requests < 0 or self.max_input_tokens_in_flight < 0:
            raise ValueError("limiter limits must not be negative")
        if self.debug_history < 1:
            raise ValueError("debug history must hold at least one request")
        if self.models is not None and not self.models:
            raise ValueError("--models needs at least one model id")
        for model in self.models or ():
            if not model.strip():
                raise ValueError("model ids must not be blank")
        self.faults.validate()

    def _validate_upstream_credentials(self) -> None:
        """Credentials for the upstream without client keys would let anyone spend them."""
        url = httpx.URL(self.upstream or "")
        has_userinfo = bool(url.username or url.password)
        if self.upstream_key is not None and (not self.upstream_key or any(ch.isspace() for ch in self.upstream_key)):
            raise ValueError("the upstream key must be non-empty and contain no whitespace")
        if self.upstream_key and has_userinfo:
            raise ValueError("give the upstream credentials once: --upstream-key or user:password in --upstream")
        if (self.upstream_key or has_userinfo or url.query) and not (self.api_keys() or self.admin_key):
            raise ValueError("--upstream with credentials (a key, user:password or a query) needs --api-key: "
                             "otherwise anyone who reaches the proxy spends them")
