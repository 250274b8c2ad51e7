"""The lint-and-forward proxy attacked as an open relay would be, on loopback only: raw request
lines that try to reach another host or port, escape the upstream's base path or reach admin
paths; missing and wrong client keys; upstreams that never stop, trickle or hang; secrets in
bodies. A second loopback server ("internal") stands for everything the proxy must never reach."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import resource
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import httpx
import pytest

from gonka_conformance.gateway import ReferenceGateway
from gonka_conformance.gateway.cli import banner
from gonka_conformance.engine.pipeline import render
from gateways import raw_exchange, serve

UPSTREAM_PASSWORD = "pw-upstream-planted-5e1d9a"   # the operator's broker credentials
QUERY_KEY = "qk-upstream-planted-77b3c2"
CLIENT_KEY = "sk-client-planted-0f9e8d7c6b5a"      # what the proxy's own clients present
BASIC = base64.b64encode(f"u:{UPSTREAM_PASSWORD}".encode()).decode()
SECRETS = (UPSTREAM_PASSWORD, BASIC, QUERY_KEY)
HI = {"messages": [{"role": "user", "content": "hi"}]}


# --- small loopback peers ------------------------------------------------------------------------


class Recorder(ThreadingHTTPServer):
    """Answers every request 200 with the path it saw; keeps (method, raw target, headers). With
    ``echo``, the answer also repeats the Authorization header and target it was sent (a careless
    broker's error page)."""

    daemon_threads = True

    def __init__(self, echo: bool = False) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.echo = echo
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _RecorderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers.items())))
        payload = {"path": self.path}
        if self.server.echo:
            payload["authorization"] = self.headers.get("Authorization", "")
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _any

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class RawPeer:
    """A loopback server that runs ``behave(conn, stop)`` for each connection (hostile upstreams)."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.behave = behave
        self.stop_event = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.connections: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                piece = conn.recv(4096)
                if not piece:
                    return
                head += piece
            self.behave(conn, self.stop_event)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.listener.close()
        self.acceptor.join(5)
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(5)


def endless(content_type: bytes, piece: bytes) -> Callable[[socket.socket, threading.Event], None]:
    def behave(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nConnection: close\r\n\r\n")
        sent = 0
        while not stop.is_set() and sent < 300 * 1024 * 1024:  # bounded even if nobody stops it
            conn.sendall(piece)
            sent += len(piece)
    return behave


def trickle(head: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """Send ``head``, then one byte every 0.2 s for at most 20 s."""
    def behave(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        for _ in range(100):
            if stop.wait(0.2):
                return
            conn.sendall(b"x")
    return behave


def hang(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(20)


@contextlib.contextmanager
def peer(behave: Callable[[socket.socket, threading.Event], None]) -> Iterator[RawPeer]:
    server = RawPeer(behave)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def recorder(echo: bool = False) -> Iterator[Recorder]:
    server = Recorder(echo)
    try:
        yield server
    finally:
        server.stop()


def raw_request(gateway: ReferenceGateway, line: bytes, headers: bytes = b"") -> bytes:
    """One raw request line (sent exactly as given), then the whole answer (the request asks
    for the connection to close)."""
    return raw_exchange(gateway, line + b"\r\n" + headers + b"Connection: close\r\n\r\n")


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer.split(b" ", 2)[1])


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        for secret in (*SECRETS, CLIENT_KEY):
            assert secret not in text


# --- the request target ------------------------------------------------------------------------

# Each target is sent as the request line's target, with the internal server's port for {q}.
REFUSED = [
    "@127.0.0.1:{q}/internal/admin",                 # the observed credential leak
    "@127.0.0.1:{q}",
    "http://127.0.0.1:{q}/internal/admin",           # absolute-form
    "http://127.0.0.1:{q}/v1/chat/completions",
    "127.0.0.1:{q}",                                 # authority-form
    ":{q}/x",
    "*",
    "\\\\127.0.0.1:{q}\\internal\\admin",            # backslash tricks
    "/\\127.0.0.1:{q}/internal/admin",
    "/v1/..\\..\\internal\\x",
    "/v1/../../internal/x",                          # climbs above the root
    "/v1/%2e%2e/%2e%2e/internal/x",
    "/v1/%2E%2E/.%2e/internal/x",
    "/v1/..%2f..%2finternal/x",                      # dots behind encoded slashes
    "/v1/%2e%2e%2f%2e%2e%2finternal%2fx",
    "/v1/x%2f..%2fadmin/settings",
    "/v1/x%2F%2E%2E%2Fadmin%2Fsettings",
    "/v1/..%5c..%5cinternal/x",                      # encoded backslash
    "%40127.0.0.1:{q}/internal/admin",
    "/v1/x%00",                                      # decoded control character
    "/v1/x%0d%0aHost:%20127.0.0.1:{q}",
    "/v1/x%zz",                                      # invalid escape
    "/v1/x%c0%ae%c0%ae/admin",                       # overlong UTF-8 dots
    "/v1/x#fragment",
]
NOT_FORWARDED = [
    "/v1/x/../admin/settings",                       # normalised to an admin path
    "/v1/./finalize",
    "/v1/x/%2e%2e/admin/settings",
    "/v1/%2e/finalize",
    "/v1/%2E/state",
    "/v1//admin/settings",
    "/v1/debug/../debug/pprof",
    "//127.0.0.1:{q}/internal/admin",                # not under /v1
    "/v1/../internal/x",
    "/internal/x",
    "/%40127.0.0.1:{q}/internal/admin",
]
# (target, path the upstream must see under the base /gw/v1)
FORWARDED = [
    ("/v1/models", "/gw/v1/models"),
    ("/v1/./models", "/gw/v1/models"),
    ("/v1/x/../models", "/gw/v1/models"),
    ("/v1/%2e/models", "/gw/v1/models"),
    ("/v1/%252e%252e/%252e%252e/internal/x", "/gw/v1/%252e%252e/%252e%252e/internal/x"),  # literal, not dots
    ("/v1/@127.0.0.1:{q}/internal/admin", "/gw/v1/@127.0.0.1:{q}/internal/admin"),
    ("/v1/models/org%2FName", "/gw/v1/models/org%2FName"),
]


@pytest.fixture(scope="module")
def internal() -> Iterator[Recorder]:
    with recorder() as server:
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Recorder]:
    with recorder() as server:
        yield server


@pytest.fixture(scope="module", params=["", "/gw/v1"], ids=["no-base-path", "base-path"])
def proxy(request, upstream, internal) -> Iterator[ReferenceGateway]:
    url = f"http://u:{UPSTREAM_PASSWORD}@127.0.0.1:{upstream.port}{request.param}"
    log = io.StringIO()
    with serve(upstream=url, api_key=CLIENT_KEY, log=log) as gateway:
        gateway.base_path = request.param  # type: ignore[attr-defined]
        yield gateway
    assert "GET /v1/models" in log.getvalue() and "require-api-key" in log.getvalue()
    assert_no_secret(log.getvalue())  # the live log of every request above


def send(proxy: ReferenceGateway, target: str, internal: Recorder, method: str = "GET") -> bytes:
    line = f"{method} {target.format(q=internal.port)} HTTP/1.1".encode("latin-1")
    headers = f"Host: 127.0.0.1:{internal.port}\r\nAuthorization: Bearer {CLIENT_KEY}\r\n".encode()
    return raw_request(proxy, line, headers)


@pytest.mark.parametrize("target", REFUSED)
def test_targets_that_are_not_clean_origin_form_are_refused_with_400(proxy, upstream, internal, target):
    before = len(upstream.seen)
    answer = send(proxy, target, internal)
    assert status_of(answer) == 400
    assert len(upstream.seen) == before and internal.seen == []
    assert_no_secret(answer)


def test_authority_form_connect_and_a_raw_control_character_are_refused(proxy, upstream, internal):
    before = len(upstream.seen)
    for line in (f"CONNECT 127.0.0.1:{internal.port} HTTP/1.1".encode(), b"GET /v1/x\x01y HTTP/1.1",
                 b"GET /v1/\xff HTTP/1.1", b"GET :18903/x HTTP/1.1"):
        answer = raw_request(proxy, line, f"Authorization: Bearer {CLIENT_KEY}\r\n".encode())
        assert status_of(answer) == 400, line
    assert len(upstream.seen) == before and internal.seen == []


@pytest.mark.parametrize("target", NOT_FORWARDED)
def test_admin_paths_and_paths_outside_v1_are_answered_locally(proxy, upstream, internal, target):
    before = len(upstream.seen)
    answer = send(proxy, target, internal)
    assert status_of(answer) in (400, 404)  # no admin key configured: the admin paths are 404 here
    assert len(upstream.seen) == before and internal.seen == []
    assert_no_secret(answer)


@pytest.mark.parametrize("target,seen", FORWARDED)
def test_forwarded_paths_stay_under_the_upstream_base(proxy, upstream, internal, target, seen):
    before = len(upstream.seen)
    answer = send(proxy, target, internal)
    assert status_of(answer) == 200
    assert len(upstream.seen) == before + 1 and internal.seen == []
    method, path, headers = upstream.seen[-1]
    expected = seen.format(q=internal.port)
    assert path == (expected if proxy.base_path else expected.replace("/gw/v1", "/v1", 1))
    assert headers["Authorization"] == f"Basic {BASIC}"  # the configured credentials, to the upstream only
    assert headers["Host"] == f"127.0.0.1:{upstream.port}"
    assert CLIENT_KEY not in json.dumps(headers)         # the client's key stays with the proxy
    assert_no_secret(answer)


# --- client keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong-key-0000", "Basic " + BASIC, f"Bearer {CLIENT_KEY}x"])
def test_a_missing_or_wrong_client_key_is_401_and_never_forwarded(proxy, upstream, internal, authorization):
    before = len(upstream.seen)
    headers = {} if authorization is None else {"Authorization": authorization}
    template = proxy.catalogue.by_id["require-api-key"].messages["default"]
    with httpx.Client(timeout=10) as client:
        chat = client.post(proxy.base_url + "/chat/completions", json={"model": "moonshotai/Kimi-K2.6", **HI}, headers=headers)
        models = client.get(proxy.base_url + "/models", headers={**headers, "X-Api-Key": CLIENT_KEY})
    assert chat.status_code == 401 and chat.json()["error"]["message"] == render(template, {"model": "moonshotai/Kimi-K2.6"})
    assert chat.headers["content-type"] == "text/plain; charset=utf-8"
    assert models.status_code == 401
    assert len(upstream.seen) == before and internal.seen == []
    assert_no_secret(chat.text, models.text)


def test_the_right_client_key_is_forwarded_without_the_clients_credentials(proxy, upstream):
    with httpx.Client(timeout=10) as client:
        response = client.post(proxy.base_url + "/chat/completions", json=HI,
                               headers={"Authorization": f"Bearer {CLIENT_KEY}", "X-Api-Key": CLIENT_KEY, "Cookie": "s=1"})
    assert response.status_code == 200
    _method, _path, headers = upstream.seen[-1]
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["authorization"] == f"Basic {BASIC}" and "x-api-key" not in lowered and "cookie" not in lowered


def test_an_admin_key_unlocks_the_proxy_too():
    with recorder() as upstream, serve(upstream=f"http://u:{UPSTREAM_PASSWORD}@127.0.0.1:{upstream.port}/v1",
                                       admin_key=CLIENT_KEY) as proxy:
        ok = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        refused = httpx.get(proxy.base_url + "/models", headers={"Authorization": "Bearer sk-someone-else"})
    assert ok.status_code == 200 and refused.status_code == 401 and len(upstream.seen) == 1


# --- upstream credentials in the query, echoed credentials ---------------------------------------


def test_a_query_key_on_the_upstream_is_kept_and_the_client_cannot_override_it(capsys):
    with recorder(echo=True) as upstream, serve(upstream=f"http://127.0.0.1:{upstream.port}/v1?api_key={QUERY_KEY}",
                                                api_key=CLIENT_KEY, debug_endpoint=True) as proxy:
        response = httpx.get(proxy.base_url + "/models?api_key=evil&limit=2", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        shown = "\n".join(banner(proxy))
        record = httpx.get(proxy.debug_url).text
    assert response.status_code == 200
    assert upstream.seen[-1][1] == f"/v1/models?api_key={QUERY_KEY}&limit=2"
    assert_no_secret(response.text, shown, record, capsys.readouterr().err)
    assert "***" in response.text  # the echoed query key was masked before it reached the client


def test_credentials_an_upstream_echoes_are_masked_in_the_answer():
    with recorder(echo=True) as upstream, serve(upstream=f"http://u:{UPSTREAM_PASSWORD}@127.0.0.1:{upstream.port}/v1",
                                                api_key=CLIENT_KEY) as proxy:
        response = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert response.status_code == 200 and response.json()["authorization"] == "Basic ***"
    assert_no_secret(response.text)


def test_a_configured_upstream_key_goes_to_the_upstream_as_bearer_and_nowhere_else():
    upstream_key = "sk-upstream-key-planted-31d7"
    with recorder(echo=True) as upstream, serve(upstream=f"http://127.0.0.1:{upstream.port}/v1", upstream_key=upstream_key,
                                                api_key=CLIENT_KEY, debug_endpoint=True) as proxy:
        response = httpx.post(proxy.base_url + "/chat/completions", json=HI, headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        record = httpx.get(proxy.debug_url).text
    assert response.status_code == 200 and upstream.seen[-1][2]["Authorization"] == f"Bearer {upstream_key}"
    for text in (response.text, record):
        assert upstream_key not in text and CLIENT_KEY not in text


def test_an_upstream_redirect_is_relayed_not_followed(internal):
    location = f"http://127.0.0.1:{internal.port}/internal/admin".encode()

    def redirect(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    with peer(redirect) as broker, serve(upstream=f"http://u:{UPSTREAM_PASSWORD}@127.0.0.1:{broker.port}/v1",
                                         api_key=CLIENT_KEY) as proxy:
        response = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert response.status_code == 302 and response.headers["location"] == location.decode()
    assert internal.seen == []


def test_the_banner_names_the_upstream_without_credentials():
    with recorder() as upstream, serve(upstream=f"http://u:{UPSTREAM_PASSWORD}@127.0.0.1:{upstream.port}/gw/v1",
                                       api_key=CLIENT_KEY) as proxy:
        shown = "\n".join(banner(proxy))
    assert f"http://127.0.0.1:{upstream.port}/gw/v1" in shown and "upstream credentials from the configuration" in shown
    assert_no_secret(shown)


# --- bounded upstream answers --------------------------------------------------------------------------


@contextlib.contextmanager
def pass_through(upstream_port: int, **options) -> Iterator[ReferenceGateway]:
    options = {"upstream_max_bytes": 1024 * 1024, "upstream_max_stream_bytes": 1024 * 1024, "upstream_timeout": 1.5, **options}
    with serve(upstream=f"http://127.0.0.1:{upstream_port}/v1", **options) as gateway:
        yield gateway


def test_an_endless_json_answer_is_a_502_in_bounded_time_and_memory():
    with peer(endless(b"application/json", b"[" * 65536)) as broker, pass_through(broker.port) as proxy:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        response = httpx.post(proxy.base_url + "/chat/completions", json=HI, headers={"Authorization": "Bearer k"}, timeout=30)
        elapsed = time.monotonic() - started
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert response.status_code == 502 and "exceeds 1048576 bytes" in response.json()["error"]["message"]
    assert elapsed < 10 and grown_mib < 100


def test_an_endless_stream_is_cut_at_the_stream_cap():
    with peer(endless(b"text/event-stream", b"data: {}\n\n" * 1000)) as broker, pass_through(broker.port, upstream_timeout=30) as proxy:
        received, started = 0, time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("POST", proxy.base_url + "/chat/completions", json=HI, headers={"Authorization": "Bearer k"},
                              timeout=30) as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received += len(piece)
    assert 0 < received <= 1024 * 1024 and time.monotonic() - started < 20


@pytest.mark.parametrize("behave", [hang, trickle(b"HTTP/1.1 200 OK\r\n")], ids=["hangs", "trickles-its-head"])
def test_an_upstream_that_does_not_answer_in_time_is_a_504(behave):
    with peer(behave) as broker, pass_through(broker.port) as proxy:
        started = time.monotonic()
        response = httpx.get(proxy.base_url + "/models", headers={"Authorization": "Bearer k"}, timeout=30)
        elapsed = time.monotonic() - started
    assert response.status_code == 504 and "timed out" in response.json()["error"]["message"]
    assert elapsed < 5  # 1.5 s for the whole exchange, although every byte came within the read timeout


def test_a_trickling_stream_is_cut_at_the_deadline():
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    with peer(trickle(head)) as broker, pass_through(broker.port) as proxy:
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("GET", proxy.base_url + "/models", headers={"Authorization": "Bearer k"}, timeout=30) as response:
                for _ in response.iter_raw():
                    pass
        assert time.monotonic() - started < 6


def test_an_unreachable_upstream_is_a_502_naming_only_the_host():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serve(upstream=f"http://u:{UPSTREAM_PASSWORD}@127.0.0.1:{port}/v1?api_key={QUERY_KEY}", api_key=CLIENT_KEY) as proxy:
        response = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert response.status_code == 502 and f"127.0.0.1:{port}/v1" in response.json()["error"]["message"]
    assert_no_secret(response.text)


# --- the debug view masks secret-named fields in every copy of the body ---------------------------------


SECRET_IN_BODY = "pl<nted&body-secret-4c1f"  # HTML characters: Go's encoding spells them \u003c, \u0026


def assert_masked(record: dict) -> None:
    text = json.dumps(record, ensure_ascii=False)
    for spelling in (SECRET_IN_BODY, json.dumps(SECRET_IN_BODY)[1:-1], "pl\\u003cnted\\u0026body-secret-4c1f"):
        assert spelling not in text
        assert spelling.replace("\\", "\\\\") not in text


def test_the_proxy_debug_record_masks_body_secrets_in_received_and_forwarded_bytes():
    with recorder() as upstream, serve(upstream=f"http://127.0.0.1:{upstream.port}/v1", debug_endpoint=True) as proxy:
        body = {**HI, "metadata": {"api_key": SECRET_IN_BODY, "note": "ok"}}
        assert httpx.post(proxy.base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer k"}).status_code == 200
        record = httpx.get(proxy.debug_url).json()["requests"][-1]
    assert '"note":"ok"' in record["received"] and "***" in record["received"]
    assert '"note":"ok"' in record["forwarded_bytes"] and "***" in record["forwarded_bytes"]
    assert_masked(record)


def test_the_gateway_debug_record_masks_body_secrets_in_forwarded_bytes():
    with serve(debug_endpoint=True) as gateway:
        body = {**HI, "metadata": {"api_key": SECRET_IN_BODY, "note": "ok"}}
        assert httpx.post(gateway.base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer k"}).status_code == 200
        record = httpx.get(gateway.debug_url).json()["requests"][-1]
    assert '"note":"ok"' in record["forwarded_bytes"] and "***" in record["forwarded_bytes"]
    assert_masked(record)
