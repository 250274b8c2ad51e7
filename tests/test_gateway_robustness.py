"""The server under abuse: oversized bodies (never read into memory), malformed HTTP, slow and
vanished clients, concurrent load, fault injection; and it always stops cleanly."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from gonka_conformance.gateway import Faults, GatewayConfig, ReferenceGateway
from gateways import raw_exchange, serve
from models import HI

AUTH = {"Authorization": "Bearer sk-robust"}




@pytest.fixture(scope="module")
def gw() -> Iterator[ReferenceGateway]:
    with serve(io_timeout=1.0, body_timeout=2.0) as gateway:
        yield gateway


def chat(client: httpx.Client, gateway: ReferenceGateway, body: dict | None = None, **kw) -> httpx.Response:
    return client.post(gateway.base_url + "/chat/completions", json=body or {"messages": HI}, headers=AUTH, **kw)


def healthy(gateway: ReferenceGateway) -> bool:
    with httpx.Client(timeout=5.0) as client:
        return chat(client, gateway).status_code == 200


# --- oversized bodies -------------------------------------------------------------------------


def test_declared_oversize_is_answered_before_any_body_byte(gw):
    started = time.monotonic()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n")  # 1 GiB announced, nothing sent
    answer = raw_exchange(gw, head)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"error":{"message":"request body too large"}}\n')
    assert b"Connection: close" in answer and time.monotonic() - started < 2.0
    assert healthy(gw)


def test_expect_100_continue_over_the_limit_gets_413_instead_of_continue(gw):
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: 20000000\r\n\r\n")
    answer = raw_exchange(gw, head)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer


def test_chunked_body_over_the_limit(gw):
    def pieces():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    with httpx.Client(timeout=10.0) as client:
        response = client.post(gw.base_url + "/chat/completions", content=pieces(), headers=AUTH)
    assert response.status_code == 413 and response.json() == {"error": {"message": "request body too large"}}
    assert healthy(gw)


# --- malformed HTTP --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
    b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"b" * 70000 + b"\r\n\r\n",
])
def test_malformed_requests_get_4xx_or_close_and_never_hurt_the_server(gw, payload):
    answer = raw_exchange(gw, payload)
    assert answer == b"" or answer.split(b" ", 2)[1][:1] == b"4", answer[:80]
    assert healthy(gw)


CHUNKED_HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
BODY = b'{"messages":[{"role":"user","content":"hi"}]}'


def chunked(size_line: bytes, data: bytes = BODY, tail: bytes = b"\r\n0\r\n\r\n") -> bytes:
    return CHUNKED_HEAD + size_line + b"\r\n" + data + tail


@pytest.mark.parametrize("payload", [
    chunked(b"0x%x" % len(BODY)),                     # a 0x prefix Python's int() would take
    chunked(b"0_%x" % len(BODY)),                     # an underscore likewise
    chunked(b"+%x" % len(BODY)),
    chunked(b" %x" % len(BODY)),
    chunked(b"%x" % (len(BODY) - 1)),                 # data longer than its size
    chunked(b"%x" % len(BODY), tail=b"XX0\r\n\r\n"),   # no CRLF after the data
    chunked(b"", data=b""),                           # an empty size line
    chunked(b"1" * 17),                               # more hex digits than 64 bits
    CHUNKED_HEAD + b"zz\r\nabc\r\n",
    CHUNKED_HEAD + b"0\r\n" + b"X-Trailer: 1\r\n" * 100 + b"\r\n",   # endless trailers
], ids=["0x", "underscore", "plus", "leading-space", "long-data", "no-crlf", "empty-size", "17-digits", "not-hex",
        "trailers"])
def test_malformed_chunked_bodies_are_answered_400(gw, payload):
    answer = raw_exchange(gw, payload)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert b"Connection: close" in answer
    assert healthy(gw)


@pytest.mark.parametrize("size_line", [b"%x", b"%X", b"%x;name=value", b"%x  ", b"00%x"])
def test_well_formed_chunked_bodies_are_read(gw, size_line):
    answer = raw_exchange(gw, chunked(size_line % len(BODY)).replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n"))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:80]


@pytest.mark.parametrize("line", [b"GET :18903/x HTTP/1.1", b"GET /v1/x\x01 HTTP/1.1", b"GET /v1/%00 HTTP/1.1",
                                  b"GET http://127.0.0.1:1/v1/models HTTP/1.1", b"GET /v1/../../x HTTP/1.1"])
def test_bad_request_targets_are_400_not_500(gw, line):
    answer = raw_exchange(gw, line + b"\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert healthy(gw)


def test_dot_segments_are_resolved_before_routing(gw):
    for path in (b"/v1/./models", b"/v1/x/../models", b"/v1/%2e/models", b"/v1//models", b"/v1/x/%2E%2e/models"):
        answer = raw_exchange(gw, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 "), path
    with serve(admin_key="sk-admin-dots-1234") as gateway:  # admin paths are recognised after normalising
        for path in (b"/v1/x/%2e%2e/admin/settings", b"/v1/./admin/settings", b"/v1/admin/x/../settings", b"/v1/%2E/finalize"):
            answer = raw_exchange(gateway, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-wrong\r\n"
                                           b"Connection: close\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 401 ") and b"invalid_api_key" in answer, path


def test_client_that_sends_less_than_it_announced(gw):
    raw_exchange(gw, b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"messages\"")
    assert healthy(gw)


# --- slow and vanished clients ---------------------------------------------------------------------


def test_slow_client_is_dropped_and_does_not_block_others(gw):
    host, port = gw.address
    slow = socket.create_connection((host, port), timeout=5)
    try:
        slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # headers never finish
        assert healthy(gw)  # others are served meanwhile
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the server's read timeout (1 s here)
        assert time.monotonic() - started < 4.0
    finally:
        slow.close()


def test_client_vanishing_mid_stream_releases_everything():
    with serve(faults=Faults(chunk_delay_ms=20), max_concurrent_requests=1) as gateway:
        host, port = gateway.address
        body = json.dumps({"messages": [{"role": "user", "content": "Write 300 words"}], "stream": True}).encode()
        for _ in range(3):  # with a limit of 1, a leaked slot would 429 the next round
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            sock.close()  # vanish mid-stream
            deadline = time.monotonic() + 3
            while gateway.state.limiter.in_flight and time.monotonic() < deadline:
                time.sleep(0.02)
            assert gateway.state.limiter.in_flight == 0
        assert healthy(gateway)


def test_connection_cap_idle_connections_yield_their_slot():
    with serve(max_connections=2, io_timeout=5.0) as gateway:
        host, port = gateway.address
        held = [socket.create_connection((host, port), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.2)
            answer = raw_exchange(gateway, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 ")
            assert held[0].recv(1024) == b""  # the oldest idle connection gave its slot up
        finally:
            for sock in held:
                sock.close()


def test_connection_cap_answers_503_when_every_slot_is_busy_and_recovers():
    with serve(max_connections=2, faults=Faults(latency_ms=1500)) as gateway:
        with ThreadPoolExecutor(max_workers=2) as pool:
            busy = [pool.submit(healthy, gateway) for _ in range(2)]
            deadline = time.monotonic() + 3
            while gateway.open_connections < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)
            assert raw_exchange(gateway, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 503 ")
            assert all(f.result(timeout=10) for f in busy)
        deadline = time.monotonic() + 3
        while gateway.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert healthy(gateway)


# --- concurrency ---------------------------------------------------------------------------------


def test_concurrent_load_mixed_plain_and_streamed(gw):
    def one(i: int) -> str:
        with httpx.Client(timeout=20.0) as client:
            body = {"messages": [{"role": "user", "content": f"Write {10 + i} words [{i}]"}], "stream": i % 2 == 0,
                    "max_tokens": 300}
            response = chat(client, gw, body)
            assert response.status_code == 200
            if body["stream"]:
                assert response.text.endswith("data: [DONE]\n\n")
                return json.loads(response.text.split("\n\n")[0][6:])["id"]
            return response.json()["id"]

    with ThreadPoolExecutor(max_workers=24) as pool:
        ids = list(pool.map(one, range(96)))
    assert len(set(ids)) == 96  # every response id unique under concurrency


def test_keep_alive_reuses_connections(gw):
    with httpx.Client(timeout=5.0) as client:
        for _ in range(20):
            assert chat(client, gw).status_code == 200
        assert client.get(gw.base_url + "/models").status_code == 200


# --- fault injection -------------------------------------------------------------------------------


def test_fault_latency():
    with serve(faults=Faults(latency_ms=250)) as gateway, httpx.Client(timeout=5) as client:
        started = time.monotonic()
        assert chat(client, gateway).status_code == 200
        assert time.monotonic() - started >= 0.25


def test_fault_5xx_and_429():
    with serve(faults=Faults(error_rate=1.0, error_status=503)) as gateway, httpx.Client(timeout=5) as client:
        response = chat(client, gateway)
        assert response.status_code == 503 and response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "simulated upstream failure" in response.json()["error"]["message"]
    with serve(faults=Faults(rate_limit_rate=1.0, retry_after=3)) as gateway, httpx.Client(timeout=5) as client:
        response = chat(client, gateway)
        assert response.status_code == 429 and response.headers["retry-after"] == "3"
        assert response.json() == {"error": {"message": "no live host capacity"}}
        client_sdk = OpenAI(base_url=gateway.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client_sdk.chat.completions.create(model="moonshotai/Kimi-K2.6", messages=HI)


def test_fault_cut_streams_and_bodies():
    with serve(faults=Faults(cut_rate=1.0)) as gateway, httpx.Client(timeout=5) as client:
        body = {"messages": [{"role": "user", "content": "Write 200 words"}], "stream": True}
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            with client.stream("POST", gateway.base_url + "/chat/completions", json=body, headers=AUTH) as response:
                assert response.status_code == 200
                for piece in response.iter_bytes():
                    received += piece
        assert received.startswith(b"data: ") and b"[DONE]" not in received
        with pytest.raises(httpx.RemoteProtocolError):
            chat(client, gateway)
        assert gateway.state.limiter.in_flight == 0


def test_fault_garbage():
    with serve(faults=Faults(garbage_rate=1.0)) as gateway, httpx.Client(timeout=5) as client:
        response = chat(client, gateway)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
        sdk = OpenAI(base_url=gateway.base_url, api_key="k", max_retries=0)
        with pytest.raises((openai.APIError, ValueError)):
            sdk.chat.completions.create(model="moonshotai/Kimi-K2.6", messages=HI)


def test_faults_are_reproducible_from_the_seed():
    def sequence() -> list[int]:
        with serve(faults=Faults(error_rate=0.3, rate_limit_rate=0.3, seed=7)) as gateway, httpx.Client(timeout=5) as client:
            return [chat(client, gateway).status_code for _ in range(20)]

    first = sequence()
    assert first == sequence() and {200, 429, 502} <= set(first)


def test_faults_never_touch_validation_errors():
    with serve(faults=Faults(error_rate=1.0)) as gateway, httpx.Client(timeout=5) as client:
        assert chat(client, gateway, {"messages": HI, "tags": []}).status_code == 400


# --- stopping -----------------------------------------------------------------------------------


def test_stop_is_clean_with_open_connections_and_streams_in_flight():
    before = threading.active_count()
    gateway = ReferenceGateway(GatewayConfig(faults=Faults(chunk_delay_ms=50)))
    gateway.start()
    host, port = gateway.address
    idle = socket.create_connection((host, port), timeout=5)
    streaming = socket.create_connection((host, port), timeout=5)
    body = json.dumps({"messages": [{"role": "user", "content": "Write 2000 words"}], "stream": True}).encode()
    streaming.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert streaming.recv(1024).startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    gateway.close()
    assert time.monotonic() - started < 3.0
    idle.close()
    streaming.close()
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= before
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1).close()


def test_start_stop_repeatedly_and_port_reuse():
    gateway = ReferenceGateway(GatewayConfig())
    for _ in range(3):
        with gateway.running() as url:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            assert healthy(gateway)
    with pytest.raises(RuntimeError):
        gateway.address


# --- review regressions ---------------------------------------------------------------------------


def _explode(request):  # an unexpected failure whose message quotes the request's key
    raise RuntimeError(f"boom for {request.headers.get('Authorization')}")


@pytest.mark.parametrize("quiet", [False, True])
def test_an_internal_error_is_redacted_and_silent_when_quiet(monkeypatch, capsys, quiet):
    import io

    secret = "PLANTEDx0123abcdSECRET"
    log = None if quiet else io.StringIO()
    with serve(log=log) as gateway:
        monkeypatch.setattr(gateway.router.chat, "handle", _explode)
        response = httpx.post(gateway.base_url + "/chat/completions", json={"messages": HI},
                              headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 500 and secret not in response.text
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    if quiet:
        assert "internal error" not in captured.err
    else:
        assert "internal error: RuntimeError: boom for" in log.getvalue() and secret not in log.getvalue()


def test_status_reports_the_requests_in_flight_per_model():
    gate = threading.Event()
    with serve(faults=Faults(chunk_delay_ms=50)) as gateway:
        model = gateway.state.default_model

        def slow_stream():
            with httpx.stream("POST", gateway.base_url + "/chat/completions", headers=AUTH, timeout=10,
                              json={"messages": HI, "stream": True, "max_tokens": 64}) as response:
                gate.set()
                for _ in response.iter_bytes():
                    pass

        worker = threading.Thread(target=slow_stream)
        worker.start()
        assert gate.wait(5)
        active = {d["model"]: d["active_requests"] for d in httpx.get(gateway.base_url + "/status").json()["devshards"]}
        worker.join(10)
        after = {d["model"]: d["active_requests"] for d in httpx.get(gateway.base_url + "/status").json()["devshards"]}
    assert active[model] == 1 and after[model] == 0
