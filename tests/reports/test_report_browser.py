"""The HTML report renders in a real headless browser (Debian's chromium), with and without JS."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gonka_conformance.reports.html import render_html
from samples import sample_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it")


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
    assert '<button type="button" class="copy"' in dom and 'hidden=""' not in dom  # copy buttons shown
    _assert_worst_first(dom)
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
    assert dom.count('class="copy"') == dom.count('hidden=""') > 0  # no copy button that cannot work
    _assert_worst_first(dom)
    assert screenshot(page, tmp_path) > 10_000


def screenshot(page: Path, tmp_path: Path, *extra: str) -> int:
    shot = tmp_path / "shot.png"
    chromium(*extra, f"--screenshot={shot}", "--window-size=1200,700", page.as_uri(), tmp_path=tmp_path)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return len(data)


def _assert_worst_first(dom: str) -> None:
    matrix = dom[dom.index('<table class="matrix">'):dom.index("</table>")]
    rows = [row.split("<td")[1] for row in matrix.split("<tr")[2:]]
    assert "stream-done-sentinel" in rows[0] and "limit-stop" in rows[1] and "accept-tools" in rows[-2]
    assert dom.index('id="o-error"') < dom.index('id="o-fail"') < dom.index('id="o-divergent"') < dom.index('id="o-pass"')
    assert '<a href="#o-fail"' in dom
    assert "chat_template_kwargs.thinking: expected false, observed absent" in dom
    assert "connection closed after 312 bytes (nothing usable was received)" in dom
    assert "Fleet split: about 58% of answers match 2026-05, 42% match 2026-09 (told apart by limit-stop[moonshotai/Kimi-K2.6])" in dom
    assert "Rerun with: <code>gonka-conformance run --base-url http://127.0.0.1:1/v1 --revision 2026-05</code>" in dom
    assert '{\n  "model": "m",' in dom  # bodies pretty-printed


def test_screenshot_of_a_report_with_failures(tmp_path: Path) -> None:
    """What docs/report-screenshot.png shows (regenerate: GONKA_SCREENSHOT=docs/report-screenshot.png)."""
    page = tmp_path / "report.html"
    page.write_text(render_html(sample_report()), encoding="utf-8")
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1300,900", page.as_uri(), tmp_path=tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    target = os.environ.get("GONKA_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
