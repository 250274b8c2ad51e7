"""The live suite's outputs against a broker that echoes secrets and injects markup or escapes.

Each mode runs ``gonka-conformance run`` end to end against a ``HostileBroker`` on loopback,
with a planted key shaped like no credential pattern (only known-secret redaction can hide it)
and a ``?sig=`` query value as a further secret, both echoed back by the broker. Every output
file, stdout and stderr must be free of the secrets (and of their first 8 characters), of
live broker markup and of terminal control characters.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest

from hostile import HostileBroker

KEY = "Zq7tPLANTEDkey0xW9mQ2vR"  # no sk-/Bearer/URL shape: the redactor knows it only as the configured key
SIG = "SIGq8Zr3secretT5"
URL_TOKEN = "TOKnB4v9userPart"
OUTPUTS = ("report.json", "report.html", "junit.xml", "summary.md", "pytest-report.html")
BROKER_MARKUP = ("<img src=x", "<script>alert")
CONTROL = re.compile("[\x1b\x07\r\x00\x08\u202e]")
SAFE_NAME = re.compile(r"^[A-Za-z0-9._:/-]+\[[A-Za-z0-9._/:-]+\]$")

#: (mode, exit code): 400s where 200s are due are deviations (1); 5xx and unreadable streams are
#: observations that could not be made (3).
MODES = [("key-echo-message", 1), ("key-echo-body", 1), ("key-echo-5xx", 3), ("key-echo-stream", 3),
         ("key-echo-models", 1), ("markup", 1), ("key-echo-utf16", 1)]


def run_against(broker: HostileBroker, report_dir: Path, base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("gonka-conformance")
    return subprocess.run([str(script), "run", "--base-url", base_url, "--report-dir", str(report_dir),
                           "--timeout", "5", "--retries", "0", *extra],
                          capture_output=True, text=True, env={**os.environ, "GONKA_API_KEY": KEY}, timeout=300)


def secrets_of(*values: str) -> list[str]:
    return [piece for value in values for piece in (value, value[:8])]


def assert_no_secret(texts: dict[str, str], *values: str) -> None:
    for name, text in texts.items():
        # also as a reader sees UTF-16 text shown byte by byte: NULs (raw or escaped) skipped
        readable = re.sub(r"\x00|\\x00|\\u0000|&#0;", "", text)
        for secret in secrets_of(*values):
            assert secret not in text and secret not in readable, f"{secret!r} leaked into {name}"


def pytest_html_tests(path: Path) -> dict:
    """The tests pytest-html's script turns into rows: the JSON blob its page carries."""
    blob = re.search(r'data-jsonblob="([^"]*)"', path.read_text())
    assert blob, "pytest-report.html has no data blob"
    return json.loads(unescape(blob.group(1)))["tests"]


def assert_no_live_markup(report_dir: Path) -> None:
    for name in ("report.html", "pytest-report.html", "summary.md"):
        text = (report_dir / name).read_text()
        for markup in BROKER_MARKUP:
            assert markup not in text, f"live broker markup {markup!r} in {name}"
    # pytest-html inserts each row's cells and log as HTML: the broker's markup must arrive
    # there escaped (as &lt;img …), never as a tag.
    for runs in pytest_html_tests(report_dir / "pytest-report.html").values():
        for run in runs:
            html = "".join(run["resultsTableRow"]) + run.get("log", "")
            assert "<img" not in html and "<script" not in html


@pytest.mark.parametrize("mode, exit_code", MODES)
def test_no_secret_markup_or_escape_reaches_any_output(tmp_path, mode, exit_code) -> None:
    report_dir = tmp_path / "reports"
    with HostileBroker(mode, echo_request=True, max_seconds=30) as broker:
        started = time.monotonic()
        done = run_against(broker, report_dir, f"{broker.base_url}?sig={SIG}")
        elapsed = time.monotonic() - started
        sent = broker.chat_requests
    output = done.stdout + done.stderr
    assert done.returncode == exit_code, output[-3000:]
    assert elapsed < 240 and sent > 0
    assert "INTERNALERROR" not in output and "Traceback" not in output

    files = {name: (report_dir / name).read_text(errors="replace") for name in OUTPUTS}
    assert_no_secret({**files, "stdout": done.stdout, "stderr": done.stderr}, KEY, SIG)
    assert_no_live_markup(report_dir)
    assert not CONTROL.search(output), "a control character reached the terminal"
    assert not CONTROL.search(files["summary.md"]) and not CONTROL.search(files["report.html"])

    report = json.loads(files["report.json"])
    # Every judged request reached the broker (cases may share one: cost-aware probing); the
    # cases not sent are the black-box-unobservable ones, and no broken answer passes wholesale.
    unsent = [case for case in report["cases"] if case["packed"] == 0]
    assert all(case["outcome"] == "unobservable" and "not sent" in case["observed"] for case in unsent)
    judged = {case["request"] for case in report["cases"] if case["packed"] >= 1}
    assert report["summary"]["total"] == len(report["cases"]) and 0 < len(judged) <= sent
    assert report["summary"]["pass"] < report["summary"]["total"] - len(unsent)
    junit = ET.parse(report_dir / "junit.xml").getroot()
    names = [case.get("name") for case in junit.iter("testcase")]
    assert len(names) == report["summary"]["total"] and all(SAFE_NAME.match(name) for name in names), names[:3]
    suite = junit.find("testsuite")  # rendered from the same model: the counts agree, failures say how to reproduce
    assert int(suite.get("failures")) == report["summary"]["fail"] + report["summary"]["xpass"]
    assert int(suite.get("errors")) == report["summary"]["error"] + (1 if report["error"] else 0)
    assert all("reproduce: curl" in failure.text for failure in suite.iter("failure"))


def test_model_ids_become_safe_test_ids_mapped_to_the_redacted_real_id(tmp_path) -> None:
    report_dir = tmp_path / "reports"
    with HostileBroker("markup") as broker:
        done = run_against(broker, report_dir, broker.base_url, "-k", "reject-tags")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    cases = json.loads((report_dir / "report.json").read_text())["cases"]
    assert len(cases) == 2
    for case in cases:
        name = case["key"].split("[", 1)[1].rstrip("]")
        assert re.fullmatch(r"[A-Za-z0-9._/:-]+-[0-9a-f]{8}", name), name  # sanitised, with a hash of the real id
        assert "<img" in case["model"] or "\\x1b" in case["model"]  # the real id, kept as (printable) text
    assert {c["model"].split("<")[0].split("\\")[0] for c in cases} == {"moonshotai/Kimi-K2.6", "MiniMaxAI/MiniMax-M2.7"}
    html = (report_dir / "report.html").read_text()
    assert "&lt;img src=x onerror=" in html  # shown, as text
    # the broker's message ends in "authorization: ": redacting the rendered page once swallowed what followed
    assert html.count('<p class="label">Reproduce ') == len(cases) and html.rstrip().endswith("</html>")
    summary = (report_dir / "summary.md").read_text()
    assert "&lt;img" in summary and "<img" not in summary and "`moonshotai" not in summary  # text, not a code span


def test_url_credentials_and_query_values_appear_nowhere(tmp_path) -> None:
    report_dir = tmp_path / "reports"
    with HostileBroker("key-echo-message", echo_request=True) as broker:
        url = broker.base_url.replace("http://", f"http://{URL_TOKEN}@") + f"?sig={SIG}&tenant=acmeTenant77"
        done = run_against(broker, report_dir, url, "-k", "reject-tags or require-api-key")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    texts = {name: (report_dir / name).read_text() for name in OUTPUTS}
    basic = base64.b64encode(f"{URL_TOKEN}:".encode()).decode()  # what an HTTP client sends for a URL user
    assert_no_secret({**texts, "stdout": done.stdout, "stderr": done.stderr}, KEY, SIG, URL_TOKEN, basic, "acmeTenant77")
    assert "127.0.0.1" in texts["report.json"]  # the target is still named, without its credentials


# --- the pieces, directly ------------------------------------------------------------------------


def test_clip_redacts_before_it_cuts_and_leaves_no_prefix_at_the_cut() -> None:
    from gonka_conformance.common.redact import Redactor

    redactor = Redactor(fragments=True)
    redactor.add(KEY)
    straddling = "x" * 1995 + KEY  # a naive cut at 2,000 keeps the key's first 5 characters
    for text in (straddling, "y" * 1997 + KEY[:3] + "tail", f"provided: {KEY[:10]}****{KEY[-4:]}"):
        clipped = redactor.clip(text, 2000)
        assert KEY[:3] not in clipped and len(clipped) <= 2000 + 40
    assert redactor.clip("\x1b[2J\x1b]0;t\x07\rPASSED\n", 100) == "\\x1b[2J\\x1b]0;t\\x07\\x0dPASSED\\x0a"


def test_every_credential_of_a_base_url_is_a_known_secret() -> None:
    from gonka_conformance.common.redact import Redactor

    redactor = Redactor()
    redactor.add_url(f"http://{URL_TOKEN}@h.example/v1?sig={SIG}&region=euWest42#frag1234")
    basic = base64.b64encode(f"{URL_TOKEN}:".encode()).decode()
    shown = redactor.text(f"{URL_TOKEN} {SIG} euWest42 frag1234 Basic {basic}")
    assert not any(s in shown for s in (URL_TOKEN, SIG, "euWest42", "frag1234", basic)), shown


def test_safe_model_ids_are_stable_distinct_and_redacted() -> None:
    from gonka_conformance.common.redact import Redactor
    from gonka_conformance.live.runner import safe_model_id

    redactor = Redactor()
    redactor.add(KEY)
    assert safe_model_id("moonshotai/Kimi-K2.6", redactor) == "moonshotai/Kimi-K2.6"
    marked = safe_model_id("m<img src=x>", redactor)
    assert re.fullmatch(r"m_img_src_x_-[0-9a-f]{8}", marked) and marked == safe_model_id("m<img src=x>", redactor)
    assert marked != safe_model_id("m<img src=y>", redactor)
    keyed = safe_model_id(f"m-{KEY}", redactor)
    assert KEY[:8] not in keyed and re.fullmatch(r"m-___-[0-9a-f]{8}", keyed)


def test_markdown_keeps_broker_text_as_text() -> None:
    from gonka_conformance.reports.markdown import _text

    assert _text("a`b <img src=x> [x](javascript:y) | *k*") == "a\\`b &lt;img src=x&gt; \\[x\\](javascript:y) \\| \\*k\\*"


def test_the_pattern_prefilter_never_skips_a_credential() -> None:
    """``Redactor`` skips its credential patterns on text without any of their literals; on
    credential-shaped and arbitrary text the result is the same as applying every pattern."""
    from hypothesis import given, settings, strategies as st

    from gonka_conformance.common import redact

    def every_pattern(text: str) -> str:
        for pattern in redact._PATTERNS:
            text = pattern.sub(redact._mask_match, text)
        return text

    shapes = st.sampled_from(["Authorization: ", "AUTHORIZATION=\"", "Bearer ", "bEaReR ", "https://u:p@", "x://t@",
                              "?key=", "&Token=", "sk-", "gp-", "gnk-sk-", "sk-proj-", " ", "\n", "\u202e", "é"])
    tokens = st.text(alphabet=st.sampled_from("aZ09._~+/=-@:?&#"), min_size=0, max_size=24)

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.lists(st.one_of(shapes, tokens, st.text(max_size=8)), max_size=8))
    def same(parts: list[str]) -> None:
        text = "".join(parts)
        assert redact.Redactor().text(text) == every_pattern(text)

    same()
    assert redact.Redactor().text("Bearer abcdefgh12") == "Bearer ***"  # (and the check can fail)


def test_a_secret_spread_by_nul_bytes_is_masked_and_other_nuls_are_kept() -> None:
    from gonka_conformance.common.redact import Redactor, printable

    for fragments in (False, True):
        redactor = Redactor(fragments=fragments)
        redactor.add(KEY)
        wide = "x" + "\x00".join(KEY) + "\x00 tail"  # UTF-16 at an odd offset, read as UTF-8
        shown = printable(redactor.text(wide))
        assert KEY not in re.sub(r"\\x00", "", shown) and "***" in shown, shown
        assert redactor.text("a\x00b") == "a\x00b"  # no secret behind it: the bytes stay as they were
    cut = Redactor(fragments=True)
    cut.add(KEY)
    assert "***" in cut.text("\x00".join(KEY[2:12]))  # a piece of the key, spread: masked too


def test_an_answer_in_utf16_is_read_as_a_client_reads_it() -> None:
    """json.loads on bytes (httpx, the OpenAI SDK) reads UTF-16 JSON: so does the observation,
    so the broker's message is judged and redacted as the text it is."""
    from gonka_conformance.live.cases import LiveRequest
    from gonka_conformance.live.observe import Target, send
    from gonka_conformance.live.transport import bounded_client

    with HostileBroker("key-echo-utf16") as broker:
        target = Target(base_url=broker.base_url, api_key=KEY, retries=0)
        with bounded_client(broker.base_url) as client:
            observation = send(client, target, LiveRequest(body=b'{"model":"m","messages":[]}'), sleep=lambda _: None)
    assert observation.status == 400 and observation.error_message == f"Incorrect API key provided: {KEY}"
