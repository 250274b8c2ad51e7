"""Routing and the middleware upstream wraps around its mux (contract.md §7):
``metrics(disabled(adminAuth(mux)))`` — disabled mode answers every non-admin path with 308,
admin paths need the admin key (404 when none is configured, a JSON 401 when it is wrong)."""

from __future__ import annotations

from .chat import ChatService, bearer_token, same_secret
from .debug import DEBUG_PREFIX, DebugLog, debug_view
from .httpserver import BodyTooLarge, Request
from .info import admin_settings, models_list, status
from .state import GatewayState
from .wire import Response, RouteRules, not_found

ADMIN_PATHS = ("/v1/finalize", "/v1/state", "/v1/admin")


def is_admin_path(path: str) -> bool:
    if path in ADMIN_PATHS or path.startswith(("/v1/admin/", "/v1/debug/", "/debug/pprof/")):
        return True
    # direct per-escrow admin forms: /devshard/{id}/v1/finalize|state|debug/*
    if path.startswith("/devshard/"):
        rest = path.split("/", 3)[3] if path.count("/") >= 3 else ""
        return rest in ("v1/finalize", "v1/state") or rest.startswith("v1/debug/")
    return False


class Router:
    """The application the HTTP layer calls: ``Request -> Response``."""

    def __init__(self, state: GatewayState, rules: RouteRules, chat: ChatService, debug: DebugLog | None, proxy: object | None) -> None:
        self.state = state
        self.rules = rules
        self.chat = chat
        self.debug = debug
        self.proxy = proxy

    def __call__(self, request: Request) -> Response:
        path = request.path
        if self.debug is not None and (path == DEBUG_PREFIX or path.startswith(DEBUG_PREFIX + "/")):
            return self._debug(request, self.debug)
        if is_admin_path(path):
            return self._admin(request)
        disabled = self.state.settings.disabled
        if disabled is not None:
            redirect = self.rules.disabled(disabled.message, disabled.new_url)
            if redirect is not None:
                return redirect
        if self.proxy is not None:
            return self.proxy.handle(request)  # type: ignore[attr-defined]
        if path == "/v1/chat/completions":
            return self.chat.handle(request)
        if path == "/v1/models":
            return models_list(self.state, request.method)
        if path == "/v1/status":
            return status(self.state)
        return not_found()

    def _debug(self, request: Request, log: DebugLog) -> Response:
        """The white-box view shows what clients sent: with an admin key, only to that key."""
        admin_key = self.state.config.admin_key
        refused = self.rules.admin_auth(same_secret(bearer_token(request), admin_key)) if admin_key else None
        if refused is not None:
            return refused
        return debug_view(request.method, request.path, request.query, log)

    def _admin(self, request: Request) -> Response:
        admin_key = self.state.config.admin_key
        if not admin_key:
            return not_found()
        refused = self.rules.admin_auth(same_secret(bearer_token(request), admin_key))
        if refused is not None:
            return refused
        if request.path == "/v1/admin/settings":
            try:
                body = request.read_body() if request.method == "POST" else b""
            except BodyTooLarge:
                return self.rules.too_large()[1]
            return admin_settings(self.state, request.method, body)
        return not_found()
