"""The OpenAI SDK, natively: ``wrap(client)`` and ``http_client()`` against the reference
gateway started in-test — sync, async and streaming. A payload the gateway rejects raises the
SDK's own ``BadRequestError`` (a subclass, with the rule id and the gateway's message) and no
byte reaches the transport; clean requests go through untouched; nothing is logged by
default; secrets never appear in the error or the logs."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from gateways import serve  # noqa: E402

from gonka_conformance.lint import http_client, lint, wrap  # noqa: E402
from gonka_conformance.lint.sdk import error_class  # noqa: E402
from models import HI, KIMI

MODEL = KIMI  # served by the reference gateway in the newest revision
KEY = "sk-test-NOT-A-REAL-KEY-abcdef0123456789"
TAGS = {"tags": ["product=hermes-agent"]}


def _counting(client: Any) -> list[bytes]:
    """Put a counter under the client's transport: what the linter lets through reaches it."""
    sent: list[bytes] = []
    inner = client._client._transport
    module = sys.modules[type(inner).__module__.split(".")[0]]
    if hasattr(inner, "handle_async_request"):
        class AsyncCounting(module.AsyncBaseTransport):
            async def handle_async_request(self, request: Any) -> Any:
                sent.append(await request.aread())
                return await inner.handle_async_request(request)

            async def aclose(self) -> None:
                await inner.aclose()

        client._client._transport = AsyncCounting()
    else:
        class Counting(module.BaseTransport):
            def handle_request(self, request: Any) -> Any:
                sent.append(request.read())
                return inner.handle_request(request)

            def close(self) -> None:
                inner.close()

        client._client._transport = Counting()
    return sent


@pytest.fixture(scope="module")
def base_url() -> Any:
    with serve() as gateway:
        yield gateway.base_url


def _check_rejection(error: Any) -> None:
    assert isinstance(error, openai.BadRequestError) and isinstance(error, error_class())
    assert error.status_code == 400 and error.rule == "reject-tags" and error.code == "reject-tags"
    assert error.param == "/tags"
    assert 'Chat completions parameter "tags" is currently rejected by the Gonka network' in error.message
    assert error.findings[0]["rule"] == "reject-tags"
    assert KEY not in str(error) and KEY not in repr(error.body)


@pytest.mark.parametrize("stream", [False, True])
def test_sync_client_rejects_before_sending_and_passes_clean_requests(base_url: str, stream: bool) -> None:
    client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=2)
    sent = _counting(client)
    assert wrap(client) is client
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS, stream=stream)
    _check_rejection(raised.value)
    assert sent == []  # nothing left the process, and the SDK did not retry
    reply = client.chat.completions.create(model=MODEL, messages=HI, stream=stream)
    if stream:
        chunks = list(reply)
        assert chunks and any(c.choices and c.choices[0].delta.content for c in chunks)
    else:
        assert reply.choices[0].message.content
    assert len(sent) == 1 and lint(sent[0]) == []


@pytest.mark.parametrize("stream", [False, True])
def test_async_client_rejects_before_sending_and_passes_clean_requests(base_url: str, stream: bool) -> None:
    async def go() -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=2)
        sent = _counting(client)
        wrap(client)
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS, stream=stream)
        _check_rejection(raised.value)
        assert sent == []
        reply = await client.chat.completions.create(model=MODEL, messages=HI, stream=stream)
        if stream:
            chunks = [chunk async for chunk in reply]
            assert chunks
        else:
            assert reply.choices[0].message.content
        assert len(sent) == 1
        await client.close()

    asyncio.run(asyncio.wait_for(go(), timeout=60))


def test_http_client_factory_gives_the_sdks_plain_bad_request(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key=KEY, http_client=http_client(), max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS)
    assert raised.value.code == "reject-tags" and "currently rejected" in raised.value.message
    assert client.chat.completions.create(model=MODEL, messages=HI).choices

    async def go() -> None:
        aclient = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, http_client=http_client(async_client=True),
                                     max_retries=0)
        with pytest.raises(openai.BadRequestError):
            await aclient.chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS)
        await aclient.close()

    asyncio.run(asyncio.wait_for(go(), timeout=60))


def test_warnings_go_through_and_nothing_is_logged_by_default(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    client = wrap(openai.OpenAI(base_url=base_url, api_key=KEY))
    with caplog.at_level(logging.DEBUG, logger="gonka_conformance.lint"):
        reply = client.chat.completions.create(model=KIMI, messages=HI, max_tokens=32000)
    assert reply.choices
    assert [f.rule for f in client.gonka_lint.last if f.rule == "cap-max-tokens"] == ["cap-max-tokens"]
    assert caplog.records == []


def test_logging_when_asked(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    client = wrap(openai.OpenAI(base_url=base_url, api_key=KEY), log_level="warning")
    with caplog.at_level(logging.DEBUG, logger="gonka_conformance.lint"):
        client.chat.completions.create(model=KIMI, messages=HI, max_tokens=32000)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS)
    messages = [record.getMessage() for record in caplog.records]
    assert any("cap-max-tokens" in m for m in messages) and any("reject-tags" in m for m in messages)
    assert all(KEY not in m for m in messages)


def test_existing_handlers_catch_it_and_other_endpoints_are_untouched(base_url: str) -> None:
    client = wrap(openai.OpenAI(base_url=base_url, api_key=KEY))
    caught = None
    try:
        client.chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS)
    except openai.APIStatusError as exc:  # the broadest handler SDK users write
        caught = exc
    assert caught is not None and caught.status_code == 400
    assert client.models.list().data  # GET /v1/models is not a chat request: not linted


def test_wrap_refuses_what_is_not_an_sdk_client_and_unknown_profiles() -> None:
    with pytest.raises(TypeError):
        wrap(object())
    with pytest.raises(ValueError):
        wrap(openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=KEY), profile="no-such-broker")


def test_a_copy_with_options_still_lints() -> None:
    client = wrap(openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=KEY, max_retries=0))
    with pytest.raises(openai.BadRequestError) as raised:  # port 9: had it been sent, a connection error
        client.with_options(timeout=5).chat.completions.create(model=MODEL, messages=HI, extra_body=TAGS)
    assert raised.value.code == "reject-tags"
