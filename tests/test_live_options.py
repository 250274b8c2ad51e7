"""Regression tests for the live suite's options, white-box reader, URLs, redaction and baselines."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from gateways import serve
from hostile import gzip_bomb
from gonka_conformance.live import session as session_module
from gonka_conformance.live.observe import Target, endpoint, send
from gonka_conformance.common.redact import Redactor
from gonka_conformance.live.cases import LiveRequest
from gonka_conformance.live.runner import curl_command
from gonka_conformance.live.session import LiveSession, SessionOptions, TargetUnreachable, discover_models
from gonka_conformance.reports.baseline import baseline_from_report
from models import MINIMAX


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("gonka-conformance")
    return subprocess.run([str(script), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["--base-url", "http://127.0.0.1:abc/v1"], "--base-url is not a valid URL"),
    (["--base-url", "http://"], "--base-url must be an http"),
    (["--whitebox-url", "http://h:99999/x"], "--whitebox-url has a port"),
    (["--timeout", "inf"], "--timeout must be a positive number"),
    (["--timeout", "nan"], "--timeout must be a positive number"),
    (["--models", ""], "--models was given without any model id"),
    (["--models", " , "], "--models was given without any model id"),
    (["--concurrency", "0"], "--concurrency must be at least 1"),
])
def test_run_option_errors_are_one_line_usage_errors(tmp_path, args, message) -> None:
    done = _cli(["run", "--report-dir", str(tmp_path), *args])
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr[-1500:]
    assert message in done.stderr and "Traceback" not in done.stdout + done.stderr
    assert "INTERNALERROR" not in done.stdout + done.stderr


def test_run_passes_the_catalogue_option_through(tmp_path) -> None:
    done = _cli(["--catalogue", str(tmp_path / "nowhere"), "run", "--report-dir", str(tmp_path / "r")])
    assert done.returncode == 2 and "--catalogue" in done.stderr


def test_pytest_usage_errors_for_a_report_dir_that_cannot_be_created(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "gonka_conformance.live",
                           "--gonka-report-dir", str(blocker / "x")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 4 and "cannot create report directory" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_baseline_output_into_a_missing_directory_is_a_usage_error(tmp_path) -> None:
    done = _cli(["run", "--report-dir", str(tmp_path / "r"), "--base-url", "http://127.0.0.1:9/v1", "--retries", "0"],
                {"GONKA_API_KEY": "sk-any"})
    assert done.returncode == 3
    report = tmp_path / "r" / "report.json"
    failed = _cli(["baseline", str(report), "-o", str(tmp_path / "missing" / "dir" / "b.json")])
    assert failed.returncode == 2 and "cannot write the baseline" in failed.stderr and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_baseline_holds_deviations_only() -> None:
    cases = [{"key": f"{outcome}[m]", "outcome": outcome, "problems": [outcome], "observed": ""}
             for outcome in ("pass", "fail", "xfail", "error", "unobservable")]
    baseline = baseline_from_report({"cases": cases, "target": {"base_url": "x"}, "revision": "r", "generated_at": "t"})
    assert sorted(baseline["entries"]) == ["fail[m]", "xfail[m]"]


def test_query_token_redaction_keeps_the_closing_quote() -> None:
    redactor = Redactor()
    assert redactor.text("curl 'https://b.example/v1?key=abc123' -H x") == "curl 'https://b.example/v1?key=***' -H x"
    target = Target(base_url="https://b.example/v1?api_key=abc123", api_key=None)
    request = LiveRequest(body=b"{}")
    assert redactor.text(curl_command(target, request)).split()[2] == "'https://b.example/v1/chat/completions?api_key=***'"


def test_a_base_url_with_a_query_string_keeps_it_after_the_path() -> None:
    assert endpoint("https://b.example/v1/?tenant=a", "/models") == "https://b.example/v1/models?tenant=a"
    assert Target(base_url="http://h/v1?x=1", api_key=None).chat_url == "http://h/v1/chat/completions?x=1"


def test_an_invalid_base_url_is_reported_not_raised() -> None:
    target = Target(base_url="http://127.0.0.1:abc/v1", api_key=None, retries=2)
    with httpx.Client() as client:
        with pytest.raises(TargetUnreachable, match="invalid base URL"):
            discover_models(client, target)
        observation = send(client, target, LiveRequest(body=b"{}"), sleep=lambda _: None)
    assert observation.error and observation.error.startswith("invalid target URL") and observation.attempts == 1


def _session(gw, monkeypatch, whitebox_url: str, key: str = "user-key-123456") -> LiveSession:
    monkeypatch.setenv("GONKA_API_KEY", key)
    session = LiveSession(SessionOptions(base_url=gw.base_url, models=[MINIMAX], whitebox_url=whitebox_url, timeout=20))
    session.start()
    return session


def test_a_whitebox_url_that_is_not_a_debug_view_is_a_clear_error(monkeypatch) -> None:
    with serve(debug_endpoint=True) as gw:
        session = _session(gw, monkeypatch, gw.root_url + "/_reference/debug/nothing-here")
        try:
            assert session.error and "--whitebox-url" in session.error and "HTTP 404" in session.error
            assert session.exit_code() == 3 and session.items() == []
        finally:
            session.close()


def test_the_whitebox_reader_never_sends_the_broker_key(monkeypatch) -> None:
    admin = "ADMINx0123abcdSECRET"
    with serve(debug_endpoint=True, admin_key=admin) as gw:
        monkeypatch.delenv("GONKA_ADMIN_KEY", raising=False)
        # The broker key is not the admin key: were it sent, this would be a 401 all the same.
        refused = _session(gw, monkeypatch, gw.debug_url, key=admin + "-not")
        refused.close()
        assert refused.error and "GONKA_ADMIN_KEY" in refused.error and admin not in refused.error
        seen: list[dict[str, str]] = []
        real_get = session_module.get_json

        def spy(client, url, headers, *args, **kwargs):
            seen.append(dict(headers))
            return real_get(client, url, headers, *args, **kwargs)

        monkeypatch.setattr(session_module, "get_json", spy)
        monkeypatch.setenv("GONKA_ADMIN_KEY", admin)
        allowed = _session(gw, monkeypatch, gw.debug_url, key="broker-key-0123456789")
        allowed.close()
    assert allowed.error is None
    assert seen and all(h.get("Authorization") == f"Bearer {admin}" for h in seen)


class _HostileDebugView:
    """A "debug view" on loopback that answers the probe with a gzip bomb or drips it."""

    def __init__(self, mode: str) -> None:
        view = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if mode == "gzip-bomb":
                    body = gzip_bomb()
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                until = time.monotonic() + 20
                while time.monotonic() < until and not view.stopping.is_set():  # one byte every 0.2 s
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
                    view.stopping.wait(0.2)

        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/_reference/debug/requests"

    def __enter__(self) -> "_HostileDebugView":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.mark.parametrize("mode", ["gzip-bomb", "drip"])
def test_a_hostile_whitebox_view_is_bounded_in_time_and_memory(monkeypatch, mode: str) -> None:
    """The debug view is a peer like the target: a bomb is not inflated past the cap, a drip
    ends at the look's deadline, and the run stops with a clear error, not a hang."""
    monkeypatch.setattr(session_module, "WHITEBOX_TIMEOUT", 1.0)
    with serve(debug_endpoint=True) as gw, _HostileDebugView(mode) as view:
        started = time.monotonic()
        session = _session(gw, monkeypatch, view.url)
        try:
            assert session.error and "--whitebox-url" in session.error and "cannot reach the debug view" in session.error
            assert session.exit_code() == 3 and session.items() == []
        finally:
            session.close()
    assert time.monotonic() - started < 8


def test_tls_material_is_loaded_only_for_https_origins() -> None:
    """A plain-HTTP target costs no CA bundle; an HTTPS one verifies certificates."""
    from gonka_conformance.live.transport import bounded_client

    with bounded_client("http://127.0.0.1:9/v1") as plain, bounded_client("https://broker.example/v1") as tls:
        plain_context = plain._transport._pool._ssl_context  # httpx keeps the context on its pool
        tls_context = tls._transport._pool._ssl_context
    assert plain_context.verify_mode == ssl.CERT_NONE
    assert tls_context.verify_mode == ssl.CERT_REQUIRED and tls_context.check_hostname
