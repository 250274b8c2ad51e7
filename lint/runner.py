"""Lint one request body: guards, the engine, findings, positions, fix offers — and ``--fix``.

Every body goes through the engine exactly once per pass; this module only decides what the
user sees: input it cannot lint becomes an :class:`InputError`, the analysis becomes findings
(:mod:`findings`), each finding gets its line and column (:mod:`locate`) and, where the
catalogue names a fix op that applies, an automatic fix (:mod:`fixes`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from gonka_conformance.goemu import json as gojson
from gonka_conformance.engine import body_limit
from gonka_conformance.engine import EngineError, analyse, limits_for
from gonka_conformance.engine.types import Analysis, Limits

from . import edits as edit_ops
from .findings import SEVERITY_RANK, Finding, ambient, map_analysis
from .fixes import FixContext, changes_for, describe
from .inputs import InputError, Record
from .locate import SourceIndex

if TYPE_CHECKING:
    from gonka_conformance.catalogue.loader import Catalogue

MAX_FIX_PASSES = 10


@dataclass(frozen=True)
class Options:
    """What to lint against: the same knobs as the engine's ``analyse``."""

    catalogue: "Catalogue"
    model: str | None = None  # routed model when the body names none
    revision: str | None = None
    profile: str | None = None
    limits: Limits | None = None
    admin: bool = False

    # Cached: asked for every record and every finding (the instance is frozen, and
    # ``dataclasses.replace`` makes a new one with its own cache).
    @cached_property
    def effective_limits(self) -> Limits:
        return self.limits if self.limits is not None else limits_for(self.catalogue, self.profile)

    @cached_property
    def max_body(self) -> int:
        """The gateway's body limit, from the catalogue only (a catalogue without it is a bug)."""
        return body_limit(self.catalogue)


@dataclass
class Outcome:
    """One body, linted."""

    record: Record
    findings: list[Finding] = field(default_factory=list)
    error: InputError | None = None
    analysis: Analysis | None = None
    index: SourceIndex | None = None
    skipped: bool = False  # found in a directory walk, and not a chat request
    internal: bool = False  # the engine failed: a bug, reported as such
    shared: dict[str, Any] = field(default_factory=dict, repr=False)  # what fix ops share per body


# --- guards ----------------------------------------------------------------------------------


def _position(raw: bytes, offset: int, record: Record) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    line = raw.count(b"\n", 0, offset)
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    if line == 0:
        column += record.column - 1
    return record.line + line, column


def _error(record: Record, message: str, offset: int | None = None) -> InputError:
    if record.anchor is not None:
        line, column = record.anchor
    elif offset is not None:
        line, column = _position(record.raw, offset, record)
    else:
        line = column = None  # type: ignore[assignment]
    return InputError(record.file, message, record.record, line, column)


def body_problem(record: Record, max_body: int) -> tuple[InputError | None, str | None]:
    """Why these bytes are not a request body to lint (and else their text)."""
    raw = record.raw
    if len(raw) > max_body:
        return None, None  # the engine answers 413 for it; no need to read it further
    if raw.startswith(b"\xef\xbb\xbf"):
        return _error(record, "starts with a UTF-8 byte-order mark, which the gateway rejects "
                              f"({_go_message(raw)}); save it without a BOM", 0), None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return _error(record, "UTF-16 text; request bodies must be UTF-8", 0), None
    nul = raw.find(b"\x00")
    if nul != -1:
        return _error(record, "binary data (a NUL byte), not a JSON request body", nul), None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(record, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", exc.start), None
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return _error(record, "empty: no request body"), None
    if stripped[0] != "{":
        offset = len(raw) - len(stripped.encode("utf-8"))
        what = _json_kind(stripped)
        if what is None:
            return _error(record, "not JSON (a request body is one JSON object)", offset), None
        hint = "; lint several bodies as JSON Lines (.jsonl)" if what == "a JSON array" and record.record is None else ""
        return _error(record, f"{what}, not a request body (a JSON object){hint}", offset), None
    return None, text


def _go_message(raw: bytes) -> str:
    """The gateway's own decode error for these bytes (quoted, not restated)."""
    try:
        gojson.decode_object(raw)
    except gojson.GoJSONError as exc:
        return exc.message
    return "rejected"


def _json_kind(text: str) -> str | None:
    """What a non-object JSON text is (``None`` when it is not JSON at all)."""
    if text[0] == "[":
        return "a JSON array"
    try:  # numbers are only classified: a 20,000-digit integer is still a JSON number
        value = json.loads(text, parse_int=lambda _: 0, parse_float=lambda _: 0.0, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None
    if value is None:
        return "JSON null"
    return {bool: "a JSON boolean", str: "a JSON string"}.get(type(value), "a JSON number")


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _parse_error(record: Record, text: str) -> InputError:
    """Go's decode error, at its position (one decode: the engine's own decoder)."""
    try:
        gojson.decode_object(record.raw)
    except gojson.GoJSONError as exc:
        position = exc.position
        offset = len(text[:position].encode("utf-8")) if position is not None and text else position
        return _error(record, f"invalid JSON: {exc.message}", offset)
    except RecursionError:
        return _error(record, "invalid JSON: nested too deeply")
    return _error(record, "invalid JSON")


# --- linting ---------------------------------------------------------------------------------


def lint_record(record: Record, options: Options, *, whole_file: bool = False,
                only_requests: bool = False) -> Outcome:
    """Lint one body. ``whole_file``: the body is a whole ``.json`` file (trailing data after
    the object is reported); ``only_requests``: quietly skip JSON that is not a chat request
    (files found in a directory walk, such as ``package.json``)."""
    catalogue = options.catalogue
    max_body = options.max_body
    error, text = body_problem(record, max_body)
    # Broken JSON that does not even mention messages is someone else's file (tsconfig.json…).
    quiet = only_requests and b'"messages"' not in record.raw
    if error is not None:
        return Outcome(record, error=error, skipped=quiet)
    try:
        analysis = analyse(record.raw, model=options.model, revision=options.revision, limits=options.limits,
                           admin=options.admin, profile=options.profile, catalogue=catalogue)
    except EngineError as exc:
        return Outcome(record, error=_error(record, f"internal error (please report it): {exc}"), internal=True)
    except RecursionError:
        return Outcome(record, error=_error(record, "internal error (please report it): recursion too deep"),
                       internal=True)
    if analysis.rejections and _stage(catalogue, analysis.rejections[0].rule) == "parse":
        return Outcome(record, error=_parse_error(record, text or ""), analysis=analysis, skipped=quiet)
    if only_requests and analysis.parsed and not ({"messages", "model"} & analysis.client_keys):
        return Outcome(record, analysis=analysis, skipped=True)
    index = SourceIndex(text, line=record.line, column=record.column) if text is not None else None
    if whole_file and index is not None and analysis.parsed and analysis.whole is not True:
        trailing = _trailing_data(index)  # (scans the body: only when the engine's decode saw more)
        if trailing is not None:
            return Outcome(record, error=_error(record, "extra data after the request body (one JSON object "
                                                        "per .json file; use .jsonl for several)",
                                                len(text[:trailing].encode("utf-8"))))  # type: ignore[index]
    events = ambient(catalogue, analysis.result.model, options.model, options.revision, options.profile,
                     options.limits, options.admin)
    client_has = index.exists if index is not None else (lambda pointer: False)
    findings = map_analysis(analysis, catalogue, events, client_has, options.profile)
    outcome = Outcome(record, analysis=analysis, index=index)
    outcome.findings = [_complete(finding, outcome, options) for finding in findings]
    return outcome


def _stage(catalogue: "Catalogue", rule_id: str) -> str | None:
    rule = catalogue.by_id.get(rule_id)
    return rule.stage if rule else None


def _trailing_data(index: SourceIndex) -> int | None:
    try:
        root = index.container(index.root)
        end = root.complete().end if root else None
    except Exception:  # a body the engine accepted but the scanner cannot follow: say nothing
        return None
    if end is None:
        return None
    rest = index.text[end:]
    blank = " \t\r\n"  # JSON white space (Go ignores whatever follows the object anyway)
    return end + (len(rest) - len(rest.lstrip(blank))) if rest.strip(blank) else None


def _complete(finding: Finding, outcome: Outcome, options: Options) -> Finding:
    """Where the finding is, and which fix is offered for it."""
    record = outcome.record
    line = column = None
    stage = _stage(options.catalogue, finding.rule)
    if record.anchor is not None:
        line, column = record.anchor
    elif stage == "scan":  # nesting depth: point at the bracket one level too deep
        offset = _depth_offset(record.raw, options, finding.rule)
        if offset is not None:
            line, column = _position(record.raw, offset, record)
    elif stage != "read" and outcome.index is not None:
        line, column = outcome.index.locate(_anchor(outcome.index, finding, options))
    fix = describe(fix_context(outcome, finding, options)) if outcome.index is not None else None
    return finding.placed(record.file, record.record, line, column, fix)


def _anchor(index: SourceIndex, finding: Finding, options: Options) -> str:
    """Where a finding is shown: its pointer when the client sent that field; else the first
    client field the rule names in ``lint.at`` (a budget the gateway writes because of
    ``max_tokens`` is shown at ``max_tokens``); else the pointer, which ``locate`` places at its
    nearest existing parent. The finding keeps the pointer it would have either way."""
    if finding.pointer and index.exists(finding.pointer):  # the root is everyone's parent
        return finding.pointer
    rule = options.catalogue.by_id.get(finding.rule)
    for pointer in (rule.lint.get("at") or []) if rule else []:
        if index.exists(pointer):
            return pointer
    return finding.pointer


def _depth_offset(raw: bytes, options: Options, rule_id: str) -> int | None:
    rule = options.catalogue.by_id.get(rule_id)
    for target in rule.targets if rule else ():
        limit = target.options.get("limit")
        if isinstance(limit, int):
            return gojson.nesting_depth_offset(raw, limit)
    return None


def fix_context(outcome: Outcome, finding: Finding, options: Options) -> FixContext:
    assert outcome.index is not None and outcome.analysis is not None
    return FixContext(finding, options.catalogue.by_id.get(finding.rule), outcome.index, outcome.analysis,
                      options.catalogue, options.effective_limits, options.profile, outcome.shared)


# --- fixing ----------------------------------------------------------------------------------


@dataclass
class FixResult:
    before: Outcome
    after: Outcome
    fixed: list[Finding]  # findings of ``before`` gone from ``after``

    @property
    def changed(self) -> bool:
        return self.after.record.raw != self.before.record.raw


def fix_record(record: Record, options: Options, accept: Callable[[Finding], bool], *,
               whole_file: bool = False, only_requests: bool = False) -> FixResult:
    """Apply the accepted fixes, re-linting after each pass until nothing more applies (a fix
    can make room for another, as in Ruff)."""
    first = outcome = lint_record(record, options, whole_file=whole_file, only_requests=only_requests)
    seen = {record.raw}
    for _ in range(MAX_FIX_PASSES):
        if outcome.error is not None or outcome.index is None or outcome.skipped:
            break
        text = outcome.index.text
        planned: list[edit_ops.Edit] = []
        candidates = [f for f in outcome.findings if f.fix and f.fix.available and accept(f)]
        candidates.sort(key=lambda f: (SEVERITY_RANK.get(f.severity, 3), f.line or 0, f.column or 0))
        for finding in candidates:
            changes = changes_for(fix_context(outcome, finding, options))
            if not changes:
                continue
            try:
                edits = edit_ops.plan(changes, outcome.index)
            except (edit_ops.EditError, ValueError, IndexError):
                continue
            if any(edit_ops.conflicts(edit, planned) for edit in edits):
                continue  # the next pass, on the rewritten text
            planned.extend(edits)
        if not planned:
            break
        new_text = edit_ops.apply(text, planned)
        raw = new_text.encode("utf-8", errors="surrogatepass")
        if raw in seen or not _is_object(new_text):
            break  # no progress, or (a bug) the text stopped being a JSON object: keep the last good one
        seen.add(raw)
        candidate = lint_record(dataclasses.replace(record, raw=raw), options, whole_file=whole_file)
        if candidate.error is not None:
            break
        outcome = candidate
    remaining = {f.key for f in outcome.findings}
    return FixResult(first, outcome, [f for f in first.findings if f.key not in remaining])


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text, parse_int=str), dict)
    except (ValueError, RecursionError):
        return False
