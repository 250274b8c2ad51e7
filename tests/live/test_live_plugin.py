"""The live suite as a pytest citizen: collection sends nothing, -x stops sending, items point
at their rule's YAML, harness errors are one line, no CLI reads abbreviated options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gonka_conformance.live import commands
from hostile import HostileBroker
from models import MINIMAX

KEY = "Zq7tPLANTEDkey0xW9mQ2vR"
BIN = Path(sys.executable).parent


def cli(*args: str, cwd: Path | None = None, tool: str = "gonka-conformance") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "GONKA_API_KEY": KEY}, timeout=300)


def test_pytest_collect_only_sends_no_chat_request_and_writes_no_report(tmp_path) -> None:
    report_dir = tmp_path / "reports"
    with HostileBroker("key-echo-message") as broker:
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "gonka_conformance.live",
                               "--co", "-q", "-k", "reject-tags or limit-stop", "--gonka-base-url", broker.base_url,
                               "--gonka-report-dir", str(report_dir), "--junitxml", str(report_dir / "junit.xml")],
                              capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "GONKA_API_KEY": KEY}, timeout=300)
        sent = broker.chat_requests
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sent == 0
    assert "reject-tags[moonshotai/Kimi-K2.6]" in done.stdout and "limit-stop[MiniMaxAI/MiniMax-M2.7]" in done.stdout
    assert not (report_dir / "report.json").exists() and not (report_dir / "report.html").exists()


def test_run_list_lists_cases_by_model_without_sending_or_writing(tmp_path) -> None:
    report_dir = tmp_path / "reports"
    with HostileBroker("key-echo-message") as broker:
        done = cli("run", "--list", "--base-url", broker.base_url, "--report-dir", str(report_dir), cwd=tmp_path)
        sent = broker.chat_requests
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sent == 0 and not report_dir.exists()
    listed = [line for line in done.stdout.splitlines() if line.endswith("]")]
    assert len(listed) > 200 and "reject-tags[MiniMaxAI/MiniMax-M2.7]" in listed  # item names, no file path
    assert not any("test_conformance.py" in line for line in done.stdout.splitlines())


def test_exitfirst_stops_sending_after_the_first_deviation(tmp_path) -> None:
    report_dir = tmp_path / "reports"
    concurrency = 2
    with HostileBroker("key-echo-message") as broker:  # a 400 for every request: the first case deviates
        done = cli("run", "-x", "--concurrency", str(concurrency), "--base-url", broker.base_url,
                   "--report-dir", str(report_dir), cwd=tmp_path)
        sent = broker.chat_requests
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert 1 <= sent <= concurrency + 1, f"{sent} requests sent after -x"
    report = json.loads((report_dir / "report.json").read_text())
    assert report["summary"]["fail"] >= 1 and report["summary"]["total"] == sent
    assert "stopping after 1 failures" in done.stdout


class _Locations:
    def __init__(self) -> None:
        self.items: list[tuple[str, tuple[str, int | None, str]]] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = [(item.name, item.location) for item in session.items]


def test_items_are_located_at_their_rule_in_the_yaml() -> None:
    locations = _Locations()
    code = pytest.main([str(commands.SUITE), "-c", str(commands.INI), "--rootdir", str(commands.SUITE.parent),
                        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", "--collect-only", "-q",
                        "--gonka-models", MINIMAX, "-k", "reject-tags or limit-stop or require-api-key"], plugins=[locations])
    assert code == 0 and len(locations.items) == 3
    for name, (path, line, domain) in locations.items:
        rule = name.split("[")[0].split(":")[0]
        source = (commands.SUITE.parent / path).resolve()
        assert source.suffix == ".yaml" and source.parent.name == "rules", path
        assert line is not None and f"id: {rule}" in source.read_text().splitlines()[line], (name, path, line)
        assert domain == name


def test_a_harness_error_is_one_line_per_case(tmp_path) -> None:
    done = cli("run", "--budget-tokens", "0", "--models", MINIMAX, "-q", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    output = done.stdout + done.stderr
    errors = json.loads((tmp_path / "r" / "report.json").read_text())["summary"]["error"]
    assert done.returncode == 3 and errors > 100
    assert "pluggy" not in output and "Traceback" not in output and "_pytest" not in output
    assert output.count("token budget of 0 exhausted") <= 2 * errors  # the ERRORS section and nothing more
    assert len(output.splitlines()) <= 3 * errors + 40  # header and line in ERRORS, one summary line


@pytest.mark.parametrize("tool, args", [
    ("gonka-conformance", ["run", "--co"]),  # once silently read as --concurrency
    ("gonka-conformance", ["run", "--concurr", "2", "--list"]),
    ("gonka-conformance", ["--cat=x", "rules"]),
    ("gonka-conformance", ["rules", "--sel", "reject"]),
    ("gonka-conformance", ["serve", "--por", "0"]),
    ("gonka-lint", ["--sel", "reject-tags", "-"]),
])
def test_no_cli_accepts_an_abbreviated_option(tmp_path, tool, args) -> None:
    done = cli(*args, cwd=tmp_path, tool=tool)
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr, done.stderr[-1000:]


def test_an_xdist_worker_refuses_the_suite_in_one_line(tmp_path) -> None:
    (tmp_path / "fake_worker.py").write_text("def pytest_configure(config):\n    config.workerinput = {}\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "fake_worker", "-p", "no:cacheprovider",
                           "--pyargs", "gonka_conformance.live", "--co", "-q"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode != 0 and "does not run under pytest-xdist" in done.stdout
    assert "Traceback" not in done.stdout and "plugin.py" not in done.stdout


def test_the_collection_hooks_never_fail_on_a_path_that_cannot_be_resolved(tmp_path) -> None:
    """The hooks see every path of every project with the plugin installed."""
    from gonka_conformance.live.plugin import SUITE_FILE, _is

    loop = tmp_path / SUITE_FILE.name  # the suite's own name, so the name check lets it through
    loop.symlink_to(tmp_path / "other")
    (tmp_path / "other").symlink_to(loop)
    assert _is(loop, SUITE_FILE) is False
    assert _is(SUITE_FILE, SUITE_FILE) and _is(SUITE_FILE.parent, SUITE_FILE.parent)
    assert not _is(tmp_path, SUITE_FILE.parent)
