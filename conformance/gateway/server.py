"""``ReferenceGateway``: the catalogue's engine behind a real HTTP server, as a library.

    gateway = ReferenceGateway(GatewayConfig(revision="2026-09", debug_endpoint=True))
    with gateway.running() as base_url:          # "http://127.0.0.1:<port>/v1"
        OpenAI(base_url=base_url, api_key="anything").chat.completions.create(...)
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterable, Iterator

from ..catalogue.loader import Catalogue, load_catalogue
from .chat import ChatService
from .config import GatewayConfig
from .debug import DEBUG_PREFIX, DebugLog
from .faults import FaultPicker
from .httpserver import GatewayHTTPServer
from ..common.redact import Redactor
from .livelog import LiveLog
from .proxy import ProxyService
from .routes import Router
from .state import GatewayState
from .wire import RouteRules


class ReferenceGateway:
    def __init__(self, config: GatewayConfig | None = None, catalogue: Catalogue | None = None) -> None:
        self.config = config or GatewayConfig()
        self.config.validate()
        self.catalogue = catalogue or load_catalogue(self.config.catalogue_root)
        self.state = GatewayState(self.config, self.catalogue)
        self.rules = RouteRules(self.catalogue, self.state.revision.id, self.config.profile)
        secrets = [*self.config.api_keys(), *([self.config.admin_key] if self.config.admin_key else [])]
        self.redactor = Redactor()
        for secret in secrets:
            self.redactor.add(secret)
        self.log = LiveLog(self.config.log, self.catalogue, self.redactor) if self.config.log is not None else None
        self.debug = DebugLog(self.config.debug_history, self.redactor) if self.config.debug_endpoint else None
        self._stop = threading.Event()
        self.faults = FaultPicker(self.config.faults, self._stop)
        self.proxy = (ProxyService(self.state, self.rules, self.debug, self.log, self.redactor)
                      if self.config.upstream else None)
        chat = ChatService(self.state, self.rules, self.debug, self.faults, self.log)
        self.router = Router(self.state, self.rules, chat, self.debug, self.proxy)
        self._server: GatewayHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in a background thread; returns the base URL (with ``/v1``)."""
        if self._server is not None:
            raise RuntimeError("the gateway is already running")
        self._stop.clear()
        server = GatewayHTTPServer(
            (self.config.host, self.config.port), self.router, body_limit=self.rules.body_limit,
            io_timeout=self.config.io_timeout, head_timeout=self.config.head_timeout, body_timeout=self.config.body_timeout,
            max_connections=self.config.max_connections, max_idle_per_client=self.config.max_idle_per_client,
            report_error=self._report_error,
        )
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="reference-gateway", daemon=True)
        self._thread.start()
        return self.base_url

    def _report_error(self, message: str, secrets: Iterable[str]) -> None:
        """An unexpected failure: printed (redacted) with the live log, silent with --quiet."""
        if self.config.log is not None:
            print(f"gonka-conformance serve: {self.redactor.text(message, secrets)}", file=self.config.log, flush=True)

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stop.set()
        server.stop(timeout)
        if thread is not None:
            thread.join(timeout)
        self._server = self._thread = None

    def close(self) -> None:
        self.stop()
        if self.proxy is not None:
            self.proxy.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        url = self.start()
        try:
            yield url
        finally:
            self.close()

    # --- addresses ------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def root_url(self) -> str:
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    @property
    def debug_url(self) -> str:
        return self.root_url + DEBUG_PREFIX

    @property
    def open_connections(self) -> int:
        return self._server.open_connections if self._server is not None else 0
