"""The OpenAI Python SDK, natively: lint every chat-completions request before it leaves.

::

    client = gonka_conformance.lint.wrap(openai.OpenAI(base_url=..., api_key=...))
    try:
        client.chat.completions.create(...)          # sync, async and stream=True alike
    except openai.BadRequestError as exc:            # existing handlers keep working
        print(exc.code, exc.message)                 # the rule id, and the gateway's own message

A payload the gateway would reject is answered inside the process with the gateway's status
and message, as an OpenAI-shaped error (``code`` = the rule id, ``param`` = the JSON pointer):
no byte is sent. The SDK then raises its own ``BadRequestError``; a wrapped client raises
:class:`GonkaLintBadRequestError` (``rule``, ``findings``), a subclass of it.

The linter works at the transport, below the SDK's retries, so it sees the exact bytes the SDK
sends (``extra_body`` merged). Only the body is read: headers (API keys) and URLs never are.
Nothing is logged unless ``log_level`` is given. ``openai`` stays an optional import: this
module imports it only to subclass its error.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import lru_cache
from typing import Any, Literal

from gonka_conformance.catalogue.loader import Catalogue, load_catalogue
from gonka_conformance.engine.types import Limits

from .library import PayloadError, check_target, lint
from .findings import SEVERITY_RANK, Finding

LOG = logging.getLogger("gonka_conformance.lint")
MARKER = "x-gonka-lint-rule"  # on the in-process answer, so the wrapped client knows it is ours
_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


class Linter:
    """What to lint against and how to report it (shared by the sync and async transports)."""

    def __init__(self, *, model: str | None = None, revision: str | None = None, profile: str | None = None,
                 limits: Limits | None = None, catalogue: Catalogue | None = None,
                 log_level: Literal["error", "warning", "info"] | None = None,
                 logger: logging.Logger | None = None, paths: tuple[str, ...] = ("/chat/completions",)) -> None:
        catalogue = catalogue or load_catalogue()
        check_target(catalogue, revision, profile)  # an unknown profile fails here, not mid-request
        if log_level is not None and log_level not in _LEVELS:
            raise ValueError("log_level must be 'error', 'warning', 'info' or None (off)")
        self.options: dict[str, Any] = {"model": model, "revision": revision, "profile": profile,
                                        "limits": limits, "catalogue": catalogue}
        self.log_level = log_level
        self.logger = logger or LOG
        self.paths = paths
        self.last: list[Finding] = []  # the findings of the last request linted

    def applies(self, request: Any) -> bool:
        path = str(request.url.path or "").rstrip("/")
        return str(request.method).upper() == "POST" and any(path.endswith(p) for p in self.paths)

    def rejection(self, body: bytes) -> list[Finding]:
        """The error findings that make the gateway reject ``body`` (empty: send it)."""
        try:
            findings = lint(body, **self.options)
        except PayloadError as exc:
            self._log(logging.WARNING, "gonka-lint: request body not linted: %s", exc)
            self.last = []
            return []
        self.last = findings
        if self.log_level is not None:
            threshold = SEVERITY_RANK[self.log_level]
            for finding in findings:
                if SEVERITY_RANK[finding.severity] <= threshold:
                    self._log(_LEVELS[finding.severity], "gonka-lint %s %s at %s: %s", finding.severity,
                              finding.rule, finding.pointer or "/", finding.message)
        return [f for f in findings if f.severity == "error"]

    def _log(self, level: int, message: str, *args: Any) -> None:
        if self.log_level is not None:
            self.logger.log(level, message, *args)

    def answer(self, request: Any, errors: list[Finding]) -> Any:
        """The gateway's answer to a rejected request, made here: status and message from the
        catalogue, in the OpenAI error shape so the SDK raises its usual exception."""
        first = errors[0]
        module = sys.modules[type(request).__module__.split(".")[0]]  # httpx or httpx2, as the client
        body = {"error": {"message": first.message, "type": "invalid_request_error", "code": first.rule,
                          "param": first.pointer or None,
                          "gonka_lint": [{"rule": f.rule, "pointer": f.pointer, "message": f.message,
                                          "anchor": f.anchor} for f in errors]}}
        return module.Response(first.status or 400, headers={"content-type": "application/json", MARKER: first.rule},
                               content=json.dumps(body).encode("utf-8"), request=request)


def _transport_base(transport: Any, name: str) -> type:
    """httpx's or httpx2's base transport class, whichever ``transport`` derives from."""
    for cls in type(transport).__mro__:
        if cls.__name__ == name:
            return cls
    raise TypeError(f"not an httpx-style transport: {type(transport).__name__}")


def lint_transport(inner: Any, linter: Linter) -> Any:
    """A transport that lints, then hands clean requests to ``inner`` (sync or async; httpx or
    httpx2, whichever ``inner`` is)."""
    if hasattr(inner, "handle_async_request"):
        base = _transport_base(inner, "AsyncBaseTransport")

        class AsyncLintTransport(base):  # type: ignore[misc, valid-type]
            async def handle_async_request(self, request: Any) -> Any:
                if linter.applies(request):
                    errors = linter.rejection(await request.aread())
                    if errors:
                        return linter.answer(request, errors)
                return await inner.handle_async_request(request)

            async def aclose(self) -> None:
                await inner.aclose()

        return AsyncLintTransport()
    base = _transport_base(inner, "BaseTransport")

    class LintTransport(base):  # type: ignore[misc, valid-type]
        def handle_request(self, request: Any) -> Any:
            if linter.applies(request):
                errors = linter.rejection(request.read())
                if errors:
                    return linter.answer(request, errors)
            return inner.handle_request(request)

        def close(self) -> None:
            inner.close()

    return LintTransport()


@lru_cache(maxsize=1)
def error_class() -> type:
    """:class:`GonkaLintBadRequestError`, made on first use so ``openai`` stays optional."""
    import openai

    class GonkaLintBadRequestError(openai.BadRequestError):
        """The gateway would reject this request (400): raised before anything is sent.
        ``rule`` is the rule id, ``findings`` every error finding, ``message`` has the
        gateway's own text."""

        rule: str
        findings: list[dict[str, Any]]

    return GonkaLintBadRequestError


def __getattr__(name: str) -> Any:
    if name == "GonkaLintBadRequestError":
        return error_class()
    raise AttributeError(name)


def wrap(client: Any, **options: Any) -> Any:
    """Lint every chat-completions request ``client`` (``openai.OpenAI`` or ``AsyncOpenAI``)
    sends; return the same client. Options: ``model``, ``revision``, ``profile``, ``limits``,
    ``catalogue``, ``log_level`` (None: no logging), ``logger``."""
    http = getattr(client, "_client", None)
    if http is None or not hasattr(http, "_transport"):
        raise TypeError("wrap() takes an OpenAI SDK client (openai.OpenAI or openai.AsyncOpenAI)")
    linter = Linter(**options)
    http._transport = lint_transport(http._transport, linter)
    for pattern in list(getattr(http, "_mounts", {}) or {}):  # proxies get their own transports
        mounted = http._mounts[pattern]
        if mounted is not None:
            http._mounts[pattern] = lint_transport(mounted, linter)
    make_status_error = client._make_status_error

    def _make_status_error(err_msg: str, *, body: object, response: Any) -> Any:
        if response.headers.get(MARKER) and response.status_code == 400:
            data = body.get("error", body) if isinstance(body, dict) else body
            error = error_class()(err_msg, response=response, body=data)
            error.rule = response.headers[MARKER]
            error.findings = list(data.get("gonka_lint", [])) if isinstance(data, dict) else []
            return error
        return make_status_error(err_msg, body=body, response=response)

    client._make_status_error = _make_status_error
    client.gonka_lint = linter  # the findings of the last request: client.gonka_lint.last
    return client


def http_client(*, async_client: bool = False, module: Any = None, **options: Any) -> Any:
    """An HTTP client for ``openai.OpenAI(http_client=...)`` that lints as :func:`wrap` does
    (the SDK raises its plain ``BadRequestError``, with ``code`` = the rule id). ``module``:
    httpx or httpx2; by default the one the installed OpenAI SDK is built on."""
    module = module or _sdk_http_module()
    linter = Linter(**options)
    if async_client:
        return module.AsyncClient(transport=lint_transport(module.AsyncHTTPTransport(), linter))
    return module.Client(transport=lint_transport(module.HTTPTransport(), linter))


def _sdk_http_module() -> Any:
    import inspect

    import openai

    annotation = str(inspect.signature(openai.OpenAI.__init__).parameters["http_client"].annotation)
    if "httpx2" in annotation:
        import httpx2

        return httpx2
    import httpx

    return httpx
