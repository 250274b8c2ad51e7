"""Load the reference gateway over loopback and compare it with a trivial server on the same
HTTP stack, in the same run.

    python benchmarks/gateway_bench.py [--requests 2000] [--concurrency 8] [--rounds 3] [--stream] [--breakdown 500]

The servers run in this process; the load comes from a second process (this script with
``--client``) over keep-alive connections, a bounded number of requests, each with a unique
nonce so nothing can be cached. The trivial server reads the body and answers a fixed
chat.completion; the gateway runs the engine, the route rules, the simulated model and the
response rules. Printed: requests/s, p50 and p99 latency, the server process's CPU time per
request, and the gateway/trivial ratio of each (target: the gateway's p50 at most 2x the trivial
server's). Then, in-process and without HTTP, where one gateway request's CPU time goes
(engine, simulated model, the rest of the gateway), each against the same run's baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

BODY_TEMPLATE = {
    "model": "moonshotai/Kimi-K2.6",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "[{nonce}] Say hello in five words."},
    ],
    "max_tokens": 64,
    "temperature": 0.7,
}
FIXED_ANSWER = json.dumps({
    "id": "devshard-1-1", "object": "chat.completion", "created": 0, "model": "moonshotai/Kimi-K2.6",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, nice to meet."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46},
}).encode()


# --- load generator (second process) ---------------------------------------------------------


def client_main(url: str, requests: int, concurrency: int, stream: bool, tag: str) -> None:
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/chat/completions"
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            body = json.loads(json.dumps(BODY_TEMPLATE))
            body["messages"][1]["content"] = body["messages"][1]["content"].replace("{nonce}", f"{tag}-{number}")
            if stream:
                body["stream"] = True
            payload = json.dumps(body).encode()
            started = time.perf_counter()
            try:
                conn.request("POST", path, payload, {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            mine.append(time.perf_counter() - started)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "requests": len(latencies), "errors": errors[0], "seconds": elapsed, "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000, "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }))


def load(url: str, requests: int, concurrency: int, stream: bool, tag: str) -> dict:
    """One load run; adds the server side's CPU time per request (both servers live in this
    otherwise idle process, so its CPU time is theirs; unlike latency, it hardly depends on what
    else the machine runs)."""
    command = [sys.executable, os.path.abspath(__file__), "--client", url, "--requests", str(requests),
               "--concurrency", str(concurrency), "--tag", tag] + (["--stream"] if stream else [])
    cpu = time.process_time()
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    cpu = time.process_time() - cpu
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result | {"cpu_us": cpu / max(1, result["requests"]) * 1e6}


# --- where one request's time goes (in-process, no HTTP) -------------------------------------


def chat_request(number: int, stream: bool, tag: str):
    from email.message import Message

    from gonka_conformance.gateway.httpserver import Request

    body = json.loads(json.dumps(BODY_TEMPLATE))
    body["messages"][1]["content"] = body["messages"][1]["content"].replace("{nonce}", f"{tag}-{number}")
    if stream:
        body["stream"] = True
    raw = json.dumps(body).encode()
    headers = Message()
    headers["Content-Type"], headers["Authorization"] = "application/json", "Bearer sk-bench"
    return Request("POST", "/v1/chat/completions", "", headers, lambda: raw, "/v1/chat/completions")


def cpu_per_call(parts: dict, repeats: int = 7) -> dict[str, float]:
    """µs of this thread's CPU time per item for each ``name: (call, items)``: the best of
    ``repeats`` passes, the parts interleaved so a change in the machine's load hits all alike."""
    best = {name: float("inf") for name in parts}
    for _ in range(repeats):
        for name, (call, items) in parts.items():
            started = time.thread_time()
            for item in items:
                call(item)
            best[name] = min(best[name], (time.thread_time() - started) / len(items) * 1e6)
    return best


def breakdown(gateway, trivial_app, count: int, stream: bool) -> dict[str, float]:
    """CPU µs per request: the trivial application, the gateway's whole application, and the
    gateway's parts (engine ``normalize``; the simulated model with its canonical encoding)."""
    from gonka_conformance.engine.pipeline import normalize
    from gonka_conformance.gateway.simulate import canonical, simulate

    def drain(response) -> None:
        if response.stream is not None:
            for _ in response.stream:
                pass
        if response.on_close is not None:
            response.on_close()

    requests = [chat_request(n, stream, "breakdown") for n in range(count)]
    state = gateway.state

    def engine(request):
        return normalize(request.read_body(), model=state.default_model, revision=state.revision.id,
                         limits=state.settings.limits, profile=state.config.profile, catalogue=state.catalogue)

    results = [engine(r) for r in requests]
    return cpu_per_call({
        "trivial": (trivial_app, requests),
        "gateway": (lambda r: drain(gateway.router(r)), requests),
        "engine": (engine, requests),
        "simulation": (lambda a: simulate(a.body, model=a.model, family=a.family, fingerprint=canonical(a.body)), results),
    })


def trivial_app(request):
    from gonka_conformance.gateway.wire import Response

    request.read_body()
    return Response(200, [("Content-Type", "application/json")], FIXED_ANSWER)


def trivial_server():
    """The same HTTP stack (GatewayHTTPServer and its handler), with a trivial application."""
    from gonka_conformance.gateway.httpserver import GatewayHTTPServer

    app = trivial_app
    server = GatewayHTTPServer(("127.0.0.1", 0), app, body_limit=10 * 1024 * 1024)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per server (medians are printed)")
    parser.add_argument("--stream", action="store_true", help="streamed requests (SSE)")
    parser.add_argument("--breakdown", type=int, default=500, metavar="N",
                        help="requests for the in-process cost breakdown (0: none)")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client, args.requests, args.concurrency, args.stream, args.tag)
        return 0

    from gonka_conformance.gateway import GatewayConfig, ReferenceGateway

    server, trivial_url = trivial_server()
    gateway = ReferenceGateway(GatewayConfig())
    runs: dict[str, list[dict]] = {"trivial": [], "gateway": []}
    try:
        urls = {"trivial": trivial_url, "gateway": gateway.start()}
        for name, url in urls.items():
            load(url, args.warmup, args.concurrency, args.stream, f"warm-{name}")
        for round_number in range(args.rounds):  # alternate, so background load hits both alike
            for name, url in urls.items():
                runs[name].append(load(url, args.requests, args.concurrency, args.stream, f"{name}-{round_number}"))
    finally:
        gateway.close()
        server.stop()

    results = {name: {key: statistics.median(r[key] for r in rs) for key in ("rps", "p50_ms", "p99_ms", "cpu_us")}
               | {"errors": sum(r["errors"] for r in rs)} for name, rs in runs.items()}
    kind = "streamed" if args.stream else "non-streamed"
    print(f"{args.requests} {kind} requests per server per round, {args.rounds} alternating rounds (medians), "
          f"concurrency {args.concurrency}, loopback, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'server':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/req':>18} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:<9} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['cpu_us']:>18.0f} {r['errors']:>7}")
    t, g = results["trivial"], results["gateway"]
    p50 = g["p50_ms"] / t["p50_ms"]
    print(f"gateway/trivial: p50 {p50:.2f}x, p99 {g['p99_ms'] / t['p99_ms']:.2f}x, throughput {g['rps'] / t['rps']:.2f}x, "
          f"server CPU per request {g['cpu_us'] / t['cpu_us']:.2f}x (target: p50 at most 2x) "
          f"-> {'OK' if p50 <= 2.0 else 'OVER TARGET'}")
    if args.breakdown:
        parts = breakdown(gateway, trivial_app, args.breakdown, args.stream)
        whole = parts["gateway"]
        rows = [("engine (normalize)", parts["engine"]), ("simulated model", parts["simulation"]),
                ("rest (by difference)", whole - parts["engine"] - parts["simulation"]),
                ("gateway application", whole), ("trivial application", parts["trivial"])]
        print(f"\nwhere one request's CPU goes (in-process, no HTTP; best of 7 interleaved passes over {args.breakdown} requests):")
        print(f"{'part':<22} {'us':>8} {'share':>7}")
        for name, value in rows:
            print(f"{name:<22} {value:>8.1f} {value / whole:>7.0%}")
        added = whole - parts["trivial"]
        print(f"the gateway application adds {added:.0f} us of CPU per request: {added / (t['p50_ms'] * 1000):.2f}x the "
              f"trivial p50 and {added / t['cpu_us']:.2f}x the trivial server's CPU per request (HTTP included) in this run")
    return 0 if not (t["errors"] or g["errors"]) else 1


if __name__ == "__main__":
    sys.exit(main())
