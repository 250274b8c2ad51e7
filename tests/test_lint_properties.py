"""Property tests: no input makes gonka-lint crash or hang, positions and spans are exact, and
the fast depth scans agree with upstream's byte-by-byte walk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gonka_conformance.goemu import json as gojson
from gonka_conformance.engine.context import child
from gonka_conformance.lint import PayloadError, lint
from gonka_conformance.lint.cli import main
from gonka_conformance.lint.inputs import Record
from gonka_conformance.lint.locate import SourceIndex
from gonka_conformance.lint.runner import Options, fix_record
from models import CATALOGUE

# GONKA_LINT_EXAMPLES=5000 for a longer hunt; the default keeps the suite fast.
FAST = settings(max_examples=int(os.environ.get("GONKA_LINT_EXAMPLES", "150")), deadline=2000,
                suppress_health_check=[HealthCheck.too_slow])

KEYS = ["model", "messages", "tools", "tool_choice", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "n", "stream", "stream_options", "tags", "store", "think", "cache_key", "extra_body", "reasoning",
        "thinking", "thinking_token_budget", "response_format", "structured_outputs", "functions", "seed", "stop",
        "bad_words", "logit_bias", "metadata", "user", "role", "content", "tool_calls", "tool_call_id", "id",
        "type", "function", "name", "arguments", "parameters", "properties", "items", "$ref", "$defs", "", "a/b~c"]
SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**20) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12) | st.sampled_from(["user", "assistant", "tool", "system", "developer", "function",
                                             "required", "auto", "moonshotai/Kimi-K2.6", "image_url", "text"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5), max_leaves=30)
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "tool", "system", "developer"]),
                                 "content": st.none() | st.text(max_size=10) | st.just([{"type": "text", "text": "x"}])},
                                optional={"tool_call_id": st.sampled_from(["a", "b"]), "name": st.just("f"),
                                          "tool_calls": st.lists(st.fixed_dictionaries({
                                              "id": st.sampled_from(["a", "b", "functions.f:0"]),
                                              "type": st.just("function"),
                                              "function": st.fixed_dictionaries({"name": st.sampled_from(["f", "g"]),
                                                                                 "arguments": st.just("{}")})}),
                                              max_size=3)})
BODY = st.fixed_dictionaries({"messages": st.lists(MESSAGE, min_size=0, max_size=5)},
                             optional={k: JSON for k in KEYS[:30] if k != "messages"}) \
    | st.dictionaries(st.sampled_from(KEYS), JSON)


def _check(findings) -> None:
    for finding in findings:
        assert finding.severity in ("error", "warning", "info") and finding.rule in CATALOGUE.by_id
        assert finding.pointer == "" or finding.pointer.startswith("/")
        assert finding.line is None or (finding.line >= 1 and finding.column >= 1)


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        _check(lint(data, catalogue=CATALOGUE))
    except PayloadError:
        pass


@FAST
@given(st.text(alphabet='{}[]":,0123456789.-eE \\tnrufals\n', max_size=200))
def test_json_like_text_never_crashes(text: str) -> None:
    try:
        _check(lint(text, catalogue=CATALOGUE))
    except PayloadError:
        pass


@FAST
@given(BODY, st.sampled_from([None, 1, 2, 4]), st.sampled_from(["2026-05", "2026-09"]),
       st.sampled_from([None, "gonkagate.com"]))
def test_arbitrary_payloads_lint_with_exact_positions(body: dict[str, Any], indent, revision, profile) -> None:
    text = json.dumps(body, indent=indent)
    findings = lint(text, revision=revision, profile=profile, catalogue=CATALOGUE)
    _check(findings)
    index = SourceIndex(text)
    for finding in findings:
        if finding.pointer and index.exists(finding.pointer):
            assert (finding.line, finding.column) == index.locate(finding.pointer)


@FAST
@given(BODY, st.booleans())
def test_fixes_always_leave_a_json_object_and_reach_a_fixpoint(body: dict[str, Any], unsafe: bool) -> None:
    text = json.dumps(body, indent=2)
    options = Options(CATALOGUE)
    accept = lambda f: bool(f.fix and f.fix.available and (f.fix.safe or unsafe))  # noqa: E731
    result = fix_record(Record("p.json", None, text.encode()), options, accept)
    fixed = result.after.record.raw
    assert isinstance(json.loads(fixed), dict)
    for finding in result.fixed:
        assert finding.key not in {f.key for f in result.after.findings}


def _all_pointers(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    out = [(pointer, value)]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _all_pointers(item, child(pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _all_pointers(item, f"{pointer}/{index}")
    return out


@FAST
@given(st.dictionaries(st.text(max_size=5), JSON, max_size=6), st.sampled_from([None, 0, 2, "\t"]),
       st.booleans())
def test_locate_spans_hold_exactly_the_value(doc: dict[str, Any], indent, ascii_only: bool) -> None:
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    index = SourceIndex(text)
    for pointer, value in _all_pointers(doc):
        span = index.value_span(pointer)
        assert span is not None, pointer
        assert json.loads(text[span[0]:span[1]]) == value


# --- the depth scans ------------------------------------------------------------------------------


def reference_depth_offset(raw: bytes, limit: int) -> int | None:
    """Upstream's pre-scan, byte by byte (request_filters.go)."""
    depth = 0
    in_string = escaped = False
    for index, byte in enumerate(raw):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            if depth > limit:
                return index
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return None


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=60) | st.text(alphabet='[]{}"\\\x00\x01a ', max_size=60).map(str.encode),
       st.integers(0, 5))
def test_fast_depth_scan_is_the_byte_walk(raw: bytes, limit: int) -> None:
    assert gojson.nesting_depth_offset(raw, limit) == reference_depth_offset(raw, limit)


@FAST
@given(JSON, st.integers(0, 6))
def test_tree_depth_is_the_byte_walk_for_json(value: Any, limit: int) -> None:
    raw = json.dumps(value).encode()
    assert gojson.tree_depth_exceeds(value, limit) == (reference_depth_offset(raw, limit) is not None)


# --- the command line on garbage -----------------------------------------------------------------


@settings(max_examples=40, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.sampled_from([".json", ".jsonl", ".har", ".txt"]))
def test_the_command_line_never_crashes(tmp_path: Path, capsys, data: bytes, suffix: str) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    code = main(["--isolated", "--no-ignore-file", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2) and "Traceback" not in err
    json.loads(out)


def test_depth_check_still_scans_bytes_the_decoder_does_not_see() -> None:
    """The depth check decodes first only when the body is exactly one JSON value; trailing
    bytes (ignored by the decoder, counted by upstream's pre-scan) and invalid JSON are scanned."""
    from gonka_conformance import analyse

    body = b'{"messages": [{"role": "user", "content": "hi"}]}'
    assert not analyse(body, catalogue=CATALOGUE).rejections
    for raw in (body + b" " + b"[" * 33, b'{"messages": ' + b"[" * 40 + b"x", b"[" * 33 + b"]" * 33):
        assert analyse(raw, catalogue=CATALOGUE).rejections[0].rule == "limit-nesting-depth"
    inside = b'{"messages": [{"role": "user", "content": "' + b"[" * 100 + b'"}]}'
    assert not analyse(inside, catalogue=CATALOGUE).rejections
