"""gonka-lint benchmark: lint time against ``json.loads`` of the same bytes.

Builds its corpus in a temporary directory (nothing is downloaded):

* ``body-10mib.json`` — one agent request just under the gateway's 10 MiB limit: a long system
  prompt, tool definitions and a conversation whose tool results are source code;
* ``conversation-2048.json`` — a Kimi conversation of 2048 messages with tools: assistant tool
  calls (with the ids Kimi returns), tool results of source code, user turns;
* ``requests.jsonl`` — 10,000 typical agent requests (OpenAI SDK, Hermes, OpenClaw, Cline,
  kimi-cli shapes; some clean, some with rejected or stripped fields).

and prints, from one run, the best of ``--repeat`` timings of ``json.loads`` and of the lint
(the library's ``lint()``: guards, the engine with every rule, findings, positions and fix
offers) for the two large bodies, and requests per second for the JSONL (read line by line,
linted, findings collected; and the whole command line with ``--format json`` in a fresh process),
then each row of issue 12's throughput table as a ratio against its baseline from the same run
(the 10 MiB body's whole command against a ``python -c 'json.load(...)'`` process, start-up
included on both sides).

Run: ``python benchmarks/lint_bench.py`` (add ``--repeat 5`` for steadier figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from gonka_conformance import load_catalogue
from gonka_conformance.lint import lint
from gonka_conformance.lint.inputs import Source, records
from gonka_conformance.lint.runner import Options, lint_record

KIMI = "moonshotai/Kimi-K2.6"
QWEN = "Qwen/Qwen3-235B-A22B-Instruct-2507-FP8"

CODE = (
    'def handler(event, context):\n    """Process one event."""\n    payload = json.loads(event["body"])\n'
    '    if not payload.get("items"):\n        return {"statusCode": 400, "body": "no items"}\n'
    '    total = sum(item["price"] * item["qty"] for item in payload["items"])\n'
    '    return {"statusCode": 200, "body": json.dumps({"total": total})}\n\n'
)


def tool(i: int, depth: int = 2) -> dict[str, Any]:
    """An OpenClaw/MCP-style tool with a nested parameters schema."""
    leaf: dict[str, Any] = {"type": "string", "description": f"value {i}"}
    for level in range(depth):
        leaf = {"type": "object", "properties": {f"f{level}": leaf, "flag": {"type": "boolean"}}, "required": [f"f{level}"]}
    return {"type": "function", "function": {
        "name": f"tool_{i}", "description": f"Tool number {i}: reads, edits or searches the workspace. " * 3,
        "parameters": {"type": "object", "properties": {"path": {"type": "string", "description": "file path"},
                                                        "options": leaf, "limit": {"type": "integer"}},
                       "required": ["path"]}}}


def conversation(turns: int, result: str, *, kimi_ids: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a coding agent. " * 200},
                                      {"role": "user", "content": "Refactor the handlers and run the tests."}]
    call = 0
    while len(messages) < turns:
        name = f"tool_{call % 20}"
        call_id = f"functions.{name}:{call}" if kimi_ids else f"call_{call:06d}"  # Kimi returns the former
        messages.append({"role": "assistant", "content": None, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps({"path": f"src/handler_{call}.py", "limit": 200})}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
        if len(messages) < turns and call % 5 == 4:
            messages.append({"role": "user", "content": f"Good. Now continue with step {call}."})
        call += 1
    return messages[:turns - 1] + [{"role": "user", "content": "Summarise what changed."}]


def big_body(limit: int) -> bytes:
    """Grow a conversation until it is just under the gateway's body limit (10 MiB)."""
    tools = [tool(i, depth=3) for i in range(20)]
    result = CODE * 40
    turns, prev = 64, b""
    while True:
        body = {"model": QWEN, "messages": conversation(turns, result), "tools": tools, "max_tokens": 4096}
        raw = json.dumps(body).encode()
        if len(raw) > limit:
            return prev
        prev, turns = raw, turns + 64


def long_conversation() -> bytes:
    body = {"model": KIMI, "messages": conversation(2048, CODE * 8, kimi_ids=True), "tools": [tool(i) for i in range(20)],
            "max_tokens": 4096, "thinking": {"type": "disabled"}, "thinking_token_budget": 0}
    return json.dumps(body).encode()


def typical_requests(count: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    tools = [tool(i) for i in range(8)]
    lines = []
    for n in range(count):
        kind = rng.random()
        messages = conversation(rng.randint(3, 12), CODE[: rng.randint(200, 600)])
        body: dict[str, Any] = {"model": rng.choice([KIMI, QWEN]), "messages": messages,
                                "tools": tools[: rng.randint(1, 8)], "stream": True, "temperature": 0.2}
        if kind < 0.5:  # a clean OpenAI SDK request
            body["max_tokens"] = 2048
        elif kind < 0.65:  # Hermes
            body["tags"] = ["hermes", f"session:{n}"]
        elif kind < 0.75:  # kimi-cli
            body["cache_key"] = f"kimi-cli_{n:08x}"
        elif kind < 0.85:  # Cline
            body["think"] = True
            body["store"] = False
        elif kind < 0.95:  # OpenClaw
            body["max_tokens"] = 8192
            body["tool_choice"] = "required"
        else:  # an SDK option leaked into the body
            body["extra_body"] = {"top_k": 20, "reasoning": {"effort": "low"}}
        lines.append(json.dumps(body))
    return ("\n".join(lines) + "\n").encode()


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _gonka_lint() -> list[str]:
    script = Path(sys.executable).with_name("gonka-lint")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gonka_conformance.lint"]


# Children read and write .pyc files as an installed package does (pip compiles at install), as
# startup_bench.py does: an environment with PYTHONDONTWRITEBYTECODE would otherwise recompile
# every module of the package in every fresh process (~0.13 s here), which no user pays.
_CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _process(command: list[str]) -> Callable[[], None]:
    """One fresh process (start-up included), as a user runs it; findings exit 1."""
    def run() -> None:
        result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600, env=_CHILD_ENV)
        if result.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return run


def _row(what: str, value: float, baseline: float, target: str, met: bool) -> None:
    print(f"{what:<58} {value / baseline:>7.2f}x  target {target:<34} {'met' if met else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings per figure; the best one is printed")
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args(argv)
    catalogue = load_catalogue()
    options = Options(catalogue)
    lint_cmd = [*_gonka_lint(), "--isolated", "--no-ignore-file", "--format", "json"]
    print(f"gonka-lint benchmark — Python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = {"body-10mib.json": big_body(options.max_body), "conversation-2048.json": long_conversation(),
                  "requests.jsonl": typical_requests(args.requests)}
        for name, data in corpus.items():
            Path(tmp, name).write_bytes(data)
        print(f"{'corpus':<24} {'size':>10} {'json.loads':>12} {'lint':>10} {'ratio':>7}  findings")
        library: dict[str, tuple[float, float]] = {}
        for name in ("body-10mib.json", "conversation-2048.json"):
            raw = corpus[name]
            lint(raw, catalogue=catalogue)  # warm the catalogue plans and the ambient baseline
            loads = best(lambda: json.loads(raw), args.repeat)
            linted = best(lambda: lint(raw, catalogue=catalogue), args.repeat)
            library[name] = loads, linted
            found = len(lint(raw, catalogue=catalogue))
            print(f"{name:<24} {len(raw) / 2**20:>8.2f}Mi {loads * 1000:>10.1f}ms {linted * 1000:>8.1f}ms "
                  f"{linted / loads:>6.2f}x  {found}")
        path = Path(tmp, "requests.jsonl")
        raw = corpus["requests.jsonl"]
        lines = raw.splitlines()
        loads = best(lambda: [json.loads(line) for line in lines], args.repeat)

        def core() -> int:
            found = 0
            for record in records(Source(str(path), "jsonl", path=path), max_body=options.max_body):
                found += len(lint_record(record, options).findings)  # type: ignore[arg-type]
            return found

        linted = best(core, args.repeat)
        found = core()
        cli = best(_process([*lint_cmd, str(path)]), max(1, args.repeat - 1))
        count = len(lines)
        print(f"{'requests.jsonl':<24} {len(raw) / 2**20:>8.2f}Mi {loads * 1000:>10.1f}ms {linted * 1000:>8.1f}ms "
              f"{linted / loads:>6.2f}x  {found}")
        print(f"JSONL: {count} requests — lint {count / linted:,.0f} requests/s; "
              f"gonka-lint --format json (whole command) {count / cli:,.0f} requests/s; "
              f"json.loads {count / loads:,.0f} requests/s")
        big = str(Path(tmp, "body-10mib.json"))
        load_cmd = [sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1], encoding='utf-8'))", big]
        _process([*lint_cmd, big])()  # warm: bytecode and the catalogue cache, as after a first run
        big_load = best(_process(load_cmd), args.repeat)
        big_cli = best(_process([*lint_cmd, big]), args.repeat)
        print(f"body-10mib.json, whole processes: python json.load {big_load * 1000:,.0f} ms, "
              f"gonka-lint --format json {big_cli * 1000:,.0f} ms")

    print("\nissue rows (ratios against a baseline measured in this run):")
    rate = count / cli
    _row(f"JSONL whole command: time per request / json.loads ({rate:,.0f}/s)", cli, loads,
         f">= 2,000 requests/s (now {rate:,.0f}/s)", rate >= 2000)
    _row("JSONL library lint() / json.loads", linted, loads, "<= 2x", linted / loads <= 2)
    _row("2048-message conversation, library lint() / json.loads", library["conversation-2048.json"][1],
         library["conversation-2048.json"][0], "<= 1.5x", library["conversation-2048.json"][1]
         <= 1.5 * library["conversation-2048.json"][0])
    _row("10 MiB body, whole command / python json.load process", big_cli, big_load, "<= 3x (start-up included)",
         big_cli <= 3 * big_load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
