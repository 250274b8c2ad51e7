"""The live suite against a hostile loopback broker: bounded in time and memory, honest outcomes.

Each run is ``gonka-conformance run --timeout 5`` in its own child process, so its peak memory
is that child's own ``ru_maxrss`` (``os.wait4``). Before these bounds an endless stream grew the
process to 3.8 GB, a gzip bomb to 5.2 GB, a drip hung a ``--timeout 5`` run for minutes, and
broken answers crashed the run (INTERNALERROR) or counted as passes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import hostile
from gateways import serve
from hostile import HostileBroker
from gonka_conformance.live.cases import LiveRequest
from gonka_conformance.live.guard import Bounds, RunGuard
from gonka_conformance.live.observe import Target, retry_delay, send
from gonka_conformance.live.session import LiveSession, SessionOptions
from gonka_conformance.live.transport import TooLarge, bounded_client, iter_decoded
from models import KIMI

KEY = "PLANTEDx0123abcdSECRET"
#: The cases that passed on broken answers before (issue 8), and one stream case.
FALSE_PASS_RULES = ("schema-depth-tools", "schema-response-format", "schema-tools",
                    "strip-response-logprobs-unless-asked", "strip-response-token-ids", "stream-done-sentinel")
SELECTION = " or ".join(FALSE_PASS_RULES)
RUN_SECONDS = 60  # generous: each of these runs takes a few seconds
PEAK_BYTES = 400 * 1024 * 1024  # a run's own footprint is ~70 MB; the unbounded suite reached gigabytes


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int
    report: dict[str, Any] | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def outcomes(self) -> dict[str, str]:
        return {c["key"]: c["outcome"] for c in (self.report or {}).get("cases", [])}

    def problems(self) -> list[str]:
        return [p for c in (self.report or {}).get("cases", []) for p in c["problems"]]


# The child reports its own peak (VmHWM starts afresh at exec): ru_maxrss would carry over the
# pytest parent's size at fork, which grows over a long test run.
PEAK_WRAPPER = """
import atexit, sys
peak_file = sys.argv.pop(1)
def record():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(peak_file, "w") as out:
        out.write(kib)
atexit.register(record)
from gonka_conformance.cli import main
sys.argv[0] = "gonka-conformance"
raise SystemExit(main())
"""


def run_suite(tmp_path: Path, broker: HostileBroker, *args: str, key: str | None = KEY) -> Run:
    """The CLI in a child process, stopped after RUN_SECONDS whatever happens."""
    report_dir = tmp_path / "report"
    env = {k: v for k, v in os.environ.items() if k != "GONKA_API_KEY"}
    if key is not None:
        env["GONKA_API_KEY"] = key
    peak_file = tmp_path / "peak-kib"
    command = [sys.executable, "-c", PEAK_WRAPPER, str(peak_file), "run", "--base-url", broker.base_url,
               "--timeout", "5", "--report-dir", str(report_dir), "-q", *args]
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    status, usage = _wait(child, started + RUN_SECONDS + 30)
    seconds = time.monotonic() - started
    report_file = report_dir / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    peak_kib = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss  # (killed: the upper bound)
    return Run(os.waitstatus_to_exitcode(status), out.read_text(errors="replace"), err.read_text(errors="replace"),
               seconds, peak_kib * 1024, report)


def _wait(child: subprocess.Popen[bytes], until: float) -> tuple[int, Any]:
    """``os.wait4`` gives this child's own peak memory; polled so that a hang is killed."""
    while time.monotonic() < until:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = -9
    return status, usage


def assert_sane(run: Run, code: int) -> None:
    """What every hostile run must show, whatever the broker did."""
    assert run.code == code, f"exit {run.code}, expected {code}\n{run.output[-3000:]}"
    assert run.seconds < RUN_SECONDS, f"the run took {run.seconds:.0f}s"
    assert run.peak_bytes < PEAK_BYTES, f"peak memory {run.peak_bytes // 2**20} MiB"
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output, run.output[-3000:]
    assert KEY not in run.output and KEY[:8] not in run.output
    assert run.report is not None, "the reports must be written whatever the broker did"
    assert run.report["summary"]["pass"] == 0, [c["key"] for c in run.report["cases"] if c["outcome"] == "pass"]


# --- every answer broken: bounded, never a pass, never a crash -------------------------------------

# (mode, what the cases' problems say, exit code): 3 when nothing trustworthy was observed at all;
# 1 when a well-formed-enough 200 answers what the gateway must reject (a deviation).
BROKEN = [
    ("endless-stream", "larger than 8388608 bytes", 3),
    ("drip", "timeout: no complete answer within 5s", 3),
    ("gzip-bomb-stream", "larger than 8388608 bytes after decompression", 3),
    ("endless-json", "response body larger than 8388608 bytes", 3),
    ("retry-after-nan", "HTTP 503 after 2 attempts", 3),
    ("wrong-types", "HTTP 200 carrying an error body", 3),  # "error": 3 beside the wrong types
    ("wrong-types-answer", "malformed answer: id is an array", 1),
    ("empty-200", "HTTP 200 with an empty body", 3),
    ("error-in-200", "HTTP 200 carrying an error body", 3),
    ("error-only-stream", "the stream carried an error event", 3),
    # no [DONE]: a close-delimited stream may have been cut (nothing judged); a complete
    # chunked one is the target's answer, and the end-event rule fails on it
    ("stream-no-done", "stream cut: connection closed after", 3),
    ("chunked-no-done", "stream did not end with data: [DONE]", 1),
]


@pytest.fixture(scope="module", autouse=True)
def bomb_ready() -> None:
    hostile.gzip_bomb()  # built once, so that the broker answers at once rather than after seconds


@pytest.mark.parametrize("mode, problem, code", BROKEN, ids=[m for m, _, _ in BROKEN])
def test_a_broken_broker_is_bounded_and_never_passes(tmp_path, mode: str, problem: str, code: int) -> None:
    with HostileBroker(mode) as broker:
        run = run_suite(tmp_path, broker, "--models", KIMI, "-k", SELECTION, "--retries", "1")
    assert_sane(run, code)
    outcomes = run.outcomes()
    assert {key.split(":")[0].split("[")[0] for key in outcomes} == set(FALSE_PASS_RULES)
    assert set(outcomes.values()) <= {"error", "fail"}
    assert any(problem in p for p in run.problems()), run.problems()


def test_wrong_types_fail_the_rule_that_looks_at_them_and_are_errors_elsewhere(tmp_path) -> None:
    with HostileBroker("wrong-types-answer") as broker:
        run = run_suite(tmp_path, broker, "--models", KIMI, "-k", "response-id-format or strip-response-token-ids")
    assert_sane(run, 1)
    by_rule = {c["rule"]: c for c in run.report["cases"]}
    assert by_rule["response-id-format"]["outcome"] == "fail"  # "id": ["x"] is what this rule tests
    assert "response id ['<list>']" in by_rule["response-id-format"]["problems"][0]
    assert by_rule["strip-response-token-ids"]["outcome"] == "error"
    assert "malformed answer: id is an array" in by_rule["strip-response-token-ids"]["problems"][0]


def test_an_unresponsive_target_ends_the_run_without_sending_the_rest(tmp_path) -> None:
    with HostileBroker("drip") as broker:
        run = run_suite(tmp_path, broker, "--models", KIMI, "--concurrency", "2", "--unresponsive-after", "2")
        sent = broker.chat_requests
    assert_sane(run, 3)
    assert "target unresponsive: 2 consecutive requests failed" in run.report["error"]
    assert sent <= 4  # two failures trip the breaker; at most two more were already in flight
    assert len(run.outcomes()) > 50 and set(run.outcomes().values()) == {"error"}
    assert "Interrupted: gonka-conformance: target unresponsive" in run.output  # pytest stops at once


def test_the_run_deadline_bounds_a_slow_target(tmp_path) -> None:
    with HostileBroker("drip") as broker:
        run = run_suite(tmp_path, broker, "--models", KIMI, "--max-duration", "3", "--unresponsive-after", "1000")
    assert_sane(run, 3)
    assert run.seconds < 30
    assert "--max-duration of 3s" in run.report["error"]


def test_a_gzip_bomb_on_models_is_refused_before_any_chat_request(tmp_path) -> None:
    with HostileBroker("gzip-bomb-models") as broker:
        run = run_suite(tmp_path, broker, "-k", SELECTION)
        sent = broker.chat_requests
    assert run.code == 3 and sent == 0
    assert run.peak_bytes < PEAK_BYTES and "Traceback" not in run.output
    assert "GET /models: response body larger than 1048576 bytes after decompression" in run.output


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("models", [None, KIMI], ids=["discovered", "given"])
def test_a_refused_key_is_one_authentication_error(tmp_path, models: str | None) -> None:
    with HostileBroker("all-401") as broker:
        run = run_suite(tmp_path, broker, *(["--models", models] if models else []), "-k", SELECTION)
        sent = broker.chat_requests
    assert_sane(run, 3)
    assert run.report["error"].startswith("authentication failed: ")
    assert "gonka-conformance: authentication failed" in run.output
    assert run.output.count("authentication failed") <= 3  # one reason, not a line per case
    assert "fail" not in run.outcomes().values()  # not hundreds of deviations
    assert sent <= (0 if models is None else 4)  # at most the requests already in flight


def test_a_wrong_key_on_a_gateway_that_rejects_bad_bodies_first_is_one_error(monkeypatch) -> None:
    """The reference gateway answers its own 400s before it checks the key (as upstream does):
    those still conform, and the first 401 on an accepted request halts the run."""
    monkeypatch.setenv("GONKA_API_KEY", "sk-wrong-key-0123456789")
    with serve(api_key="sk-right-key-0123456789") as gateway:
        session = LiveSession(SessionOptions(base_url=gateway.base_url, models=[KIMI], timeout=20))
        try:
            session.start()
            session.execute([f"{case.id}[{model}]" for case, model in session.items()])
        finally:
            session.close()
    outcomes = Counter(result.outcome for result in session.results())
    assert session.exit_code() == 3 and session.error.startswith("authentication failed: the target answered HTTP 401")
    assert outcomes["fail"] == 0 and outcomes["error"] > 50  # not a deviation per case


@pytest.mark.parametrize("key", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_a_broker_url_without_a_key_is_a_usage_error_before_anything_is_sent(tmp_path, key: str | None) -> None:
    with HostileBroker("all-401") as broker:
        run = run_suite(tmp_path, broker, "--models", KIMI, key=key)
        sent = broker.chat_requests + broker.model_requests
    assert run.code == 2 and sent == 0
    assert "$GONKA_API_KEY is empty or unset" in run.stderr and "Traceback" not in run.output
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_slow_reject_is_flagged(tmp_path) -> None:
    with HostileBroker("slow-reject") as broker:
        broker.reject_delay = 1.5
        run = run_suite(tmp_path, broker, "--models", KIMI, "-k", "schema-depth-tools", "--reject-latency", "1")
    assert run.code == 1
    flagged = [c for c in run.report["cases"] if any("--reject-latency" in p for p in c["problems"])]
    assert flagged and all(c["outcome"] == "fail" and c["expected"].startswith("HTTP 400") for c in flagged)


# --- the pieces, in process ----------------------------------------------------------------------


@pytest.mark.parametrize("value, attempt, expected", [
    ("nan", 0, 0.5), ("inf", 1, 1.0), ("-inf", 0, 0.5), ("-3", 0, 0.5), ("garbage", 2, 2.0), (None, 0, 0.5),
    ("2", 0, 2.0), ("0.25", 0, 0.25), ("999999", 0, 30.0), ("1e400", 0, 0.5),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0, 0.0),  # an HTTP-date in the past: retry now
])
def test_retry_after_is_parsed_robustly_and_capped(value, attempt, expected) -> None:
    assert retry_delay(value, attempt, 30.0) == expected


def test_retry_after_as_a_future_http_date_is_capped() -> None:
    future = "Fri, 31 Dec 2099 23:59:59 GMT"
    assert retry_delay(future, 0, 30.0) == 30.0


def _mock_client(statuses: list[int], seen: list[int]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        status = statuses[min(len(seen), len(statuses) - 1)]
        seen.append(status)
        body: Any = {"id": "c", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}]}
        if status != 200:
            body = {"error": {"message": "busy"}}
        # stream=: unread, like a real network answer
        return httpx.Response(status, headers={"Content-Type": "application/json", "Retry-After": "nan"},
                              stream=httpx.ByteStream(json.dumps(body).encode()))

    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_overload_statuses_are_retried(status: int) -> None:
    seen: list[int] = []
    waits: list[float] = []
    with _mock_client([status, 200], seen) as client:
        obs = send(client, Target("http://b.test/v1", "k", retries=2), LiveRequest(b"{}"), sleep=waits.append)
    assert seen == [status, 200] and obs.status == 200 and obs.error is None and waits == [0.5]


def test_a_retry_wait_beyond_the_run_deadline_is_not_taken() -> None:
    seen: list[int] = []
    guard = RunGuard(Bounds(max_duration=0.2))
    with _mock_client([503], seen) as client:
        obs = send(client, Target("http://b.test/v1", "k", retries=5, guard=guard), LiveRequest(b"{}"), sleep=pytest.fail)
    assert seen == [503] and obs.error == "HTTP 503 after 1 attempts (rate limited or unavailable)"


def test_answers_that_each_fit_their_cap_still_fit_the_run_budget() -> None:
    seen: list[int] = []
    guard = RunGuard(Bounds(max_kept_bytes=500))
    with _mock_client([200], seen) as client:
        target = Target("http://b.test/v1", "k", guard=guard)
        kept = [send(client, target, LiveRequest(b"{}")) for _ in range(6)]
    assert [o.error is None for o in kept] == [True] * 3 + [False] * 3  # ~150 bytes each
    assert kept[-1].json is None and "answers exceed 500 bytes in total" in kept[-1].error


def test_a_stream_of_countless_tiny_events_is_cut_at_the_event_cap() -> None:
    events = b'data: {"choices": []}\n\n' * 25_000  # 0.6 MB: under the byte cap, over the event cap
    answer = httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=httpx.ByteStream(events))
    with httpx.Client(transport=httpx.MockTransport(lambda request: answer)) as client:
        obs = send(client, Target("http://b.test/v1", "k", retries=0), LiveRequest(b"{}", streaming=True))
    assert obs.error == "stream larger than 20000 events: not read further" and obs.unresponsive
    assert len(obs.chunks) == Bounds().max_stream_events


def test_the_breaker_refuses_after_consecutive_failures_and_wakes_waiters() -> None:
    guard = RunGuard(Bounds(unresponsive_after=3))
    for failed in (True, True, False, True, True):
        guard.record_transport(failed)
    assert guard.refusal() is None  # a success in between resets the count
    guard.record_transport(True)
    assert guard.refusal() and "target unresponsive: 3 consecutive" in guard.refusal()
    started = time.monotonic()
    guard.wait(20)
    assert time.monotonic() - started < 1  # a halted run does not sit out a Retry-After


def test_the_key_is_judged_by_the_first_answers_only() -> None:
    accepted = RunGuard()
    assert accepted.record_authentication(200) is False
    assert accepted.record_authentication(401) is False and accepted.halted is None  # a deviation, judged
    refused = RunGuard()
    assert refused.record_authentication(400) is False  # the gateway's own 400s come before access
    assert refused.record_authentication(403) is True and refused.halted.startswith("authentication failed")
    assert refused.refusal() and refused.refused == 1


def test_the_total_deadline_holds_while_headers_drip() -> None:
    with HostileBroker("drip-headers") as broker:
        with bounded_client(broker.base_url) as client:
            started = time.monotonic()
            obs = send(client, Target(broker.base_url, "k", timeout=2, retries=0), LiveRequest(b"{}"))
    assert time.monotonic() - started < 4  # one header a second would otherwise go on for a minute
    assert obs.error == "timeout: no complete answer within 2s" and obs.unresponsive


def test_a_gzip_bomb_never_inflates_past_the_cap() -> None:
    bomb = hostile.gzip_bomb()  # 512 MiB of zeros in ~0.5 MB
    response = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(bomb))
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            for _ in iter_decoded(response, 1024 * 1024, time.monotonic() + 30):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
