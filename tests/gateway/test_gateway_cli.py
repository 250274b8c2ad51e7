"""``gonka-conformance serve`` as a real process: banner, live log, SIGTERM stops it cleanly,
usage errors exit 2, and planted keys appear in no output (simulation and proxy mode)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Iterator

import httpx
import pytest

from gonka_conformance.cli import main
from gonka_conformance.gateway import GatewayConfig, ReferenceGateway

KEY = "sk-cli-planted-91e0d2c4a7"
ADMIN = "sk-cli-admin-planted-55b1"


def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gonka_conformance.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    url = process.stdout.readline().strip()  # the base URL is the first stdout line
    if not url.startswith("http://"):
        process.kill()
        raise AssertionError(f"serve did not start: {process.communicate(timeout=10)}")
    return process, url


def stop(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, out, err


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_serve_process_end_to_end_without_leaking_keys(processes):
    process, url = start("--api-key-env", "GW_KEY", "--admin-key-env", "GW_ADMIN", "--debug-endpoint",
                         env={"GW_KEY": KEY, "GW_ADMIN": ADMIN})
    processes.append(process)
    headers = {"Authorization": f"Bearer {KEY}"}
    ok = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": f"echo {KEY}"}]}, headers=headers)
    assert ok.status_code == 200
    bad = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "tags": []}, headers=headers)
    assert bad.status_code == 400
    assert httpx.post(url + "/chat/completions", json={"messages": []}, headers={"Authorization": f"Bearer {ADMIN}x"}).status_code == 400
    code, out, err = stop(process)
    assert code == 0
    assert "reference gateway" in err and "base URL" in err and "reference gateway stopped" in err
    assert "reject-tags" in err and "force-upstream-stream" in err
    # The prompt above contained the key: the live log only prints rule findings, never bodies or headers.
    assert KEY not in out + err and ADMIN not in out + err


def test_proxy_process_lints_and_forwards(processes):
    broker = ReferenceGateway(GatewayConfig(api_key=KEY))
    broker.start()
    try:
        process, url = start("--upstream", broker.base_url, "--block-rejects")
        processes.append(process)
        headers = {"Authorization": f"Bearer {KEY}"}
        ok = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "store": True}, headers=headers)
        assert ok.status_code == 200 and ok.json()["id"].startswith("devshard-")
        blocked = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "guided_json": {}}, headers=headers)
        assert blocked.status_code == 400
        code, out, err = stop(process)
    finally:
        broker.close()
    assert code == 0 and "lint-and-forward proxy" in err and "strip-store" in err and "blocked locally" in err
    assert KEY not in out + err


@pytest.mark.parametrize("args, message", [
    (["--profile", "no-such-broker"], "unknown broker profile"),
    (["--revision", "1999-01"], "unknown revision"),
    (["--block-rejects"], "--block-rejects only applies with --upstream"),
    (["--api-key-env", "GW_NOT_SET_ANYWHERE"], "GW_NOT_SET_ANYWHERE is not set"),
    (["--models", "a", "--admin-only-model", "b"], "'b' is not a served model"),
    (["--upstream", "ftp://x"], "--upstream must be an http"),
    (["--upstream", "http://h:abc/v1"], "--upstream is not a valid URL"),
    (["--upstream", "http://"], "--upstream must be an http"),
    (["--upstream", "http://h:70000/v1"], "--upstream has a port outside"),
    (["--upstream", "http://u:pw-planted-9c1@127.0.0.1:9/v1"], "needs --api-key"),  # else an open relay
    (["--upstream", "http://127.0.0.1:9/v1?api_key=pw-planted-9c1"], "needs --api-key"),
    (["--upstream-key-env", "GW_NOT_SET_ANYWHERE"], "GW_NOT_SET_ANYWHERE is not set"),
    (["--fault-latency-ms", "inf"], "fault latency_ms must be a finite number"),
    (["--fault-chunk-delay-ms", "nan"], "fault chunk_delay_ms must be a finite number"),
    (["--default-max-tokens", "0"], "--default-max-tokens must be at least 1"),
    (["--max-tokens-cap", "-5"], "--max-tokens-cap must be at least 1"),
])
def test_usage_errors_exit_2(capsys, args, message):
    assert main(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "pw-planted" not in err


def test_upstream_key_without_upstream_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setenv("GW_UPSTREAM_KEY", "sk-upstream-planted-1234")
    assert main(["serve", "--port", "0", "--upstream-key-env", "GW_UPSTREAM_KEY"]) == 2
    err = capsys.readouterr().err
    assert "--upstream-key-env only applies with --upstream" in err and "sk-upstream-planted" not in err


def test_port_in_use_is_a_usage_error(capsys):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def _parsed(*args: str):
    import argparse

    from gonka_conformance.gateway.cli import build_config, register

    parser = argparse.ArgumentParser()
    parser.add_argument("--catalogue")
    register(parser.add_subparsers())
    return build_config(parser.parse_args(["serve", *args]))


def test_overriding_one_limit_keeps_the_profiles_other():
    from gonka_conformance.catalogue.loader import load_catalogue
    from gonka_conformance.engine.pipeline import limits_for

    catalogue = load_catalogue()
    profile = next(name for name, broker in catalogue.brokers.items() if broker.limits)
    base = limits_for(catalogue, profile)
    cap_only = _parsed("--profile", profile, "--max-tokens-cap", "5000").limits
    assert cap_only.max_tokens_cap == 5000 and cap_only.default_max_tokens == base.default_max_tokens
    default_only = _parsed("--profile", profile, "--default-max-tokens", "7").limits
    assert default_only.default_max_tokens == 7 and default_only.max_tokens_cap == base.max_tokens_cap
    assert _parsed("--profile", profile).limits is None  # the profile's own limits, resolved by the gateway
