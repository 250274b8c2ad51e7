"""``gonka-conformance run`` as a broker's engineer sees it: a compact terminal, the rerun hint,
baselines on a first run, configuration files and JSON on stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from gateways import serve
from gonka_conformance.live.terminal import non_pass_table
from gonka_conformance.live.runner import CaseResult
from models import KIMI

KEY = "sk-terminal-Zq7tPLANTED0xW9"
BIN = Path(sys.executable).parent
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n
KIMI_LOWER = KIMI.lower()  # the catalogue id in lower case (routing matches model ids case-insensitively)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gonka-conformance"), "run", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "GONKA_API_KEY": KEY}, timeout=400)


def test_default_embedded_run_fits_in_40_plain_lines(tmp_path: Path) -> None:
    done = run(cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) <= 40, done.stdout
    assert not CONTROL.search(done.stdout + done.stderr)  # not a tty: no colour, no cursor movement
    for noise in ("metadata", "hypothesis", "site-packages", "test_conformance.py", "rootdir", "plugins:"):
        assert noise not in done.stdout, noise
    assert any(re.search(r"gonka-conformance: \d+/\d+ done · \d+ pass · \d+ tokens · [\d.]+s", line) for line in lines)
    assert re.search(r"gonka-conformance: \d+ pass, 0 fail, .*; tokens spent [1-9]\d*", done.stdout)
    assert "best explained by revision" in done.stdout and "rerun with" not in done.stdout
    assert (tmp_path / "gonka-report" / "report.html").is_file()


def test_gonkagate_gateway_without_profile_prints_the_exact_rerun_command(tmp_path: Path) -> None:
    with serve(profile="gonkagate.com") as gw:
        done = run("--base-url", gw.base_url, "--models", KIMI_LOWER, cwd=tmp_path)
        url = gw.base_url
    assert done.returncode == 1, done.stdout[-3000:]
    assert f"gonka-conformance: rerun with: gonka-conformance run --base-url {url} --models {KIMI_LOWER} --profile gonkagate.com" in done.stdout
    # the table: one line per non-pass case, expected vs observed and the anchor
    row = next(line for line in done.stdout.splitlines() if line.startswith("fail") and "strip-plugins" in line)
    assert KIMI_LOWER in row and "expected HTTP 200, observed HTTP 400 'Plugin config is invalid'" in row
    assert row.rstrip().endswith("#strip-plugins")
    report = json.loads((tmp_path / "gonka-report" / "report.json").read_text())
    assert report["fingerprint"]["best"]["profile"] == "gonkagate.com"
    assert report["fingerprint"]["rerun"].endswith("--profile gonkagate.com")
    summary = (tmp_path / "gonka-report" / "summary.md").read_text()
    assert "Rerun with:" in summary and report["fingerprint"]["rerun"] in summary
    assert "Rerun with: <code>" in (tmp_path / "gonka-report" / "report.html").read_text()
    assert KEY not in done.stdout + done.stderr


def test_verbose_lists_items_as_rule_and_model_without_a_path(tmp_path: Path) -> None:
    with serve(profile="gonkagate.com") as gw:
        done = run("--base-url", gw.base_url, "--models", KIMI_LOWER, "-k", "strip-plugins or reject-tags", "-v", cwd=tmp_path)
    assert done.returncode == 1
    assert re.search(rf"^reject-tags\[{re.escape(KIMI_LOWER)}\] PASSED", done.stdout, re.M), done.stdout
    assert re.search(rf"^strip-plugins\[{re.escape(KIMI_LOWER)}\] FAILED", done.stdout, re.M)
    assert "test_conformance.py" not in done.stdout and "metadata" not in done.stdout
    assert "reproduce: curl" in done.stdout  # -v shows each deviation in full
    report = json.loads((tmp_path / "gonka-report" / "report.json").read_text())
    html = (tmp_path / "gonka-report" / "pytest-report.html").read_text()
    assert '<title id="head-title">gonka-conformance: http://127.0.0.1:' in html
    # durations are the requests' own time, not the wait in setup while other items were in flight
    junit = ET.parse(tmp_path / "gonka-report" / "junit.xml").getroot()
    times = {case.get("name"): float(case.get("time")) for case in junit.iter("testcase")}
    for case in report["cases"]:
        assert abs(times[case["key"]] - case["elapsed"]) < 0.05, (case["key"], times, case["elapsed"])
    assert all(row in html for row in ("Target", "Revision", "Profile", "Tier", "Tokens", report["revision"]))


def test_missing_baseline_is_a_warning_with_a_hint_unless_required(tmp_path: Path) -> None:
    missing = tmp_path / "conformance" / "baseline.json"
    done = run("-k", "reject-tags", "--models", "moonshotai/Kimi-K2.6", "--baseline", str(missing), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    hint = f"gonka-conformance baseline {Path('gonka-report') / 'report.json'} -o {missing}"
    assert "does not exist yet" in done.stderr and hint in done.stderr and hint in done.stdout
    strict = run("-k", "reject-tags", "--baseline", str(missing), "--baseline-required", cwd=tmp_path)
    assert strict.returncode == 2 and "cannot read baseline" in strict.stderr and "Traceback" not in strict.stderr


def test_configuration_file_settings_and_flags_that_win(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.gonka-conformance]\nmodels = ["MiniMaxAI/MiniMax-M2.7"]\n'
        'report-dir = "from-config"\ntier = "cheap"\nconcurrency = 2\n', encoding="utf-8")
    done = run("-k", "reject-tags", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "from-config" / "report.json").read_text())
    assert report["target"]["models"] == ["MiniMaxAI/MiniMax-M2.7"]
    flags = run("-k", "reject-tags", "--report-dir", "from-flag", "--models", "moonshotai/Kimi-K2.6", cwd=tmp_path)
    assert flags.returncode == 0
    assert json.loads((tmp_path / "from-flag" / "report.json").read_text())["target"]["models"] == ["moonshotai/Kimi-K2.6"]
    (tmp_path / "gonka-conformance.toml").write_text('repots-dir = "x"\n', encoding="utf-8")  # a typo
    typo = run("-k", "reject-tags", cwd=tmp_path)
    assert typo.returncode == 2 and "unknown setting 'repots-dir'" in typo.stderr
    (tmp_path / "gonka-conformance.toml").write_text('tier = "expensive"\n', encoding="utf-8")
    bad = run("-k", "reject-tags", cwd=tmp_path)
    assert bad.returncode == 2 and "tier must be one of cheap, full" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "gonka-conformance.toml").write_text('api-key = "sk-abc"\n', encoding="utf-8")
    secret = run("-k", "reject-tags", cwd=tmp_path)
    assert secret.returncode == 2 and "never put a key in a file" in secret.stderr and "sk-abc" not in secret.stderr


def test_format_json_prints_the_report_alone_on_stdout(tmp_path: Path) -> None:
    done = run("-k", "reject-tags", "--models", "moonshotai/Kimi-K2.6", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["summary"]["pass"] == report["summary"]["total"] >= 1
    assert "gonka-conformance: " in done.stderr  # the terminal output went to stderr


def test_non_pass_table_for_a_pipe_has_no_control_characters() -> None:
    result = CaseResult(key="k[m]", case_id="strip-plugins", rule="strip-plugins", anchor="https://x.invalid/#strip-plugins",
                        severity="error", model="m\x1b[31m", family=None, outcome="fail", expected="HTTP 200",
                        observed="HTTP 200", problems=["chat_template_kwargs.thinking: expected false, observed absent"],
                        request="", response="", curl="", tokens=0, elapsed=0.0)
    plain = non_pass_table([result], tty=False)
    assert not CONTROL.search(plain)
    assert "chat_template_kwargs.thinking: expected false, observed absent" in plain  # same status: the problem instead
    coloured = non_pass_table([result], tty=True)
    assert "\x1b[" in coloured and "m\x1b[31m" not in coloured  # our colours; the broker's escape stays text


def test_bash_completion_completes_subcommands_and_run_options(tmp_path: Path) -> None:
    script = subprocess.run([str(BIN / "gonka-conformance"), "completion", "bash"], capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and script.stdout
    (tmp_path / "completion.sh").write_text(script.stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (f'source {tmp_path / "completion.sh"}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                 f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; _shtab_gonka_conformance; echo "${{COMPREPLY[@]}}"')
        return subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60).stdout.split()

    assert complete("gonka-conformance", "r") == ["rules", "run"]
    assert complete("gonka-conformance", "run", "--baseline-r") == ["--baseline-required"]
    assert "json" in complete("gonka-conformance", "run", "--format", "")
    bad = subprocess.run([str(BIN / "gonka-conformance"), "completion", "cmd.exe"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_tty_gets_a_live_progress_line(tmp_path: Path) -> None:
    import pty
    import select

    primary, secondary = pty.openpty()
    process = subprocess.Popen([str(BIN / "gonka-conformance"), "run", "-k", "reject", "--models", "moonshotai/Kimi-K2.6"],
                               stdout=secondary, stderr=secondary, stdin=subprocess.DEVNULL, cwd=tmp_path,
                               env={**os.environ, "GONKA_API_KEY": KEY, "COLUMNS": "160", "TERM": "xterm"})
    os.close(secondary)
    output = b""
    try:
        while True:  # bounded: the process is killed by the timeout below at worst
            ready, _, _ = select.select([primary], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            output += chunk
    finally:
        process.wait(timeout=300)
        os.close(primary)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text[-2000:]
    assert "\x1b[" in text  # a live, redrawn line
    assert re.search(r"\d+/\d+ .*\d+ pass.*· \d+ tokens · [\d.]+s", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text))
    assert "gonka-conformance: 25%" not in text and " done · " not in text  # milestones are for pipes only
