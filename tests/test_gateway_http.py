"""The reference gateway over real loopback sockets, driven by the official OpenAI SDK and by
plain httpx: chat, streaming, tools, extra_body; every reject family with the upstream status,
content type and exact message; token rules observable; models, status, admin, debug view."""

from __future__ import annotations

import json
import re
from typing import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.pipeline import limits_for, normalize, render
from gonka_conformance.gateway import DisabledMode, ReferenceGateway
from gateways import serve
from models import CATALOGUE, DEEPSEEK, GLM, HI, KIMI, MINIMAX, QWEN

KEY, ADMIN = "sk-test-user-4b1d", "sk-admin-test-77aa"
ID = re.compile(r"^devshard-[0-9]+-[0-9]+$")
WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]




@pytest.fixture(scope="module")
def gw() -> Iterator[ReferenceGateway]:
    with serve(admin_key=ADMIN, debug_endpoint=True, admin_only_models=(GLM,)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def old() -> Iterator[ReferenceGateway]:
    with serve(revision="2026-05", debug_endpoint=True) as gateway:
        yield gateway


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def sdk(gateway: ReferenceGateway, key: str = KEY) -> OpenAI:
    return OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0, timeout=10.0)


def post(client: httpx.Client, gateway: ReferenceGateway, body, key: str | None = KEY, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, (bytes, str)):
        return client.post(gateway.base_url + "/chat/completions", content=body, headers=headers, **kw)
    return client.post(gateway.base_url + "/chat/completions", json=body, headers=headers, **kw)


def assert_gateway_error(response: httpx.Response, status: int, message: str) -> None:
    """http.Error: text/plain JSON {"error":{"message"}} with a newline and nosniff (§5.1)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text.endswith("}\n")
    assert response.json() == {"error": {"message": message}}


def catalogue_message(rule_id: str, **params) -> str:
    return render(CATALOGUE.by_id[rule_id].messages["default"], params)


# --- the OpenAI SDK -------------------------------------------------------------------------


def test_sdk_plain_chat(gw):
    reply = sdk(gw).chat.completions.create(model=KIMI, messages=[{"role": "user", "content": "Write 20 words about rivers"}], max_tokens=400)
    assert ID.match(reply.id) and reply.object == "chat.completion" and reply.model == KIMI
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and choice.message.content
    assert reply.usage.completion_tokens_details.reasoning_tokens == 200  # Kimi: max_tokens/2 spent first
    assert reply.choices[0].logprobs is None


def test_sdk_streamed_chat_with_usage(gw):
    stream = sdk(gw).chat.completions.create(model=MINIMAX, messages=[{"role": "user", "content": "Write 30 words"}],
                                             stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("<think>\n") and "</think>" in text  # MiniMax thinks inside content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert {c.id for c in chunks} == {chunks[0].id} and ID.match(chunks[0].id)


def test_sdk_tool_calls_plain_and_streamed(gw):
    client = sdk(gw)
    reply = client.chat.completions.create(model=KIMI, messages=[{"role": "user", "content": "Call get_weather for 'Oslo'"}],
                                           tools=WEATHER, extra_body={"thinking": {"type": "disabled"}})
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.id == "functions.get_weather:0" and json.loads(call.function.arguments) == {"city": "Oslo"}
    stream = client.chat.completions.create(model=DEEPSEEK, messages=[{"role": "user", "content": "Call get_weather for 'Oslo'"}],
                                            tools=WEATHER, stream=True)
    ids, arguments, finish = set(), "", None
    for chunk in stream:
        for c in chunk.choices:
            for delta in c.delta.tool_calls or ():
                ids.add(delta.id) if delta.id else None
                arguments += delta.function.arguments or "" if delta.function else ""
            finish = c.finish_reason or finish
    assert finish == "tool_calls" and json.loads(arguments) == {"city": "Oslo"}
    assert len(ids) == 1 and re.fullmatch(r"chatcmpl-tool-[0-9a-f]{32}", ids.pop())


def test_sdk_extra_body_and_errors(gw):
    client = sdk(gw)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=KIMI, messages=HI, extra_body={"tags": ["x"]})
    assert bad.value.status_code == 400 and 'parameter "tags"' in bad.value.message
    with pytest.raises(openai.AuthenticationError) as denied:
        sdk(gw, key="sk-not-admin").chat.completions.create(model=GLM, messages=HI)  # admin-only model
    assert denied.value.status_code == 401 and "requires an admin API key" in denied.value.message
    with pytest.raises(openai.BadRequestError) as unknown:
        client.chat.completions.create(model="moonshotai/kimi-k2.6", messages=HI)  # ids are case-sensitive
    assert "unsupported model" in unknown.value.message


def test_sdk_models_list(gw):
    assert [m.id for m in sdk(gw).models.list()] == list(CATALOGUE.revision(None).routes)


# --- every reject family: upstream status, shape and exact message ---------------------------


@pytest.mark.parametrize("raw", [
    b"",                                                    # parse request: EOF
    b"[]",                                                  # not an object
    b'{"messages":' + b"[" * 40 + b"]" * 40 + b"}",          # nesting depth
    b'{"messages":[{"role":"user","content":"hi"}],"tags":["x"]}',   # unknown parameter
    b'{"messages":[{"role":"user","content":"hi"}],"stream":"true"}',  # typed decode
    b'{"messages":[]}',                                     # messages rule
    b'{"messages":[{"role":"user","content":"hi"}],"top_p":0}',       # param validator
    b'{"messages":[{"role":"user","content":"hi"}],"extra_body":{"guided_json":{}}}',
])
def test_engine_rejects_exactly(gw, http, raw):
    expected = normalize(raw, model=KIMI)
    assert expected.outcome == "rejected"
    assert_gateway_error(post(http, gw, raw), expected.status, expected.message)


def test_body_over_10_mib_is_413(gw, http):
    raw = b'{"messages":[{"role":"user","content":"' + b"a" * (10 * 1024 * 1024) + b'"}]}'
    assert_gateway_error(post(http, gw, raw), 413, catalogue_message("limit-body-size"))


def test_unknown_model_is_400_after_parameter_validation(gw, http):
    models = ", ".join(CATALOGUE.revision(None).routes)
    response = post(http, gw, {"model": "no-such/Model", "messages": HI})
    assert_gateway_error(response, 400, f'unsupported model "no-such/Model"; supported models: {models}')
    assert response.json()["error"]["message"] == catalogue_message("reject-unknown-model", model="no-such/Model", models=models)
    both = post(http, gw, {"model": "no-such/Model", "messages": HI, "tags": []})
    assert 'parameter "tags"' in both.json()["error"]["message"]  # the parameter error wins


def test_missing_key_is_401(gw, http):
    assert_gateway_error(post(http, gw, {"messages": HI}, key=None), 401, f'model "{KIMI}" requires an API key')
    assert post(http, gw, {"messages": HI}, key="anything-goes").status_code == 200  # no --api-key: any key


def test_wrong_key_is_401_when_keys_are_configured(http):
    with serve(api_key=(KEY, "sk-second")) as gateway:
        assert post(http, gateway, {"messages": HI}, key=KEY).status_code == 200
        assert post(http, gateway, {"messages": HI}, key="sk-second").status_code == 200
        assert_gateway_error(post(http, gateway, {"messages": HI}, key="sk-wrong"), 401, catalogue_message("require-api-key", model=KIMI))


def test_admin_only_model(gw, http):
    body = {"model": GLM, "messages": HI}
    assert_gateway_error(post(http, gw, body), 401, f'model "{GLM}" requires an admin API key')
    assert post(http, gw, body, key=ADMIN).status_code == 200


def test_admin_key_bypasses_the_output_cap(gw, http):
    body = {"model": DEEPSEEK, "messages": [{"role": "user", "content": "Write 9000 tokens"}], "max_tokens": 8000,
            "reasoning_effort": "none"}
    capped = post(http, gw, body).json()
    assert capped["usage"]["completion_tokens"] == 4096 and capped["choices"][0]["finish_reason"] == "length"
    admin = post(http, gw, body, key=ADMIN).json()
    assert admin["usage"]["completion_tokens"] == 8000 and admin["choices"][0]["finish_reason"] == "length"


def test_disabled_mode_is_308_everywhere_but_admin(http):
    with serve(disabled=DisabledMode(new_url="https://new.example/v1"), admin_key=ADMIN) as gateway:
        for response in (post(http, gateway, {"messages": HI}), http.get(gateway.base_url + "/models"),
                         http.get(gateway.base_url + "/status"), http.get(gateway.root_url + "/metrics")):
            assert response.status_code == 308 and "location" not in response.headers
            assert response.headers["content-type"] == "application/json"
            assert response.text == '{"message":"please use ... base url","new_url":"https://new.example/v1","status":308}\n'
        settings = http.get(gateway.base_url + "/admin/settings", headers={"Authorization": f"Bearer {ADMIN}"})
        assert settings.status_code == 200 and settings.json()["disabled"]["enabled"] is True
        # Turning it off through the admin settings restores service.
        http.post(gateway.base_url + "/admin/settings", json={"disabled": {"enabled": False}}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert post(http, gateway, {"messages": HI}).status_code == 200


def test_admin_paths(gw, http):
    bad = http.get(gw.base_url + "/admin/settings", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/json"
    assert bad.json() == {"error": {"message": "Invalid admin API key.", "type": "invalid_request_error", "code": "invalid_api_key"}}
    assert ADMIN not in bad.text
    with serve() as no_admin:  # no admin key configured: admin paths do not exist
        response = http.get(no_admin.base_url + "/admin/settings")
        assert response.status_code == 404 and response.text == "404 page not found\n"


def test_limiter_answers_429(http):
    with serve(max_input_tokens_in_flight=10) as gateway:
        response = post(http, gateway, {"messages": [{"role": "user", "content": "x" * 200}]})
        assert_gateway_error(response, 429, "rate limit exceeded: too many input tokens in flight (0/10)")


def test_methods_and_unknown_routes(gw, http):
    models = http.post(gw.base_url + "/models")
    assert models.status_code == 405 and models.headers["allow"] == "GET, HEAD"
    assert models.json() == {"error": {"message": "method not allowed"}}
    assert http.get(gw.base_url + "/chat/completions").status_code == 405
    missing = http.get(gw.root_url + "/v1/nothing")
    assert missing.status_code == 404 and missing.text == "404 page not found\n"
    head = http.head(gw.base_url + "/models")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


# --- token rules observable in responses ---------------------------------------------------------


def test_kimi_think_burn_observable(gw, http):
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 300, "thinking_token_budget": "5000"}
    reply = post(http, gw, body).json()
    choice = reply["choices"][0]
    assert choice["message"]["content"] is None and choice["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == 300
    stream = post(http, gw, {**body, "stream": True}).text
    assert '"content":"' not in stream.replace('"content":""', "") and '"finish_reason":"length"' in stream


def test_output_cap_observable(gw, http):
    reply = post(http, gw, {"model": MINIMAX, "messages": [{"role": "user", "content": "Write 6000 words about the sea."}],
                            "max_tokens": 8000}).json()
    assert reply["usage"]["completion_tokens"] == 4096 and reply["choices"][0]["finish_reason"] == "length"


def test_n_coercion_observable(gw, old, http):
    assert len(post(http, gw, {"messages": HI, "n": 3}).json()["choices"]) == 1
    assert len(post(http, old, {"messages": HI, "n": 3}).json()["choices"]) == 3
    assert len(post(http, old, {"messages": HI, "n": 3, "temperature": 0}).json()["choices"]) == 1


def test_response_shape_and_headers(old, http):
    response = post(http, old, {"model": QWEN, "messages": HI})  # 2026-05 forces logprobs and token ids upstream
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-devshard-id"].isdigit() and response.headers["x-request-id"]
    body = response.json()
    assert ID.match(body["id"])
    for field in ("token_ids", "prompt_token_ids", "prompt_logprobs", "logprobs", "logprob"):
        assert f'"{field}"' not in response.text
    asked = post(http, old, {"model": QWEN, "messages": HI, "logprobs": True}).json()
    assert asked["choices"][0]["logprobs"]["content"]


def test_stream_framing(gw, http):
    response = post(http, gw, {"messages": HI, "stream": True})
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    events = response.text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])
    assert '"usage"' not in response.text  # newest: no usage unless asked
    with_usage = post(http, gw, {"messages": HI, "stream": True, "stream_options": {"include_usage": True}}).text
    assert json.loads(with_usage.split("\n\n")[-3][6:])["usage"]["total_tokens"] > 0


def test_client_shape_follows_intent_not_the_forced_upstream_stream(gw, http):
    response = post(http, gw, {"messages": HI, "stream": False})
    assert response.headers["content-type"] == "application/json" and response.json()["object"] == "chat.completion"
    lifted = post(http, gw, {"messages": HI, "extra_body": {"stream": True}})
    assert lifted.headers["content-type"] == "text/event-stream"


def test_same_body_same_answer(gw, http):
    body = {"messages": [{"role": "user", "content": "Write 40 words about stone"}], "max_tokens": 256}
    first, second = post(http, gw, body).json(), post(http, gw, body).json()
    assert first["choices"] == second["choices"] and first["id"] != second["id"]


# --- models, status, debug view -------------------------------------------------------------------


def test_models_and_status_shapes(gw, http):
    response = http.get(gw.base_url + "/models")
    assert response.headers["content-type"] == "application/json" and response.text.endswith("}\n")
    assert response.text.startswith('{\n  "object": "list",\n  "data": [\n')
    entry = response.json()["data"][0]
    assert entry["owned_by"] == "gonka" and entry["context_length"] == entry["max_completion_tokens"] == 4096
    assert entry["supported_parameters"] == ["messages", "max_tokens", "stream", "temperature", "top_p", "stop"]
    status = http.get(gw.base_url + "/status").json()
    assert status["mode"] == "gateway" and status["runtimes"] == len(status["devshards"]) == 4
    assert status["capacity"]["models"][GLM]["access_mode"] == "admin_only"


def test_profile_spelling_and_limits(http):
    with serve(profile="gonkagate.com") as gateway:
        ids = [m["id"] for m in http.get(gateway.base_url + "/models").json()["data"]]
        assert ids[0] == "moonshotai/kimi-k2.6" and "minimaxai/minimax-m2.7" in ids
        assert http.get(gateway.base_url + "/models").json()["data"][0]["context_length"] == 3072
        rejected = post(http, gateway, {"messages": HI, "plugins": [{"id": "web"}]})
        assert_gateway_error(rejected, 400, "Plugin config is invalid")  # the broker's divergence


def test_debug_endpoint_is_off_by_default(http):
    with serve() as gateway:
        post(http, gateway, {"messages": HI})
        assert http.get(gateway.debug_url).status_code == 404


def test_debug_endpoint_shows_forwarded_bodies_and_events(gw, http):
    admin = {"Authorization": f"Bearer {ADMIN}"}
    response = post(http, gw, {"messages": [{"role": "user", "content": "debug me"}], "store": True, "n": 2})
    record = http.get(f"{gw.debug_url}/{response.headers['x-request-id']}", headers=admin).json()
    assert record["forwarded"]["stream"] is True and "store" not in record["forwarded"]
    assert record["forwarded"]["n"] == 1 and record["client"] == {"stream": False, "include_usage": False, "logprobs": False}
    rules = {e["rule"] for e in record["events"]}
    assert {"strip-store", "force-upstream-stream"} <= rules
    assert record["response_id"] == response.json()["id"] and record["status"] == 200
    rejected = post(http, gw, {"messages": HI, "tags": []})
    assert http.get(f"{gw.debug_url}/{rejected.headers['x-request-id']}", headers=admin).json()["rule"] == "reject-tags"
    listing = http.get(gw.debug_url, params={"limit": 2}, headers=admin).json()["requests"]
    assert [r["request_id"] for r in listing][-1] == rejected.headers["x-request-id"]
    assert KEY not in json.dumps(listing)
    assert http.delete(gw.debug_url, headers=admin).status_code == 204 and http.get(gw.debug_url, headers=admin).json()["requests"] == []


def test_debug_endpoint_needs_the_admin_key_when_one_is_configured(gw, http):
    post(http, gw, {"messages": HI})
    for headers in ({}, {"Authorization": f"Bearer {KEY}"}):
        for method in ("GET", "DELETE"):
            response = http.request(method, gw.debug_url, headers=headers)
            assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    assert http.get(gw.debug_url, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200


def test_debug_records_are_redacted(http):
    secret = "PLANTEDx0123abcdSECRET"  # shaped like no known credential: only the known-key path hides it
    for configured in ({"api_key": secret}, {}):  # a configured key, and the request's own key
        with serve(debug_endpoint=True, **configured) as gateway:
            body = {"messages": [{"role": "user", "content": f"my key is {secret}, also sk-abcdefghij-klmnopqrstuv"}]}
            assert post(http, gateway, body, key=secret).status_code == 200
            text = http.get(gateway.debug_url).text
        assert secret not in text and "sk-abcdefghij-klmnopqrstuv" not in text and "my key is ***" in text


def test_cli_main_still_works(capsys):
    from gonka_conformance.cli import main

    assert main(["normalize", "--compact", "/dev/null"]) == 1
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0 and "--upstream" in capsys.readouterr().out


def test_admin_settings_zero_falls_back_to_the_catalogues_compiled_limits(http):
    """contract.md §4: a zero in the settings means the compiled default — the catalogue's,
    even under a broker profile whose own limits are lower."""
    compiled = limits_for(load_catalogue())
    with serve(admin_key=ADMIN, profile="gonka-api.org") as gateway:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        changed = http.post(gateway.base_url + "/admin/settings", headers=auth,
                            json={"default_request_max_tokens": 100, "request_max_tokens_cap": 200})
        assert changed.json()["request_max_tokens_cap"] == 200
        reset = http.post(gateway.base_url + "/admin/settings", headers=auth,
                          json={"default_request_max_tokens": 0, "request_max_tokens_cap": 0}).json()
        assert (reset["default_request_max_tokens"], reset["request_max_tokens_cap"]) == \
            (compiled.default_max_tokens, compiled.max_tokens_cap)
