"""The proxy never hands the upstream's credentials to its clients: a hostile broker on loopback
(``hostile.py``) echoes the key the proxy sent it — in a JSON error, gzip- and deflate-encoded,
JSON-escaped, in stream events split across writes, in headers — and neither the client, nor
the proxy's log, nor its debug view ever sees the key or any 6-character piece of it. A bomb
stays within the caps; an answer with no echo is relayed byte for byte."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import time
import tracemalloc
import zlib
from typing import Any, Iterator
from urllib.parse import quote

import httpx
import pytest
from openai import OpenAI

from gonka_conformance.gateway import ReferenceGateway
from gonka_conformance.gateway.contentcoding import Decoder, TooLarge, decode_all
from gonka_conformance.gateway.echoguard import EchoGuard
from gateways import serve
from hostile import PLAIN_BODY, PLAIN_EVENTS, HostileBroker, gzip_bomb
from models import HI, KIMI

# built from parts: no key-shaped literal in the tree
KEY = "-".join(("sk", "prx", "Q7wZe4Rt9Lm2", "Vb8Nc1Xk"))          # the operator's upstream key
CLIENT = "-".join(("sk", "cli", "H3jP0sDf6Ga9"))                   # what the proxy's clients present
CAP = 1024 * 1024
REQUEST = {"model": KIMI, "messages": HI}


def fragments(secret: str, size: int = 6) -> list[str]:
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


def assert_clean(*texts: str | bytes) -> None:
    """Neither the key nor any 6-character piece of it, read raw or JSON-decoded."""
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        readings = [text]
        with contextlib.suppress(ValueError):
            readings.append(json.dumps(json.loads(text), ensure_ascii=False))
        for reading in readings:
            for piece in fragments(KEY):
                assert piece not in reading, f"{piece!r} reached the client: {reading[:300]!r}"
        assert CLIENT not in text


@contextlib.contextmanager
def proxied(mode: str, **options: Any) -> Iterator[tuple[HostileBroker, ReferenceGateway, io.StringIO]]:
    log = io.StringIO()
    options = {"upstream_max_bytes": CAP, "upstream_max_stream_bytes": CAP, "upstream_timeout": 20, **options}
    with HostileBroker(mode, max_seconds=20) as broker, serve(upstream=broker.base_url, upstream_key=KEY, api_key=CLIENT,
                                                              log=log, debug_endpoint=True, **options) as proxy:
        yield broker, proxy, log


def post(proxy: ReferenceGateway, stream: bool = False) -> httpx.Response:
    return httpx.post(proxy.base_url + "/chat/completions", json={**REQUEST, "stream": stream}, timeout=30,
                      headers={"Authorization": f"Bearer {CLIENT}"})


def seen_by_the_proxy(proxy: ReferenceGateway, log: io.StringIO) -> list[str]:
    return [log.getvalue(), httpx.get(proxy.debug_url, timeout=10).text]


@pytest.mark.parametrize("mode, status", [("key-echo-message", 400), ("key-echo-gzip", 401), ("key-echo-deflate", 401),
                                          ("key-echo-escaped", 401), ("key-echo-5xx", 500), ("key-echo-body", 200)])
def test_an_echoed_key_is_masked_in_a_relayed_answer(mode, status):
    with proxied(mode) as (broker, proxy, log):
        response = post(proxy)
        seen = seen_by_the_proxy(proxy, log)
    assert broker.chat_requests == 1 and response.status_code == status
    assert "content-encoding" not in response.headers  # decoded: what the client reads is what was checked
    assert int(response.headers["content-length"]) == len(response.content)
    assert "***" in response.text
    assert_clean(response.content, *seen)


def test_the_escaped_echo_keeps_the_rest_of_the_answer():
    with proxied("key-echo-escaped") as (_broker, proxy, _log):
        body = post(proxy).json()
    assert body["error"]["message"] == "Incorrect API key provided: ***" and body["error"]["param"] == "***"
    assert json.loads(body["error"]["raw"]) == {"key": "***"}


@pytest.mark.parametrize("mode", ["key-echo-stream", "key-echo-split-stream", "key-echo-gzip-stream"])
def test_an_echoed_key_is_masked_in_a_relayed_stream(mode):
    with proxied(mode) as (_broker, proxy, log):
        with httpx.stream("POST", proxy.base_url + "/chat/completions", json={**REQUEST, "stream": True}, timeout=30,
                          headers={"Authorization": f"Bearer {CLIENT}"}) as response:
            assert response.status_code == 200 and "content-encoding" not in response.headers
            received = b"".join(response.iter_raw())
        seen = seen_by_the_proxy(proxy, log)
    assert received.count(b"***") >= 2
    if mode != "key-echo-stream":
        assert received.endswith(b"data: [DONE]\n\n") and b"echo *** and ***" in received
    assert_clean(received, *seen)


def test_a_masked_stream_is_still_relayed_as_it_arrives():
    with proxied("gated-stream") as (broker, proxy, _log):
        with httpx.stream("POST", proxy.base_url + "/chat/completions", json={**REQUEST, "stream": True}, timeout=30,
                          headers={"Authorization": f"Bearer {CLIENT}"}) as response:
            pieces = response.iter_raw()
            first = next(pieces)
            broker.gate.set()  # the upstream sends the rest only now
            rest = b"".join(pieces)
    assert first == b'data: {"choices":[{"delta":{"content":"first ***"}}]}\n\n' and rest == b"data: [DONE]\n\n"
    assert broker.gate_opened  # the first event arrived while the upstream was still waiting


def test_an_echoed_key_is_masked_in_every_header():
    with proxied("key-echo-header") as (_broker, proxy, log):
        response = post(proxy)
        seen = seen_by_the_proxy(proxy, log)
    assert response.status_code == 200
    assert response.headers["x-echo-authorization"] == "Bearer ***" and response.headers["x-echo-quoted"] == "***"
    assert "api_key=***" in response.headers["link"]
    assert_clean("\n".join(f"{k}: {v}" for k, v in response.headers.multi_items()), *seen)


def test_a_gzip_bomb_is_a_502_in_bounded_time_and_memory():
    gzip_bomb()  # built before measuring (512 MiB of zeros, about 0.5 MB compressed)
    with proxied("gzip-bomb-body") as (_broker, proxy, log):
        # the peak of what this request allocated (the proxy runs in this process), not the
        # process's lifetime peak, which an earlier test may already have set higher
        tracemalloc.start()
        try:
            started = time.monotonic()
            response = post(proxy)
            elapsed = time.monotonic() - started
            grown_mib = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
        finally:
            tracemalloc.stop()
    assert response.status_code == 502 and f"exceeds {CAP} bytes" in response.json()["error"]["message"]
    assert elapsed < 10 and grown_mib < 16  # the caps are 1 MiB raw and decoded; about 2 MiB seen


@pytest.mark.parametrize("mode", ["gzip-bomb-stream", "gzip-text-bomb-stream"])
def test_a_gzip_bomb_stream_is_cut_at_the_cap(mode):
    gzip_bomb()
    with proxied(mode) as (_broker, proxy, _log):
        received, started = 0, time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("POST", proxy.base_url + "/chat/completions", json={**REQUEST, "stream": True}, timeout=30,
                              headers={"Authorization": f"Bearer {CLIENT}"}) as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received += len(piece)
    # zeros are cut at their first decoded piece (NUL bytes: not UTF-8 text the guard can check);
    # text is relayed up to the decoded cap, then cut
    assert (received == 0 if mode == "gzip-bomb-stream" else 0 < received <= CAP) and time.monotonic() - started < 10


def test_an_encoding_the_proxy_cannot_check_is_a_502():
    with proxied("brotli-body") as (_broker, proxy, log):
        response = post(proxy)
        seen = seen_by_the_proxy(proxy, log)
    assert response.status_code == 502 and "Content-Encoding cannot be checked" in response.json()["error"]["message"]
    assert_clean(response.content, *seen)


def test_an_answer_encoded_too_many_times_is_a_502_not_an_internal_error():
    with proxied("stacked-gzip") as (_broker, proxy, log):
        started = time.monotonic()
        response = post(proxy)
        elapsed = time.monotonic() - started
        seen = seen_by_the_proxy(proxy, log)
    assert response.status_code == 502 and "Content-Encoding cannot be checked" in response.json()["error"]["message"]
    assert elapsed < 10
    assert_clean(response.content, *seen)


def test_an_answer_without_echo_is_relayed_byte_for_byte():
    with proxied("plain") as (_broker, proxy, _log):
        response = post(proxy)
        with httpx.stream("POST", proxy.base_url + "/chat/completions", json={**REQUEST, "stream": True}, timeout=30,
                          headers={"Authorization": f"Bearer {CLIENT}"}) as streamed:
            received = b"".join(streamed.iter_raw())
    assert response.content == PLAIN_BODY and received == b"".join(PLAIN_EVENTS)


def test_the_openai_sdk_works_through_a_proxy_holding_the_upstream_key():
    with serve(api_key=KEY) as broker, serve(upstream=broker.base_url, upstream_key=KEY, api_key=CLIENT) as proxy:
        client = OpenAI(base_url=proxy.base_url, api_key=CLIENT, max_retries=0, timeout=10)
        reply = client.chat.completions.create(model=KIMI, messages=HI)
        chunks = list(client.chat.completions.create(model=KIMI, messages=HI, stream=True,
                                                     stream_options={"include_usage": True}))
    assert reply.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].usage is not None


# --- the pieces on their own --------------------------------------------------------------------


def test_a_key_split_at_every_position_is_masked_and_nothing_else_changes():
    guard = EchoGuard([KEY])
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    for spelling in (KEY, escaped, KEY.replace("-", "%2d"), KEY.replace("-", "\\\\u002D")):
        text = f'data: {{"a":"x {spelling} y \\n"}}\n\n'.encode()
        for cut in range(len(text) + 1):
            masker = guard.stream()
            out = masker.feed(text[:cut]) + masker.feed(text[cut:]) + masker.finish()
            assert out == b'data: {"a":"x *** y \\n"}\n\n', (spelling, cut)
    masker = guard.stream()
    assert masker.feed(b'data: {"a":"sk-"}\n\n') == b'data: {"a":"sk-"}\n\n'  # a whole event waits for nothing


def test_the_guard_ignores_short_values_and_leaves_clean_bytes_alone():
    guard = EchoGuard(["u", KEY])
    body = b'{"u":"\\u00e9 \\/ %41 sk-prx u"}'
    assert guard.mask(body) == body and guard.secrets == [KEY]


def test_decoding_stops_at_the_cap():
    bomb = gzip_bomb()
    decoder = Decoder("gzip", CAP)
    with pytest.raises(TooLarge):
        for _ in decoder.feed(bomb):
            pass
    assert decode_all("gzip, deflate", zlib.compress(gzip.compress(b"ok")), CAP) == b"ok"


def test_every_spelling_of_a_non_ascii_secret_is_masked():
    secret = "".join(("p\u00e4", "ss/w\u00f6rd ", "\U0001f600-x"))  # a query value or password may hold any character
    guard = EchoGuard([secret])
    quoted = quote(secret, safe="")
    for spelling in (secret, json.dumps(secret)[1:-1], json.dumps(secret).replace("/", "\\/")[1:-1], quoted,
                     quoted.lower(), quote(secret).replace("%20", "+")):
        assert guard.mask(f"<{spelling}>".encode()) == b"<***>", spelling


def test_a_multi_member_gzip_answer_is_decoded_once_however_it_is_split():
    # the first member inflates past one output piece (CHUNK), so its end is found by a call
    # that was handed the second member too; that member must be decoded once, not twice
    first, second = b"a" * (3 * 64 * 1024), b"second member " * 100
    encoded = gzip.compress(first) + gzip.compress(second)
    for size in (1, 7, 139, 766, 5000, len(encoded)):
        decoder = Decoder("gzip", CAP)
        pieces = [encoded[i:i + size] for i in range(0, len(encoded), size)]
        out = b"".join([piece for part in pieces for piece in decoder.feed(part)] + list(decoder.finish()))
        assert out == first + second, size


def _utf16_readings(data: bytes) -> list[str]:
    """What a client could read from bytes in UTF-16 (json.loads on bytes detects it)."""
    readings = []
    for encoding in ("utf-16-le", "utf-16-be"):
        readings.append(data.decode(encoding, errors="replace"))
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            readings.append(json.dumps(json.loads(data)))
    return readings


def test_an_answer_in_utf16_is_refused_not_relayed_unchecked():
    with proxied("key-echo-utf16") as (broker, proxy, log):
        started = time.monotonic()
        response = post(proxy)
        seen = seen_by_the_proxy(proxy, log)
    assert broker.chat_requests == 1 and response.status_code == 502 and time.monotonic() - started < 10
    assert "cannot be checked for echoed credentials" in response.json()["error"]["message"]
    assert_clean(response.content, *seen, *_utf16_readings(response.content))


def test_a_stream_turning_to_utf16_is_cut_before_the_key():
    with proxied("key-echo-utf16-stream") as (_broker, proxy, log):
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("POST", proxy.base_url + "/chat/completions", json={**REQUEST, "stream": True}, timeout=30,
                              headers={"Authorization": f"Bearer {CLIENT}"}) as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received += piece
        seen = seen_by_the_proxy(proxy, log)
    assert b"first" in received and b"\x00" not in received  # the UTF-8 event came through, the rest did not
    assert_clean(received, *seen, *_utf16_readings(received))


@pytest.mark.parametrize("content_type, data, refused", [
    ("application/json", b'{"a":1}', False),
    ("application/json; charset=utf-8", b'{"a":1}', False),
    ('text/plain; charset="UTF-8"', b"ok", False),
    ("application/json; charset=utf-16", b'{"a":1}', True),
    ("application/json", '{"a":1}'.encode("utf-16"), True),       # with a byte-order mark
    ("application/json", '{"a":1}'.encode("utf-16-be"), True),    # NUL bytes, no mark
    ("application/json", '{"a":1}'.encode("utf-32-le"), True),
    ("application/json", "é中".encode("utf-8"), False),
])
def test_what_counts_as_not_utf8(content_type, data, refused):
    from gonka_conformance.gateway.echoguard import not_utf8

    assert not_utf8(content_type, data) is refused
