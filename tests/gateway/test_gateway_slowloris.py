"""Availability under trickle attacks, on loopback: hundreds of connections that send a header
byte every few seconds must not lock a normal client out; a head or a body that trickles in
forever is cut at its deadline; waiting connections give their slot to new ones. Every socket a
test opens is closed by the test, and every loop is bounded."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Iterator

import httpx
import pytest

from gonka_conformance.gateway import ReferenceGateway
from gateways import serve

HI = {"messages": [{"role": "user", "content": "hi"}]}
AUTH = {"Authorization": "Bearer sk-slowloris"}
TRICKLED_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200


@contextlib.contextmanager
def tricklers(gateway: ReferenceGateway, count: int, every: float) -> Iterator[list[socket.socket]]:
    """``count`` connections that each send one more byte of a request head every ``every``
    seconds (never finishing it) until the block ends; all of them are closed at the end."""
    host, port = gateway.address
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def trickle() -> None:
        for position in range(1, len(TRICKLED_HEAD)):
            if stop.wait(every):
                return
            for sock in list(sockets):
                with contextlib.suppress(OSError):
                    sock.send(TRICKLED_HEAD[position:position + 1])

    thread = threading.Thread(target=trickle, daemon=True)
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            sockets.append(sock)
            with contextlib.suppress(OSError):
                sock.send(TRICKLED_HEAD[:1])
        thread.start()
        yield sockets
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(10)
        for sock in sockets:
            sock.close()


def timed_chat(gateway: ReferenceGateway) -> tuple[int, float]:
    started = time.monotonic()
    with httpx.Client(timeout=15) as client:
        status = client.post(gateway.base_url + "/chat/completions", json=HI, headers=AUTH).status_code
    return status, time.monotonic() - started


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server ends the connection (an end of file or a reset) within ``within`` s."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize("options,bound", [({}, 64), ({"max_idle_per_client": 1000}, 256)],
                         ids=["per-client-cap", "total-cap"])
def test_300_trickling_connections_do_not_lock_a_normal_client_out(options, bound):
    descriptors = len(os.listdir("/dev/fd"))
    with serve(**options) as gateway:  # default deadlines: the caps alone must keep a slot free
        with tricklers(gateway, 300, every=2.0):
            time.sleep(0.5)
            for _ in range(3):
                status, elapsed = timed_chat(gateway)
                assert status == 200 and elapsed < 5.0
                assert gateway.open_connections <= bound + 1
                time.sleep(1.0)
        assert wait_for(lambda: gateway.open_connections == 0, 10)
    assert wait_for(lambda: len(os.listdir("/dev/fd")) <= descriptors + 5, 10)  # nothing leaked, either side


def test_a_head_trickled_in_forever_is_cut_at_the_head_deadline():
    with serve(head_timeout=1.0, io_timeout=5.0) as gateway, tricklers(gateway, 1, every=0.2) as (sock,):
        started = time.monotonic()
        assert closed_by_server(sock, within=6.0)
        assert time.monotonic() - started < 3.5  # each byte came well within the 5 s read timeout


def test_a_body_trickled_in_forever_is_cut_at_the_body_deadline():
    with serve(body_timeout=1.0, io_timeout=5.0) as gateway:
        host, port = gateway.address
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            started = time.monotonic()
            for _ in range(25):  # a byte every 0.2 s: never idle for the read timeout
                time.sleep(0.2)
                try:
                    sock.send(b" ")
                except OSError:
                    break
            assert closed_by_server(sock, within=6.0)
            assert time.monotonic() - started < 4.0
        assert timed_chat(gateway)[0] == 200


def test_slow_bodies_give_their_slot_to_a_new_client():
    with serve(max_connections=2, io_timeout=10.0) as gateway:
        host, port = gateway.address
        slow = [socket.create_connection((host, port), timeout=5) for _ in range(2)]
        try:
            for sock in slow:  # one after the other, so slow[0] is the older: a wait starts when its thread reads the body
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                             b"Content-Length: 100\r\n\r\n{")
                time.sleep(0.3)
            status, elapsed = timed_chat(gateway)
            assert status == 200 and elapsed < 5.0
            assert closed_by_server(slow[0], within=3.0)  # the oldest waiting one gave its slot up
        finally:
            for sock in slow:
                sock.close()


def test_one_client_address_holds_at_most_its_share_of_waiting_connections():
    with serve(max_idle_per_client=3) as gateway:
        host, port = gateway.address
        held = [socket.create_connection((host, port), timeout=5) for _ in range(3)]
        try:
            time.sleep(0.2)
            newest = socket.create_connection((host, port), timeout=5)
            held.append(newest)
            assert closed_by_server(held[0], within=3.0)      # the oldest waiting one went
            newest.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert newest.recv(64).startswith(b"HTTP/1.1 200 ")
            assert wait_for(lambda: gateway.open_connections <= 3, 3)
        finally:
            for sock in held:
                sock.close()


def test_a_connection_that_is_working_is_never_evicted():
    from gonka_conformance.gateway import Faults

    with serve(max_connections=1, faults=Faults(latency_ms=800)) as gateway:
        host, port = gateway.address
        results: list[tuple[int, float]] = []
        worker = threading.Thread(target=lambda: results.append(timed_chat(gateway)))
        worker.start()
        assert wait_for(lambda: gateway.open_connections == 1, 3)
        time.sleep(0.2)
        with socket.create_connection((host, port), timeout=5) as late:
            assert late.recv(64).startswith(b"HTTP/1.1 503 ")  # the only slot is busy: refused, not stolen
        worker.join(10)
        assert results and results[0][0] == 200
