"""One live run's lifecycle: target (embedded or remote), models, execution, reports."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import time
from collections import Counter
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx

from .. import __version__
from ..catalogue.loader import load_catalogue
from ..common.errors import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from .outcomes import Outcome
from .cases import LiveCase
from .fingerprint import rerun_command
from .guard import NOT_SENT, Bounds, RunGuard, authentication_failed
from .observe import Target, Unreadable, fetch_json
from .options import DEFAULTS, LiveOptions
from ..common.redact import Redactor, printable_data
from .runner import CaseResult, LiveRun, RunConfig, resolve_api_key
from .transport import bounded_client, get_json

_DEFAULT_BOUNDS = Bounds()


@dataclass
class SessionOptions(RunConfig):
    """What a run is told: the runner's settings plus where things live on disk (defaults: the
    live options', options.py)."""

    report_dir: str | None = DEFAULTS.report_dir
    whitebox_url: str | None = DEFAULTS.whitebox_url  # debug view of a remote reference gateway (serve --debug-endpoint)
    catalogue_root: str | None = DEFAULTS.catalogue  # --catalogue DIR (default: the packaged cases/)
    max_duration: float = DEFAULTS.max_duration
    unresponsive_after: int = DEFAULTS.unresponsive_after
    reject_latency: float = DEFAULTS.reject_latency

    def bounds(self) -> Bounds:
        return dataclasses.replace(_DEFAULT_BOUNDS, max_duration=self.max_duration,
                                   unresponsive_after=self.unresponsive_after, reject_latency=self.reject_latency)


#: LiveOptions fields whose SessionOptions field has another name or type (the rest carry over by name).
_RENAMED = {"catalogue": "catalogue_root"}
_CONVERTED = frozenset({"models", "baseline"})  # a comma-separated text → a list; a path → the loaded entries
#: LiveOptions fields a session does not take (the plugin uses them before the session starts).
_NOT_FOR_SESSION = frozenset({"baseline_required", "terminal"})


def session_options(live: LiveOptions, baseline: dict[str, str]) -> SessionOptions:
    """The session's options from the plugin's typed values, ``baseline`` already loaded."""
    carried = {_RENAMED.get(name, name): getattr(live, name) for name in _carried_fields()}
    return SessionOptions(**carried, models=live.model_list(), baseline=baseline)


def _carried_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(LiveOptions) if f.name not in _CONVERTED | _NOT_FOR_SESSION]


class TargetUnreachable(Exception):
    """The target could not be reached at all, or its model list could not be read."""


def missing_key(base_url: str | None, api_key_env: str) -> str | None:
    """Why a run against ``base_url`` must not start: a broker URL without a key would only
    show 401s, a conformant broker as broken (e.g. a fork's CI whose secrets are empty)."""
    if base_url is None or os.environ.get(api_key_env, "").strip():
        return None
    return (f"--base-url is given but ${api_key_env} is empty or unset: export the broker's API key in it "
            "(or leave out --base-url to test the embedded reference gateway); nothing was sent")


#: Where the white-box reader finds the admin key of a remote reference gateway that has one
#: (its debug view then answers only to it). Never the broker API key.
ADMIN_KEY_ENV = "GONKA_ADMIN_KEY"


class WhiteboxUnavailable(Exception):
    """The white-box view cannot be read (wrong URL, not a reference gateway, needs a key)."""


class LiveSession:
    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.catalogue = load_catalogue(options.catalogue_root)
        self.redactor = Redactor(fragments=True)
        for url in (options.base_url, options.whitebox_url):  # URL credentials and query values are secrets
            self.redactor.add_url(url)
        self._error: str | None = None
        self._error_code = EXIT_INTERNAL
        self.guard = RunGuard(options.bounds())
        self.embedded = options.base_url is None
        self.started = datetime.now(timezone.utc)
        self._stack = ExitStack()
        self._items: dict[str, tuple[LiveCase, str]] = {}
        self.run: LiveRun | None = None
        self._fingerprint: dict[str, Any] | None = None

    @property
    def error(self) -> str | None:
        """Why the run as a whole failed: set up, or halted by its guard (deadline, breaker, key)."""
        return self._error or (self.redactor.text(self.guard.halted) if self.guard.halted else None)

    @error.setter
    def error(self, value: str | None) -> None:
        self._error = value

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        opts = self.options
        config = dataclasses.replace(opts)  # the runner's own copy; the options stay as given
        debug_url = opts.whitebox_url
        if self.embedded:
            base_url, debug_url = self._start_embedded()
            config.api_key = "sk-local-" + secrets.token_hex(8)  # any key works on the reference gateway
        else:
            base_url = opts.base_url or ""
            if opts.api_key is None and missing_key(base_url, opts.api_key_env):
                self.error, self._error_code = missing_key(base_url, opts.api_key_env), EXIT_USAGE
                return
        config.base_url = base_url
        api_key = resolve_api_key(config)
        self.redactor.add(api_key)
        whitebox: Callable[[str, str | None], Any] | None = None
        if debug_url:
            admin_key = None if self.embedded else os.environ.get(ADMIN_KEY_ENV) or None
            self.redactor.add(admin_key)
            try:
                whitebox = _whitebox_reader(debug_url, admin_key, self._stack.enter_context(bounded_client(debug_url)),
                                            self.guard.bounds, self.guard.deadline)
            except WhiteboxUnavailable as exc:
                self.error = f"--whitebox-url: {self.redactor.text(str(exc))}"
                return
        target = Target(base_url=base_url, api_key=api_key, timeout=opts.timeout, retries=opts.retries, guard=self.guard)
        self.run = LiveRun(self.catalogue, config, target, self.redactor, whitebox)
        try:
            if opts.models:
                self.run.models = list(opts.models)
            else:
                with bounded_client(target.base_url) as client:
                    self.run.models = discover_models(client, target)
        except TargetUnreachable as exc:
            message = self.redactor.text(str(exc))
            self.error = message if message.startswith("authentication failed") else f"target unreachable: {message}"
            return
        for case, model in self.run.items():
            self._items[self.run.key(case, model)] = (case, model)

    def _start_embedded(self) -> tuple[str, str]:
        from ..gateway import GatewayConfig, ReferenceGateway

        gateway = ReferenceGateway(GatewayConfig(revision=self.options.revision, debug_endpoint=True,
                                                 catalogue_root=self.options.catalogue_root), catalogue=self.catalogue)
        base_url = self._stack.enter_context(gateway.running())
        return base_url, gateway.debug_url

    def close(self) -> None:
        self.stop_sending()
        self._stack.close()

    # -- items and results ----------------------------------------------------------------------

    def items(self) -> list[tuple[LiveCase, str]]:
        return list(self._items.values())

    def execute(self, keys: list[str]) -> None:
        assert self.run is not None
        if self.error is None:
            self.run.execute(self._items[key] for key in keys if key in self._items)

    def plan(self, keys: list[str]) -> None:
        """Pack the selected items that may share a request (cost-aware probing: ``packing``)."""
        if self.run is not None and self.error is None:
            self.run.plan(self._items[key] for key in keys if key in self._items)

    def submit(self, key: str) -> Future[CaseResult]:
        """Queue one item (the pytest run phase sends only what is selected, as it runs)."""
        assert self.run is not None and self.error is None
        return self.run.submit(*self._items[key])

    def stop_sending(self) -> None:
        """Cancel what is queued and wait for what is in flight (-x, --maxfail, the end)."""
        if self.run is not None:
            self.run.shutdown()

    def record_unsent(self, keys: list[str]) -> None:
        """A halted run (deadline, unresponsive target, refused key) stops pytest early: every
        selected case it never reached is still in the reports, as an error saying why."""
        if self.run is None or not self.guard.halted:
            return
        reason = NOT_SENT + self.redactor.text(self.guard.halted)
        for key in keys:
            if key in self._items and key not in self.run.results:
                self.run.results[key] = self.run.harness_error(*self._items[key], reason)

    def result(self, key: str) -> CaseResult:
        assert self.run is not None
        return self.run.results[key]

    def results(self) -> list[CaseResult]:
        return list(self.run.results.values()) if self.run else []

    def exit_code(self) -> int:
        if self.error:
            return self._error_code if self._error else EXIT_INTERNAL
        outcomes = Counter(result.outcome for result in self.results())
        if outcomes[Outcome.FAIL] or outcomes[Outcome.XPASS]:
            return EXIT_FINDINGS
        if outcomes[Outcome.ERROR]:
            return EXIT_INTERNAL
        return EXIT_OK

    # -- reports --------------------------------------------------------------------------------

    def finish(self, finished: datetime, exit_code: int, junit: bool = True) -> None:
        """Write the reports; ``junit=False`` leaves junit.xml to pytest's own ``--junitxml``
        when it was pointed at the same file (two writers of one file: the last would win)."""
        if not self.options.report_dir:
            return
        from ..reports.html import render_html
        from ..reports.junit import render_junit
        from ..reports.markdown import render_markdown
        from ..reports.model import RunInfo, build_report, write_json

        run = self.run
        fingerprint = self.fingerprint()
        info = RunInfo(
            base_url=self.redactor.text(run.target.base_url if run else (self.options.base_url or "")),
            embedded=self.embedded, models=run.shown_models() if run else [],
            revision=self.catalogue.revision(self.options.revision).id, profile=self.options.profile,
            tier=self.options.tier, repeat=self.options.repeat, started=self.started, finished=finished,
            tokens_spent=run.tokens_spent if run else 0, budget_tokens=self.options.budget_tokens,
            exit_code=exit_code, fingerprint=fingerprint, error=self.error,
        )
        # Redacted and made printable as data; the renderers escape it for HTML and Markdown.
        report = printable_data(self.redactor.data(build_report(info, (r.to_json() for r in self.results()), __version__)))
        directory = Path(self.options.report_dir)
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / "report.json", report)
        (directory / "report.html").write_text(render_html(report), encoding="utf-8")
        (directory / "summary.md").write_text(render_markdown(report), encoding="utf-8")
        if junit:
            (directory / "junit.xml").write_text(render_junit(report), encoding="utf-8")

    def fingerprint(self) -> dict[str, Any] | None:
        if self._fingerprint is None and self.run and self.run.results:
            try:
                self._fingerprint = self.run.fingerprint()
                self._fingerprint["rerun"] = rerun_command(self._fingerprint, self.options, self.run.revision, self.embedded)
            except Exception as exc:  # a harness bug must not cost the run its reports
                self._fingerprint = {"best": None, "candidates": [], "error": f"fingerprint failed: {type(exc).__name__}"}
        return self._fingerprint


def discover_models(client: httpx.Client, target: Target) -> list[str]:
    """The model ids of ``GET /models``: read within the request bounds, at most ``max_models``."""
    bounds = target.bounds
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    try:
        status, data = fetch_json(client, target, "/models", headers, bounds.max_models_bytes)
    except Unreadable as exc:
        raise TargetUnreachable(f"GET /models: {exc}") from None
    if status in (401, 403):
        raise TargetUnreachable(authentication_failed(f"GET /models answered HTTP {status}"))
    if status != 200:
        raise TargetUnreachable(f"GET /models answered HTTP {status}")
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise TargetUnreachable("GET /models did not return an OpenAI model list")
    ids = list(dict.fromkeys(e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"].strip()))
    if len(ids) > bounds.max_models:
        raise TargetUnreachable(f"GET /models listed {len(ids)} models, more than {bounds.max_models}: choose some with --models")
    return ids


#: Seconds one look at the white-box view may take, connect to last byte.
WHITEBOX_TIMEOUT = 10.0


def _whitebox_reader(debug_url: str, admin_key: str | None, client: httpx.Client, bounds: Bounds,
                     run_deadline: float) -> Callable[[str, str | None], Any]:
    """The body the reference gateway forwarded for a request: looked up by the response's
    X-Request-Id, or by the request's nonce in the recent history. The view is probed first:
    a wrong URL must not quietly turn every silent-rule case into ``unobservable``. Every look
    is bounded like a request to the target (deadline, decoded size): the view is a peer too."""
    headers = {"Authorization": f"Bearer {admin_key}"} if admin_key else {}  # never the broker key

    def get(url: str, **params: Any) -> tuple[int | None, Any]:
        until = min(time.monotonic() + WHITEBOX_TIMEOUT, run_deadline)
        try:
            return get_json(client, url, headers, bounds.max_whitebox_bytes, until, params or None)
        except Exception:  # whatever the view sent, or did not: the case becomes unobservable
            return None, None

    _probe(get, debug_url)

    def forwarded_for(nonce: str, request_id: str | None = None) -> Any:
        if request_id:
            status, record = get(f"{debug_url.rstrip('/')}/{request_id}")
            if status == 200 and isinstance(record, dict) and record.get("forwarded") is not None:
                return record["forwarded"]
        status, entries = get(debug_url)
        entries = entries.get("requests") if status == 200 and isinstance(entries, dict) else None
        for entry in reversed(entries if isinstance(entries, list) else []):
            forwarded = entry.get("forwarded") if isinstance(entry, dict) else None
            if forwarded is not None and nonce in json.dumps(forwarded, ensure_ascii=False):
                return forwarded
        return None

    return forwarded_for


def _probe(get: Callable[..., tuple[int | None, Any]], debug_url: str) -> None:
    status, data = get(debug_url, limit=1)
    if status is None:
        raise WhiteboxUnavailable("cannot reach the debug view (no answer within the bounds)")
    if status == 401:
        raise WhiteboxUnavailable(f"the debug view needs the gateway's admin key: set {ADMIN_KEY_ENV}")
    if not (status == 200 and isinstance(data, dict) and isinstance(data.get("requests"), list)):
        raise WhiteboxUnavailable(f"HTTP {status}: not a reference gateway debug view "
                                  "(serve --debug-endpoint; the URL ends in /_reference/debug/requests)")
