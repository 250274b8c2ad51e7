"""The HTML report renders in a real headless browser (Debian's chromium), with and without JS."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gonka_conformance.reports.html import render_html
from gonka_conformance.reports.model import RunInfo, build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it")


def sample_report() -> dict:
    now = datetime.now(timezone.utc)
    info = RunInfo("http://127.0.0.1:1/v1", True, ["moonshotai/Kimi-K2.6", "MiniMaxAI/MiniMax-M2.7"], "2026-09", None,
                   "cheap", 1, now, now, 42, None, 1, None)
    cases = []
    for rule, outcome in [("reject-tags", "pass"), ("limit-stop", "fail"), ("strip-plugins", "divergent"),
                          ("clamp-temperature", "unobservable"), ("stream-done-sentinel", "error")]:
        for model in info.models:
            cases.append({"key": f"{rule}[{model}]", "case_id": rule, "rule": rule, "anchor": f"https://example.invalid/#{rule}",
                          "severity": "error", "model": model, "family": None, "outcome": outcome, "expected": "HTTP 400",
                          "observed": "HTTP 200", "problems": ["expected HTTP 400, got HTTP 200"] if outcome != "pass" else [],
                          "request": '{"tags": ["x"]}', "response": "{}", "curl": "curl …", "tokens": 0, "elapsed": 0.01,
                          "divergence": None})
    return build_report(info, cases, "test")


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_chromium_with_the_matrix_and_filters(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(sample_report()), encoding="utf-8")
    dom = chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path).stdout
    assert '<table class="matrix">' in dom and "limit-stop" in dom and "MiniMaxAI/MiniMax-M2.7" in dom
    assert 'class="filters" style=""' in dom  # the inline script ran and revealed the filter bar
    assert screenshot(page, tmp_path) > 10_000


def test_report_is_readable_with_javascript_disabled(tmp_path: Path) -> None:
    html = render_html(sample_report())
    # A Content-Security-Policy that forbids every script stands in for a reader with JS off.
    no_script = html.replace("<head>", "<head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">", 1)
    page = tmp_path / "report.html"
    page.write_text(no_script, encoding="utf-8")
    dom = chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path).stdout
    assert '<table class="matrix">' in dom and dom.count("<details") == len(sample_report()["cases"])
    assert '<div class="filters" style="display:none">' in dom  # the script really did not run
    assert screenshot(page, tmp_path) > 10_000


def screenshot(page: Path, tmp_path: Path, *extra: str) -> int:
    shot = tmp_path / "shot.png"
    chromium(*extra, f"--screenshot={shot}", "--window-size=1200,700", page.as_uri(), tmp_path=tmp_path)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return len(data)
