"""Lint every outgoing chat-completions request of an httpx-based client before it leaves.

Run it as is (no broker, no key, no network: a stand-in transport answers):

    python examples/httpx_lint_hook.py

or against a real broker (the API key is sent as a header and never read by the hook):

    GONKA_BASE_URL=https://<broker>/v1 GONKA_API_KEY=... python examples/httpx_lint_hook.py

The hook raises ``GonkaLintError`` for a request the gateway would reject (``on_error="raise"``)
and logs the silent changes (strips, clamps, forced values) at WARNING.
"""

from __future__ import annotations

import logging
import os

import httpx

from gonka_conformance.lint.hook import GonkaLintError, LintHook

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
BASE_URL = os.environ.get("GONKA_BASE_URL", "http://127.0.0.1:9/v1")
API_KEY = os.environ.get("GONKA_API_KEY", "sk-example")
MODEL = os.environ.get("GONKA_MODEL", "moonshotai/Kimi-K2.6")


def transport_kwargs(module=httpx) -> dict:
    """Offline, a stand-in transport answers what a broker would."""
    if "GONKA_BASE_URL" in os.environ:
        return {}

    def stand_in(request):
        return module.Response(200, json={
            "id": "devshard-1-1", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})

    return {"transport": module.MockTransport(stand_in)}


def with_httpx() -> None:
    hook = LintHook(on_error="raise")  # model=, revision=, profile= select what to lint against
    client = httpx.Client(base_url=BASE_URL, headers={"Authorization": f"Bearer {API_KEY}"},
                          event_hooks={"request": [hook]}, **transport_kwargs())
    ok = client.post("/chat/completions", json={"model": MODEL, "max_tokens": 100, "messages": [
        {"role": "user", "content": "Say hello."}]})  # accepted, but Kimi's budget is forced: logged
    print("httpx: sent;", ok.json()["choices"][0]["message"]["content"])
    try:
        client.post("/chat/completions", json={"model": MODEL, "tags": ["hermes"], "messages": [
            {"role": "user", "content": "Say hello."}]})
    except GonkaLintError as error:
        print("httpx: not sent:", error.findings[0].rule, "-", error.findings[0].fix.description)


def with_the_openai_sdk() -> None:
    try:
        import openai
    except ImportError:
        print("openai: not installed (pip install openai)")
        return
    import inspect

    # Recent SDKs are built on the httpx2 fork; older ones on httpx. The hook works with both.
    annotation = str(inspect.signature(openai.OpenAI.__init__).parameters["http_client"].annotation)
    if "httpx2" in annotation:
        import httpx2 as module
    else:
        module = httpx
    http_client = module.Client(event_hooks={"request": [LintHook()]}, **transport_kwargs(module))
    client = openai.OpenAI(base_url=BASE_URL, api_key=API_KEY, http_client=http_client, max_retries=0)
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Say hello."}])
    print("openai: sent;", reply.choices[0].message.content)
    try:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Say hello."}],
                                       extra_body={"guided_json": {"type": "object"}})
    except GonkaLintError as error:
        print("openai: not sent:", ", ".join(f.rule for f in error.findings))


if __name__ == "__main__":
    with_httpx()
    with_the_openai_sdk()
