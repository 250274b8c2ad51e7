"""gonka-lint and the rest of bad input (issue 9, part 4): huge integers, FIFOs and devices in a
folder, paths that do not exist, and secrets that move to another field in --show-normalized."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gonka_conformance.lint import lint
from gonka_conformance.lint.cli import main
from models import KIMI

GOOD = {"model": KIMI, "messages": [{"role": "user", "content": "hi"}]}
HUGE = "9" * 20_000  # past Python's 4,300-digit limit for int(str)
GONKA_LINT = Path(sys.executable).with_name("gonka-lint")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--isolated", "--no-ignore-file", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def body_with(extra: str) -> str:
    return json.dumps(GOOD)[:-1] + ", " + extra + "}"


# --- huge integers -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "n", "seed", "max_completion_tokens"])
def test_a_huge_integer_is_a_finding_with_its_position(tmp_path: Path, capsys, field: str) -> None:
    text = body_with(f'"{field}": {HUGE}')
    path = tmp_path / "big.json"
    path.write_text(text)
    code, out, err = run(capsys, str(path), "--format", "json")
    report = json.loads(out)
    (finding,) = [f for f in report["findings"] if f["pointer"] == f"/{field}"]
    assert finding["severity"] == "error" and code == 1
    assert (finding["line"], finding["column"]) == (1, text.index(f'"{field}"') + 1)
    assert err == ""


@pytest.mark.parametrize("extra", [
    f'"temperature": {HUGE}', f'"temperature": {HUGE}.5e-3', f'"metadata": {{"x": {HUGE}}}',
    f'"extra_body": {{"max_tokens": {HUGE}}}', f'"max_tokens": "{HUGE}"', f'"max_tokens": -{HUGE}',
])
@pytest.mark.parametrize("options", [(), ("--diff", "--unsafe-fixes"), ("--show-normalized",), ("--format", "sarif")])
def test_huge_numbers_never_crash_any_mode(tmp_path: Path, capsys, extra: str, options: tuple[str, ...]) -> None:
    path = tmp_path / "big.json"
    path.write_text(body_with(extra))
    code, out, err = run(capsys, str(path), *options)
    assert code in (0, 1)  # findings or none; never an input or internal error
    assert "internal error" not in err


def test_a_huge_top_level_number_is_named_as_a_number(tmp_path: Path, capsys) -> None:
    path = tmp_path / "n.json"
    path.write_text(HUGE)
    code, out, err = run(capsys, str(path))
    assert code == 2 and f"{path}:1:1: a JSON number, not a request body" in err


def test_a_huge_integer_in_a_har_capture_or_jsonl(tmp_path: Path, capsys) -> None:
    entry = {"request": {"method": "POST", "url": "https://x/v1/chat/completions",
                         "postData": {"text": body_with(f'"n": {HUGE}')}}, "time": 1}
    har = tmp_path / "c.har"
    har.write_text(json.dumps({"log": {"entries": [entry]}}).replace('"time": 1', f'"time": {HUGE}'))
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text(json.dumps(GOOD) + "\n" + body_with(f'"n": {HUGE}') + "\n")
    code, out, err = run(capsys, str(har), str(jsonl), "--format", "json")
    findings = json.loads(out)["findings"]
    assert code == 1 and err == ""
    assert {(Path(f["file"]).name, f["pointer"]) for f in findings if f["severity"] == "error"} == \
        {("c.har", "/n"), ("l.jsonl", "/n")}


def test_the_library_reports_a_huge_integer_too() -> None:
    findings = lint(body_with(f'"max_tokens": {HUGE}'))
    assert any(f.pointer == "/max_tokens" and f.severity == "error" for f in findings)


def test_a_huge_digit_string_is_not_coerced(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s.json"
    path.write_text(body_with(f'"max_tokens": "{HUGE}"'))
    before = path.read_text()
    code, out, err = run(capsys, str(path), "--fix", "--unsafe-fixes")
    assert path.read_text() == before and code == 1


# --- special files in a folder -----------------------------------------------------------------


def test_a_fifo_socket_and_device_in_a_folder_are_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "ok.json").write_text(json.dumps(GOOD))
    os.mkfifo(tmp_path / "x.json")  # reading it would wait for a writer forever
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "s.jsonl"))
        result = subprocess.run([str(GONKA_LINT), "--isolated", "--no-ignore-file", str(tmp_path)],
                                capture_output=True, text=True, timeout=60)
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert "All checks passed: 1 request body in 1 file." in result.stdout
    for name, what in (("x.json", "a FIFO"), ("zero.json", "a character device"), ("s.jsonl", "a socket")):
        assert f"note: {tmp_path / name}: skipped: {what}, not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_folder_of_only_special_files_says_what_it_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.json")
    result = subprocess.run([str(GONKA_LINT), "--isolated", "--no-ignore-file", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert "skipped: a FIFO" in result.stderr and "no .json, .jsonl, .ndjson or .har files" in result.stderr
    assert result.returncode == 2 and "All checks passed" not in result.stdout  # nothing was linted


# --- paths that do not exist ----------------------------------------------------------------------


def test_a_missing_path_is_an_error_not_all_checks_passed(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.json"
    code, out, err = run(capsys, str(missing))
    assert code == 2
    assert "All checks passed" not in out
    assert out.strip() == "Nothing checked: 1 input could not be linted."
    assert f"{missing}: no such file or directory" in err


def test_missing_and_present_paths_together(tmp_path: Path, capsys) -> None:
    good = tmp_path / "ok.json"
    good.write_text(json.dumps(GOOD))
    code, out, err = run(capsys, str(good), str(tmp_path / "gone.json"))
    assert code == 2 and "All checks passed" not in out
    assert out.strip().startswith("Not all checked: 1 input could not be linted")


def test_the_error_line_is_red_with_colour(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, str(tmp_path / "missing.json"), "--color", "always")
    assert "\x1b[1;31m" in err and "\x1b[1;31m" in out


# --- secrets in --show-normalized ------------------------------------------------------------------


SECRETS = {"api_key": "sk-live-AAAABBBBCCCCDDDD", "token": "tok-1234567890", "client_secret": "abc",
           "x-password": "hunter2-hunter2"}


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_show_normalized_masks_secrets_wherever_they_moved(tmp_path: Path, capsys, fmt: str) -> None:
    body = {**GOOD, "extra_body": dict(SECRETS), "metadata": {"note": "key is sk-live-AAAABBBBCCCCDDDD"},
            "messages": [{"role": "user", "content": "my token tok-1234567890"}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(body))
    code, out, err = run(capsys, str(path), "--show-normalized", "--format", fmt)
    for secret in SECRETS.values():
        assert secret not in out + err
    if fmt == "json":
        events = [e for item in json.loads(out)["normalized"] for e in item["events"]]
        lifted = [e for e in events if e["pointer"].startswith("/extra_body/") and "after" in e]
        assert lifted and all(e["after"] == "***" for e in lifted)


def test_show_normalized_masks_a_forwarded_secret(tmp_path: Path, capsys) -> None:
    body = {**GOOD, "metadata": {"session_token": "abcd-SECRET-1234"}, "user": "abcd-SECRET-1234"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(body))
    code, out, err = run(capsys, str(path), "--show-normalized", "--format", "json")
    assert "abcd-SECRET-1234" not in out
    (item,) = json.loads(out)["normalized"]
    assert item["result"]["outcome"] == "accepted"
    assert item["result"]["body"]["user"] == "***"  # masked by value, under a harmless name
    assert item["result"]["body"]["metadata"] == {"session_token": "***"}  # and by name


def test_secret_names_do_not_swallow_ordinary_fields() -> None:
    from gonka_conformance.lint.masking import is_secret_name

    assert all(is_secret_name(n) for n in ("api_key", "API-Key", "x_api_key", "token", "access_token", "password",
                                           "client_secret", "Authorization", "cookie"))
    assert not any(is_secret_name(n) for n in ("max_tokens", "prompt_cache_key", "thinking_token_budget",
                                               "return_token_ids", "min_tokens", "cache_key", "tokenizer"))


# --- the ignore file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make, expected", [
    (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
    (lambda p: p.symlink_to("/dev/zero"), "not a regular file (a character device)"),
    (lambda p: p.write_text("version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))), "an alias bomb?"),
])
def test_a_hostile_ignore_file_is_one_error_line(tmp_path: Path, make, expected: str) -> None:
    (tmp_path / "ok.json").write_text(json.dumps(GOOD))
    make(tmp_path / ".gonka-lint-ignore.yaml")
    result = subprocess.run([str(GONKA_LINT), "--isolated", "ok.json"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"gonka-lint: {tmp_path / '.gonka-lint-ignore.yaml'}:") and expected in result.stderr


def test_a_deeply_nested_pyproject_is_an_error_line_not_a_recursion_traceback(tmp_path: Path) -> None:
    (tmp_path / "ok.json").write_text(json.dumps(GOOD))
    (tmp_path / "pyproject.toml").write_text("[tool.gonka-lint]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    found = subprocess.run([str(GONKA_LINT), "ok.json"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert found.returncode == 0 and found.stderr == ""  # a broken pyproject found by the walk is not ours
    named = subprocess.run([str(GONKA_LINT), "--config", "pyproject.toml", "ok.json"], capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert named.returncode == 2 and named.stderr == "gonka-lint: pyproject.toml: invalid TOML: nested too deeply\n"


@pytest.mark.parametrize("flag", [[], ["--agent-config"]])
def test_a_symlink_loop_is_an_unreadable_input_not_a_traceback(tmp_path: Path, flag: list[str]) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = subprocess.run([str(GONKA_LINT), "--isolated", "--no-ignore-file", *flag, "a"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert "Traceback" not in result.stderr and result.returncode == 2, result.stderr
    assert result.stderr.startswith("gonka-lint: a: ") and "could not be linted" in result.stdout


# --- lone surrogates -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "text", "concise", "sarif", "github", "junit"])
def test_a_lone_surrogate_key_is_written_escaped_in_every_format(tmp_path: Path, capsys, fmt: str) -> None:
    # "\udc00" is valid JSON text for a string no UTF-8 stream can carry; it shows up in the
    # finding's pointer (an unknown field), which every format writes.
    path = tmp_path / "lone.json"
    path.write_text(body_with('"\\udc00": 1'))
    code, out, _ = run(capsys, str(path), "--format", fmt)
    assert code == 1 and out
    if fmt in {"json", "sarif"}:
        assert "/\udc00" in json.dumps(json.loads(out), ensure_ascii=False)  # still valid JSON, same pointer
    out_file = tmp_path / "report.out"
    assert main(["--isolated", "--no-ignore-file", str(path), "--format", fmt, "--output", str(out_file)]) == 1
    assert out_file.read_bytes().decode("utf-8")  # the report file is UTF-8 too
