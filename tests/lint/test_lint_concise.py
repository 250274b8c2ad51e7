"""``--format concise`` (one ``path:line:col: rule message [*]`` line per finding), the progress
display (on a terminal only, for large inputs), and findings placed at the field the client
sent."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from gonka_conformance.lint import lint
from gonka_conformance.lint.cli import main
from gonka_conformance.lint.progress import LARGE_INPUT_BYTES, progress

LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<rule>[a-z0-9_-]+) (?P<message>.+?)(?P<fix> \[\*\]| \[unsafe fix\])?$")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_concise_one_parseable_line_per_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "p.json", '{\n  "model": "moonshotai/Kimi-K2.6",\n  "messages": [{"role": "user", '
                                      '"content": "hi"}],\n  "max_tokens": 100,\n  "tags": ["a"]\n}\n')
    code = main([str(path), "--format", "concise", "--isolated", "--no-ignore-file"])
    lines = capsys.readouterr().out.splitlines()
    findings = [LINE.match(line) for line in lines if line.startswith(str(path))]
    assert code == 1 and findings and all(findings)
    by_rule = {m["rule"]: m for m in findings if m}
    assert (by_rule["reject-tags"]["line"], by_rule["reject-tags"]["col"], by_rule["reject-tags"]["fix"]) == ("5", "3", " [*]")
    assert by_rule["kimi-empty-content-think-burn"]["fix"] == " [unsafe fix]"
    # the Kimi budget the gateway writes because of max_tokens is shown at max_tokens, not 1:1
    assert (by_rule["kimi-empty-content-think-burn"]["line"], by_rule["kimi-empty-content-think-burn"]["col"]) == ("4", "3")
    assert lines[-2].startswith("Found 3 problems")


def test_concise_keeps_multiline_messages_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "p.jsonl", json.dumps({"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user",
                  "content": "x"}], "weird\nparam": 1}) + "\n")
    main([str(path), "--format", "concise", "--isolated", "--no-ignore-file"])
    out = capsys.readouterr().out.splitlines()
    assert all(LINE.match(line) for line in out if line.startswith(str(path)))
    assert sum(1 for line in out if line.startswith(str(path))) >= 1


def test_clean_payload_concise_prints_only_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "ok.json", json.dumps({"model": "MiniMaxAI/MiniMax-M2.7",
                                                   "messages": [{"role": "user", "content": "hi"}]}))
    assert main([str(path), "--format", "concise", "--isolated", "--no-ignore-file"]) == 0
    assert capsys.readouterr().out.startswith("All checks passed")


def test_missing_field_keeps_its_pointer_but_is_placed_at_the_client_field() -> None:
    body = '{"model": "moonshotai/Kimi-K2.6",\n "messages": [{"role": "user", "content": "x"}],\n "max_tokens": 100}'
    finding = next(f for f in lint(body) if f.rule == "kimi-empty-content-think-burn")
    assert finding.pointer == "/thinking_token_budget"
    assert (finding.line, finding.column) == (3, 2)
    tools = '{"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user", "content": "x"}],\n "tools": ' \
            '[{"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}}]}'
    finding = next(f for f in lint(tools) if f.rule == "kimi-default-budget-tool-heavy")
    assert (finding.line, finding.column) == (2, 2)  # at tools: the client sent no max_tokens


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _drive(tmp_path: Path, tty: bool, size: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("CI", raising=False)
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * size)
    stream = _Stream(tty)
    with progress("big.jsonl", path, None, stream) as tick:
        for _ in range(5):
            tick(size // 5)
    return stream.getvalue()


def test_progress_is_drawn_on_a_terminal_for_large_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _drive(tmp_path, True, LARGE_INPUT_BYTES + 10, monkeypatch)
    assert "big.jsonl" in out and "records" in out


@pytest.mark.parametrize("tty, size", [(False, LARGE_INPUT_BYTES + 10), (True, 100)])
def test_no_progress_when_not_a_terminal_or_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tty: bool,
                                                   size: int) -> None:
    assert _drive(tmp_path, tty, size, monkeypatch) == ""


def test_cli_on_a_pipe_prints_no_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    line = json.dumps({"model": "MiniMaxAI/MiniMax-M2.7",
                       "messages": [{"role": "user", "content": "y" * 2000}]}) + "\n"
    path = tmp_path / "many.jsonl"
    path.write_text(line * (LARGE_INPUT_BYTES // len(line) + 5))
    assert main([str(path), "--format", "concise", "--isolated", "--no-ignore-file"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "\x1b[" not in captured.out


def test_cli_on_a_real_terminal_draws_progress_on_stderr_only(tmp_path: Path) -> None:
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    line = json.dumps({"model": "MiniMaxAI/MiniMax-M2.7",
                       "messages": [{"role": "user", "content": "y" * 2000}]}) + "\n"
    path = tmp_path / "many.jsonl"
    path.write_text(line * (LARGE_INPUT_BYTES // len(line) + 5))
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a 160-column terminal
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    done = subprocess.Popen([sys.executable, "-m", "gonka_conformance.lint", str(path), "--format", "concise",
                             "--isolated", "--no-ignore-file"], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60  # a safety bound
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif done.poll() is not None:
            break
    out = done.communicate(timeout=60)[0]
    os.close(master)
    assert done.returncode == 0
    assert b"many.jsonl" in seen and b"records" in seen  # the bar, on the terminal
    assert out.decode().startswith("All checks passed") and b"\x1b[" not in out  # the report stays clean
