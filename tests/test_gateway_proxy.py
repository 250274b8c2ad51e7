"""The lint-and-forward proxy end to end, against a second local ``serve`` standing in for the
broker: findings printed live, exact local 400s with --block-rejects, streams relayed, the
client's key forwarded and never printed, recorded or echoed."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from gonka_conformance.engine.pipeline import normalize
from gonka_conformance.gateway import ReferenceGateway
from gateways import serve
from gonka_conformance.common.redact import Redactor
from models import HI, KIMI

PLANTED = "sk-planted-7f3a9c1e5b2d4f60aa81"   # the broker key: must never appear in any output
ADMIN = "sk-admin-planted-0c4e2b"




@pytest.fixture(scope="module")
def broker() -> Iterator[ReferenceGateway]:
    with serve(api_key=PLANTED, admin_key=ADMIN, debug_endpoint=True) as gateway:
        yield gateway


@contextlib.contextmanager
def proxy_for(broker: ReferenceGateway, **options) -> Iterator[tuple[ReferenceGateway, io.StringIO]]:
    log = io.StringIO()
    with serve(upstream=broker.base_url, log=log, debug_endpoint=True, **options) as gateway:
        yield gateway, log


def broker_requests(broker: ReferenceGateway) -> list[dict]:
    return httpx.get(broker.debug_url, headers={"Authorization": f"Bearer {ADMIN}"}).json()["requests"]


def test_forwards_with_the_clients_key_and_prints_findings(broker, capsys):
    with proxy_for(broker) as (proxy, log):
        client = OpenAI(base_url=proxy.base_url, api_key=PLANTED, max_retries=0, timeout=10)
        before = len(broker_requests(broker))
        reply = client.chat.completions.create(model=KIMI, messages=HI, extra_body={"store": True, "plugins": [{"id": "web"}]})
        assert reply.id.startswith("devshard-") and reply.choices[0].message.content
        forwarded = broker_requests(broker)[before:]
        assert len(forwarded) == 1 and forwarded[0]["status"] == 200  # the broker accepted the key
        stream = client.chat.completions.create(model=KIMI, messages=HI, stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        assert chunks[-1].usage is not None and chunks[0].choices[0].delta.role == "assistant"
        models = client.models.list()
        assert KIMI in [m.id for m in models]
        with pytest.raises(openai.AuthenticationError):
            OpenAI(base_url=proxy.base_url, api_key="sk-wrong", max_retries=0).chat.completions.create(model=KIMI, messages=HI)
        record = httpx.get(proxy.debug_url).json()["requests"]
    output = log.getvalue()
    assert "strip-store" in output and "strip-plugins" in output and "POST /v1/chat/completions" in output
    assert "-> 200" in output and "-> 401" in output
    captured = capsys.readouterr()
    for text in (output, captured.out, captured.err, json.dumps(record)):
        assert PLANTED not in text and ADMIN not in text
    assert record[0]["received"] and record[0]["forwarded"]["stream"] is True  # what the agent sent, and what Gonka forwards


def test_rejected_request_is_forwarded_by_default_and_relayed_exactly(broker):
    body = {"model": KIMI, "messages": HI, "tags": ["session:1"]}
    expected = normalize(json.dumps(body).encode())
    with proxy_for(broker) as (proxy, log):
        before = len(broker_requests(broker))
        response = httpx.post(proxy.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {PLANTED}"})
        assert len(broker_requests(broker)) == before + 1  # reached the broker
    assert response.status_code == 400 and response.json() == {"error": {"message": expected.message}}
    assert response.headers["content-type"] == "text/plain; charset=utf-8"  # relayed as the broker sent it
    assert "reject-tags" in log.getvalue() and "error" in log.getvalue()


def test_block_rejects_answers_locally_with_the_exact_gateway_error(broker):
    body = {"model": KIMI, "messages": HI, "tags": ["session:1"]}
    expected = normalize(json.dumps(body).encode())
    with proxy_for(broker, block_rejects=True) as (proxy, log):
        before = len(broker_requests(broker))
        response = httpx.post(proxy.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {PLANTED}"})
        assert len(broker_requests(broker)) == before  # never reached the broker
        ok = httpx.post(proxy.base_url + "/chat/completions", json={"messages": HI}, headers={"Authorization": f"Bearer {PLANTED}"})
        assert ok.status_code == 200 and len(broker_requests(broker)) == before + 1
    assert response.status_code == expected.status == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == json.dumps({"error": {"message": expected.message}}, separators=(",", ":")) + "\n"
    assert "blocked locally" in log.getvalue() and PLANTED not in log.getvalue()


def test_unreachable_upstream_is_a_502_without_secrets():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = io.StringIO()
    with serve(upstream=f"http://user:{ADMIN}@127.0.0.1:{port}/v1", api_key=PLANTED, log=log) as proxy:
        response = httpx.post(proxy.base_url + "/chat/completions", json={"messages": HI},
                              headers={"Authorization": f"Bearer {PLANTED}"})
    assert response.status_code == 502 and "upstream" in response.json()["error"]["message"]
    for text in (response.text, log.getvalue()):
        assert PLANTED not in text and ADMIN not in text and "user:" not in text


def test_redact_url():
    assert Redactor.url("https://u:secret@broker.example:8443/v1?api_key=abc") == "https://broker.example:8443/v1"


def test_cut_upstream_stream_ends_the_relayed_stream(broker):
    from gonka_conformance.gateway import Faults

    with serve(faults=Faults(cut_rate=1.0)) as flaky, proxy_for(flaky) as (proxy, _log):
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("POST", proxy.base_url + "/chat/completions", headers={"Authorization": "Bearer k"},
                              json={"messages": [{"role": "user", "content": "Write 200 words"}], "stream": True}) as response:
                for piece in response.iter_bytes():
                    received += piece
        assert b"[DONE]" not in received
        assert httpx.get(proxy.base_url + "/models").status_code == 200  # the proxy is fine


def test_an_oversized_body_is_answered_locally_with_the_catalogue_message(broker):
    rule = broker.catalogue.by_id["limit-body-size"]
    status, message = rule.status, rule.messages["default"]
    with proxy_for(broker) as (proxy, log):
        big = b'{"messages":[{"role":"user","content":"' + b"x" * (proxy.rules.body_limit + 10) + b'"}]}'
        response = httpx.post(proxy.base_url + "/chat/completions", content=big, timeout=30,
                              headers={"Authorization": f"Bearer {PLANTED}", "Content-Type": "application/json"})
    assert response.status_code == status and response.json()["error"]["message"] == message
    assert message in log.getvalue() and "answered locally)" not in log.getvalue()
