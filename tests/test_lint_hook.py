"""The httpx request hook: lints outgoing chat requests of any httpx-style client (httpx, and the
httpx2 fork the OpenAI SDK is built on) before they leave; nothing here touches a network."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from gonka_conformance.lint import lint
from gonka_conformance.lint.hook import GonkaLintError, LintHook, install
from models import KIMI, PLAIN

SECRET = "sk-test-NEVER-LOGGED"

COMPLETION = {"id": "devshard-1-1", "object": "chat.completion", "created": 0, "model": PLAIN,
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "hello"}}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def transport(sent: list[bytes], module: Any = httpx) -> Any:
    def handler(request: Any) -> Any:
        sent.append(request.content)
        return module.Response(200, json=COMPLETION)
    return module.MockTransport(handler)


def test_hook_raises_before_a_rejected_request_leaves(caplog) -> None:
    sent: list[bytes] = []
    hook = LintHook()
    client = httpx.Client(transport=transport(sent), event_hooks={"request": [hook]},
                          headers={"Authorization": f"Bearer {SECRET}"})
    with caplog.at_level(logging.WARNING, logger="gonka_conformance.lint"):
        with pytest.raises(GonkaLintError) as error:
            client.post("http://127.0.0.1:9/v1/chat/completions",
                        json={"model": PLAIN, "messages": [{"role": "user", "content": "hi"}], "tags": ["x"]})
    assert sent == []  # never sent
    assert [f.rule for f in error.value.findings] == ["reject-tags"]
    assert "reject-tags at /tags" in str(error.value)
    assert "reject-tags" in caplog.text and SECRET not in caplog.text


def test_hook_logs_warnings_and_lets_clean_requests_through(caplog) -> None:
    sent: list[bytes] = []
    hook = LintHook(on_error="log")
    client = httpx.Client(transport=transport(sent), event_hooks={"request": [hook]})
    with caplog.at_level(logging.INFO, logger="gonka_conformance.lint"):
        client.post("http://127.0.0.1:9/v1/chat/completions",
                    json={"model": PLAIN, "messages": [{"role": "user", "content": "hi"}], "store": True, "tags": []})
        client.get("http://127.0.0.1:9/v1/models")
        client.post("http://127.0.0.1:9/v1/embeddings", json={"input": "x", "tags": ["x"]})
    assert len(sent) == 3
    assert "strip-store" in caplog.text and "reject-tags" in caplog.text  # logged, not raised
    assert {f.rule for f in hook.last} == {"strip-store", "reject-tags"}


def test_hook_ignores_bodies_it_cannot_read(caplog) -> None:
    sent: list[bytes] = []
    client = httpx.Client(transport=transport(sent), event_hooks={"request": [LintHook()]})
    with caplog.at_level(logging.WARNING, logger="gonka_conformance.lint"):
        client.post("http://127.0.0.1:9/v1/chat/completions", content=b"not json")
    assert sent == [b"not json"] and "not linted" in caplog.text


def test_install_on_an_async_client() -> None:
    sent: list[bytes] = []

    async def go() -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.content)
            return httpx.Response(200, json=COMPLETION)

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            install(client)
            await client.post("http://127.0.0.1:9/v1/chat/completions",
                              json={"model": PLAIN, "messages": [{"role": "user", "content": "hi"}]})
            with pytest.raises(GonkaLintError):
                await client.post("http://127.0.0.1:9/v1/chat/completions",
                                  json={"model": PLAIN, "messages": [{"role": "user", "content": "hi"}],
                                        "guided_json": {}})

    asyncio.run(go())
    assert len(sent) == 1


# --- the OpenAI Python SDK ---------------------------------------------------------------------------



def sdk_client(sent: list[bytes], hook: LintHook | None = None) -> Any:
    """An OpenAI client whose HTTP client (httpx or httpx2, whichever the SDK uses) never leaves
    the process. Only the SDK tests need openai: the httpx-only tests run without it."""
    import inspect

    openai = pytest.importorskip("openai")
    annotation = str(inspect.signature(openai.OpenAI.__init__).parameters["http_client"].annotation)
    module: Any = httpx
    if "httpx2" in annotation:
        module = pytest.importorskip("httpx2")
    hooks = {"request": [hook]} if hook else {}
    http = module.Client(transport=transport(sent, module), event_hooks=hooks)
    return openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=SECRET, http_client=http, max_retries=0)


SDK_CALLS: dict[str, dict[str, Any]] = {
    "plain": {"model": PLAIN, "messages": [{"role": "user", "content": "hi"}]},
    "kimi-chat": {"model": KIMI, "messages": [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "hi"}], "max_tokens": 1024},
    "sampling": {"model": PLAIN, "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "top_p": 0.9,
                 "seed": 1, "user": "u", "stop": ["END"], "n": 1, "presence_penalty": 0},
    "tools": {"model": PLAIN, "messages": [{"role": "user", "content": "weather?"}], "tool_choice": "auto",
              "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]},
    "json-mode": {"model": PLAIN, "messages": [{"role": "user", "content": "json please"}],
                  "response_format": {"type": "json_object"}, "max_completion_tokens": 500},
}


@pytest.mark.parametrize("name", sorted(SDK_CALLS))
def test_payloads_the_openai_sdk_sends_are_clean(name: str) -> None:
    sent: list[bytes] = []
    client = sdk_client(sent)
    client.chat.completions.create(**SDK_CALLS[name])
    assert len(sent) == 1
    findings = lint(sent[0])
    assert findings == [], [(f.rule, f.pointer, f.message) for f in findings]


def test_the_hook_in_the_openai_sdk_stops_a_rejected_request() -> None:
    sent: list[bytes] = []
    client = sdk_client(sent, LintHook())
    with pytest.raises(Exception) as error:  # GonkaLintError, possibly wrapped by the SDK
        client.chat.completions.create(model=PLAIN, messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"tags": ["hermes"]})
    cause: BaseException | None = error.value
    while cause is not None and not isinstance(cause, GonkaLintError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, GonkaLintError) and cause.findings[0].rule == "reject-tags"
    assert sent == []
    client.chat.completions.create(model=PLAIN, messages=[{"role": "user", "content": "hi"}])
    assert len(sent) == 1 and json.loads(sent[0])["model"] == PLAIN


def test_the_documented_example_runs_offline() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "httpx_lint_hook.py"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GONKA_") or k == "GONKA_CONFORMANCE_CACHE_DIR"}  # (the test run's cache)
    done = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "httpx: not sent: reject-tags" in done.stdout
    assert "openai: not installed" in done.stdout or "openai: not sent: reject-guided-decoding" in done.stdout
