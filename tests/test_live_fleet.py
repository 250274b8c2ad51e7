"""A mixed-version fleet behind one URL: two reference gateways of different revisions behind a
round-robin loopback proxy, run with ``--repeat 3``, is reported as split with both revisions
named — in the terminal, report.json, report.html and summary.md."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx

from gateways import serve
from models import KIMI  # served by both revisions

KEY = "sk-fleet-Zq7tPLANTED0xW9"
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def round_robin(*upstreams: str) -> Iterator[str]:
    """A tiny buffering proxy: each request goes to the next upstream in turn."""
    turn = itertools.cycle(upstreams)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            with lock:
                upstream = next(turn)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
            try:
                answer = httpx.request(self.command, upstream.rstrip("/") + self.path.removeprefix("/v1"),
                                       content=body, headers=headers, timeout=20.0)
            except httpx.HTTPError:
                self.send_error(502)
                return
            self.send_response(answer.status_code)
            for name in ("content-type", "x-request-id"):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _relay

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_mixed_version_fleet_is_reported_as_split_with_both_revisions(tmp_path: Path) -> None:
    with serve(revision="2026-05") as old, serve(revision="2026-09") as new, round_robin(old.base_url, new.base_url) as url:
        done = subprocess.run([str(BIN / "gonka-conformance"), "run", "--base-url", url, "--models", KIMI, "--repeat", "3"],
                              capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "GONKA_API_KEY": KEY},
                              timeout=600)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    line = next(l for l in done.stdout.splitlines() if "fleet split:" in l)
    assert "2026-05" in line and "2026-09" in line and line.startswith("gonka-conformance: fleet split: about ")
    report = json.loads((tmp_path / "gonka-report" / "report.json").read_text())
    fleet = report["fingerprint"]["fleet"]
    assert fleet["split"] and {s["label"] for s in fleet["shares"]} == {"2026-05", "2026-09"}
    assert sum(s["percent"] for s in fleet["shares"]) in (99, 100, 101)
    # each telling case really disagreed across its repeats
    telling = {c["key"]: c for c in report["cases"] if c["key"] in fleet["cases"]}
    assert telling and all(any("inconsistent across 3 repeats" in p for p in c["problems"]) for c in telling.values())
    html = (tmp_path / "gonka-report" / "report.html").read_text()
    assert html.index("Fleet split:") < html.index('<table class="matrix">')
    assert "Fleet split:" in (tmp_path / "gonka-report" / "summary.md").read_text()
    assert KEY not in done.stdout + done.stderr + html


def test_a_consistent_fleet_is_not_split(tmp_path: Path) -> None:
    with serve(revision="2026-09") as one, serve(revision="2026-09") as two, round_robin(one.base_url, two.base_url) as url:
        done = subprocess.run([str(BIN / "gonka-conformance"), "run", "--base-url", url, "--models", KIMI, "--repeat", "2",
                               "-k", "reject or limit"], capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "GONKA_API_KEY": KEY}, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "fleet split" not in done.stdout
    assert json.loads((tmp_path / "gonka-report" / "report.json").read_text())["fingerprint"]["fleet"]["split"] is False
