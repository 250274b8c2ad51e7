"""gonka-lint inputs: files, JSON Lines, HAR, directories, stdin — and every kind of bad input
getting one clear line naming the file, never a traceback, while the other inputs are linted."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from gonka_conformance.lint import PayloadError, lint
from gonka_conformance.lint.cli import main
from models import PLAIN

GOOD = {"model": PLAIN, "messages": [{"role": "user", "content": "hi"}]}
TAGGED = {**GOOD, "tags": ["x"]}


def run(capsys: pytest.CaptureFixture[str], *args: str, stdin: bytes | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(["--isolated", "--no-ignore-file", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def write(path: Path, data: Any) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data, indent=2).encode())
    return path


# --- bad input ----------------------------------------------------------------------------------

BAD = {
    "invalid.json": (b'{"model": "x",\n  "messages": [}\n', "invalid JSON", (2, 16)),
    "array.json": (b'[{"messages": []}]', "a JSON array, not a request body", (1, 1)),
    "scalar.json": (b"  42\n", "a JSON number", (1, 3)),
    "string.json": (b'"hello"', "a JSON string", (1, 1)),
    "null.json": (b"null", "JSON null", (1, 1)),
    "binary.json": (b'{"a": "\x00\x01\x02"}', "binary data", (1, 8)),
    "latin1.json": (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', "invalid UTF-8", (1, 47)),
    "bom.json": (b'\xef\xbb\xbf{"messages": [{"role": "user", "content": "hi"}]}', "byte-order mark", (1, 1)),
    "utf16.json": ('{"a": 1}'.encode("utf-16"), "UTF-16", (1, 1)),
    "empty.json": (b"", "empty", None),
    "not-json.json": (b"model: x\n", "not JSON", (1, 1)),
    "nan.json": (b'{"temperature": NaN, "messages": []}', "invalid JSON", (1, 17)),
    "trailing.json": (b'{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": []}\n',
                      "extra data after the request body", (2, 1)),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_clear_line_and_the_rest_is_linted(name: str, tmp_path: Path, capsys) -> None:
    data, message, position = BAD[name]
    bad = write(tmp_path / name, data)
    good = write(tmp_path / "tagged.json", TAGGED)
    code, out, err = run(capsys, str(bad), str(good), "--format", "json")
    assert code == 2
    lines = [line for line in err.splitlines() if str(bad) in line]
    assert len(lines) == 1 and message in lines[0], err
    if position:
        assert lines[0].startswith(f"gonka-lint: {bad}:{position[0]}:{position[1]}: "), lines[0]
    report = json.loads(out)
    assert [f["rule"] for f in report["findings"]] == ["reject-tags"]  # the other file was linted
    assert report["errors"][0]["file"] == str(bad) and report["summary"]["input_errors"] == 1


def test_library_raises_payload_error_for_bad_input() -> None:
    for name, (data, message, _position) in BAD.items():
        if name == "trailing.json":  # the gateway ignores what follows the object; so does lint()
            assert lint(data) == []
            continue
        with pytest.raises(PayloadError, match=re.escape(message)):
            lint(data)


def test_deep_nesting_is_the_gateway_rejection_with_a_position(tmp_path: Path, capsys) -> None:
    depth = 200_000
    deep = write(tmp_path / "deep.json", b'{"messages": [{"role": "user", "content": "hi"}],\n "metadata": '
                 + b"[" * depth + b"]" * depth + b"}")
    code, out, err = run(capsys, str(deep), "--format", "json")
    assert code == 1
    finding = json.loads(out)["findings"][0]
    assert finding["rule"] == "limit-nesting-depth" and finding["severity"] == "error"
    assert (finding["line"], finding["column"]) == (2, 14 + 31)  # the 33rd opening bracket


def test_a_file_of_hundreds_of_megabytes_is_read_only_up_to_the_limit(tmp_path: Path, capsys) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:  # sparse: 300 MiB on paper, nothing on disk
        handle.write(b'{"messages": "')
        handle.truncate(300 * 1024 * 1024)
    code, out, err = run(capsys, str(huge), "--format", "json")
    assert code == 1
    finding = json.loads(out)["findings"][0]
    assert finding["rule"] == "limit-body-size" and finding["status"] == 413 and finding["line"] is None


def test_missing_files_and_directories_without_payloads(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty-dir").mkdir()
    code, out, err = run(capsys, str(tmp_path / "nope.json"), str(tmp_path / "empty-dir"))
    assert code == 2
    assert "nope.json: no such file or directory" in err
    assert "no .json, .jsonl, .ndjson or .har files" in err


# --- JSON Lines ---------------------------------------------------------------------------------


def test_jsonl_records_are_linted_one_by_one(tmp_path: Path, capsys) -> None:
    lines = [json.dumps(GOOD), "", json.dumps(TAGGED), "not json", json.dumps([1]),
             json.dumps({**GOOD, "think": True})]
    log = write(tmp_path / "requests.jsonl", ("\n".join(lines) + "\n").encode())
    code, out, err = run(capsys, str(log), "--format", "json")
    assert code == 2  # two unreadable records
    report = json.loads(out)
    assert [(f["record"], f["rule"], f["line"]) for f in report["findings"]] == [
        (3, "reject-tags", 3), (6, "strip-think", 6)]
    assert sorted(e["record"] for e in report["errors"]) == [4, 5]
    assert report["summary"]["records"] == 5
    assert f"{log}:4:1: not JSON" in err and f"{log}:5:1: a JSON array" in err


def test_an_oversized_jsonl_record_does_not_stop_the_others(tmp_path: Path, capsys) -> None:
    big = json.dumps({**GOOD, "messages": [{"role": "user", "content": "x" * (11 * 1024 * 1024)}]})
    log = write(tmp_path / "big.ndjson", f"{big}\n{json.dumps(TAGGED)}\n".encode())
    code, out, err = run(capsys, str(log), "--format", "json")
    findings = json.loads(out)["findings"]
    assert [(f["record"], f["rule"]) for f in findings] == [(1, "limit-body-size"), (2, "reject-tags")]


# --- HAR ------------------------------------------------------------------------------------------

SECRET = "sk-live-DO-NOT-PRINT-0123456789"


def har(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}}


def entry(method: str, url: str, body: Any = None, **post: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                               "headers": [{"name": "Authorization", "value": f"Bearer {SECRET}"}],
                               "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1}
    if body is not None:
        request["postData"] = {"mimeType": "application/json",
                               "text": body if isinstance(body, str) else json.dumps(body), **post}
    return {"startedDateTime": "2026-05-01T00:00:00Z", "time": 1, "request": request, "response": {}}


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "junit"])
def test_har_posts_to_chat_completions_are_linted_and_headers_never_printed(fmt: str, tmp_path: Path, capsys) -> None:
    import base64

    capture = write(tmp_path / "capture.har", har([
        entry("GET", f"https://broker.example/v1/models?key={SECRET}"),
        entry("POST", f"https://user:{SECRET}@broker.example/v1/chat/completions?token={SECRET}", TAGGED),
        entry("POST", "https://broker.example/v1/embeddings", {"input": "x", "tags": ["x"]}),
        entry("POST", "https://broker.example/api/v1/chat/completions/", GOOD),
        entry("POST", "https://broker.example/v1/chat/completions",
              base64.b64encode(json.dumps({**GOOD, "think": True}).encode()).decode(), encoding="base64"),
    ]))
    code, out, err = run(capsys, str(capture), "--format", fmt)
    assert code == 1
    assert SECRET not in out + err
    assert "reject-tags" in out and "strip-think" in out
    if fmt == "json":
        findings = json.loads(out)["findings"]
        assert [(f["record"], f["rule"]) for f in findings] == [(1, "reject-tags"), (4, "strip-think")]
        assert all(f["line"] and f["line"] > 1 for f in findings)  # the captured body's position in the HAR


def test_har_without_chat_requests_and_broken_har(tmp_path: Path, capsys) -> None:
    empty = write(tmp_path / "empty.har", har([entry("GET", "https://x.example/")]))
    broken = write(tmp_path / "broken.har", b'{"log": {"entries": [')
    other = write(tmp_path / "other.har", {"not": "a har"})
    code, out, err = run(capsys, str(empty), str(broken), str(other))
    assert code == 2
    assert "no POST requests to */chat/completions" in err
    assert f"{broken}:1:" in err and "invalid HAR" in err
    assert "not a HAR file" in err


def test_a_har_saved_as_json_is_recognised(tmp_path: Path, capsys) -> None:
    saved = write(tmp_path / "capture.json", har([entry("POST", "https://b.example/v1/chat/completions", TAGGED)]))
    code, out, err = run(capsys, str(saved), "--format", "json")
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["reject-tags"]


# --- directories and stdin ----------------------------------------------------------------------


def test_directories_are_searched_and_non_requests_skipped(tmp_path: Path, capsys) -> None:
    fixtures = tmp_path / "fixtures"
    (fixtures / "nested").mkdir(parents=True)
    (fixtures / ".hidden").mkdir()
    (fixtures / "node_modules").mkdir()
    write(fixtures / "a.json", TAGGED)
    write(fixtures / "nested" / "b.jsonl", (json.dumps({**GOOD, "think": True}) + "\n").encode())
    write(fixtures / "package.json", {"name": "fixtures", "version": "1.0.0"})
    write(fixtures / "tsconfig.json", b"{ // comments are not JSON\n}")
    write(fixtures / ".hidden" / "c.json", TAGGED)
    write(fixtures / "node_modules" / "d.json", TAGGED)
    write(fixtures / "notes.txt", b"not linted")
    code, out, err = run(capsys, str(fixtures), "--format", "json")
    report = json.loads(out)
    assert code == 1 and err == ""
    assert sorted((Path(f["file"]).name, f["rule"]) for f in report["findings"]) == [
        ("a.json", "reject-tags"), ("b.jsonl", "strip-think")]
    assert report["summary"]["skipped"] == 2


def test_exclude_from_pyproject(tmp_path: Path, capsys, monkeypatch) -> None:
    write(tmp_path / "a.json", TAGGED)
    write(tmp_path / "skip-me.json", TAGGED)
    (tmp_path / "pyproject.toml").write_text('[tool.gonka-lint]\nexclude = ["skip-*"]\n')
    monkeypatch.chdir(tmp_path)
    code = main(["--no-ignore-file", ".", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and [Path(f["file"]).name for f in report["findings"]] == ["a.json"]


def test_stdin_json_jsonl_and_har(capsys, monkeypatch) -> None:
    code, out, err = run(capsys, "-", "--format", "json", stdin=json.dumps(TAGGED, indent=2).encode(),
                         monkeypatch=monkeypatch)
    report = json.loads(out)
    assert code == 1 and report["findings"][0]["file"] == "-" and report["findings"][0]["line"] == 9
    lines = (json.dumps(GOOD) + "\n" + json.dumps(TAGGED) + "\n").encode()
    code, out, err = run(capsys, "-", "--format", "json", stdin=lines, monkeypatch=monkeypatch)
    assert [(f["record"], f["rule"]) for f in json.loads(out)["findings"]] == [(2, "reject-tags")]
    capture = json.dumps(har([entry("POST", "https://b.example/v1/chat/completions", TAGGED)])).encode()
    code, out, err = run(capsys, "-", "--stdin-filename", "session.har", "--format", "json", stdin=capture,
                         monkeypatch=monkeypatch)
    assert json.loads(out)["findings"][0]["file"] == "session.har"
