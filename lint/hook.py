"""An httpx request hook that lints outgoing chat-completions requests before they leave.

Works with any httpx-style client (``httpx``, the ``httpx2`` fork the newest OpenAI SDK uses,
and every SDK built on them)::

    hook = LintHook(on_error="raise")
    client = openai.OpenAI(base_url=..., http_client=httpx2.Client(event_hooks={"request": [hook]}))

Only the request body is read: headers (API keys) and the query string are never looked at or
logged. A payload the linter cannot read is logged and let through.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Literal

from gonka_conformance.catalogue.loader import Catalogue
from gonka_conformance.engine.types import Limits

from .findings import Finding
from .sdk import Linter, wrap


class GonkaLintError(Exception):
    """Raised by the hook (``on_error="raise"``) when a request would be rejected by Gonka."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        lines = [f"{f.rule} at {f.pointer or '/'}: {f.message}" for f in findings]
        super().__init__(f"{len(findings)} gonka-lint finding(s) that the gateway rejects:\n  " + "\n  ".join(lines))


class LintHook:
    """Call it with a request (an httpx event hook). ``on_error``: "raise" to stop a request
    the gateway would reject, "log" to only log. ``log_level``: the least severe finding
    logged (findings go to the ``gonka_conformance.lint`` logger; None: nothing is logged)."""

    def __init__(
        self,
        *,
        model: str | None = None,
        revision: str | None = None,
        profile: str | None = None,
        limits: Limits | None = None,
        on_error: Literal["raise", "log"] = "raise",
        log_level: Literal["error", "warning", "info"] | None = "warning",
        paths: tuple[str, ...] = ("/chat/completions",),
        logger: logging.Logger | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        if on_error not in ("raise", "log"):
            raise ValueError("on_error must be 'raise' or 'log'")
        # the same linter as the OpenAI SDK integration: one place that lints and logs
        self.linter = Linter(model=model, revision=revision, profile=profile, limits=limits, catalogue=catalogue,
                             log_level=log_level, logger=logger, paths=paths)
        self.on_error = on_error

    @property
    def last(self) -> list[Finding]:
        """The findings of the last request checked (handy in tests)."""
        return self.linter.last

    def applies(self, request: Any) -> bool:
        try:
            return self.linter.applies(request)
        except AttributeError:  # not a request object
            return False

    def check(self, body: bytes) -> list[Finding]:
        errors = self.linter.rejection(body)
        if errors and self.on_error == "raise":
            raise GonkaLintError(errors)
        return self.linter.last

    def __call__(self, request: Any) -> None:
        if self.applies(request):
            self.check(_body(request))

    async def async_hook(self, request: Any) -> None:
        """The same hook for async clients (they await their event hooks)."""
        if self.applies(request):
            body = getattr(request, "content", None) if _has_content(request) else await request.aread()
            self.check(body or b"")


def _has_content(request: Any) -> bool:
    try:
        request.content  # noqa: B018 - raises for an unread streaming body
        return True
    except Exception:
        return False


def _body(request: Any) -> bytes:
    if _has_content(request):
        return request.content or b""
    return request.read() or b""


def install(client: Any, **options: Any) -> Any:
    """Add a lint hook to an existing (sync or async) httpx-style client and return it. An
    OpenAI SDK client (which builds its own HTTP client) is wrapped instead: see
    :func:`gonka_conformance.lint.wrap`, whose linter is returned."""
    if not hasattr(client, "event_hooks") and hasattr(client, "_client"):
        return wrap(client, **{k: v for k, v in options.items() if k != "on_error"}).gonka_lint
    hook = LintHook(**options)
    hooks = dict(client.event_hooks)
    is_async = inspect.iscoroutinefunction(getattr(client, "send", None))
    hooks["request"] = [*hooks.get("request", []), hook.async_hook if is_async else hook]
    client.event_hooks = hooks
    return hook
