"""``gonka-lint``: the command line. Exit 0 no error findings, 1 error findings (any finding
with --strict), 2 usage error or unreadable input, 3 an internal error (a bug)."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from gonka_conformance import __version__
from gonka_conformance.catalogue.loader import Catalogue, load_catalogue
from gonka_conformance.catalogue.choices import check_profile, check_revision
from gonka_conformance.commandline import run_guarded
from gonka_conformance.common.errors import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
# The command module sits at the CLI layer (pyproject's import-linter contract): it may pick a
# renderer, and it hands the one registry's names to the config check.
from gonka_conformance.reports.lint import FORMATS, renderer
from gonka_conformance.reports.lint import text as text_format

from . import agentconfig
from .config import IGNORE_FILE, Config, ConfigError, IgnoreFile, Selector, find_pyproject, load_config
from .findings import SEVERITIES, SEVERITY_RANK, Finding, sort_key
from .fixes import CatalogueOptionError
from .inputs import InputError, Note, Record, Source, discover, records
from .progress import progress
from .report import RecordSummary, Report
from .runner import FixResult, Options, Outcome, fix_record, lint_record
from .statistics import Statistics, statistics_of

PROG = "gonka-lint"


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Lint chat-completions payloads against Gonka's gateway rules (offline): every rejection, "
                    "silent change and FAQ advisory, with the rule, its upstream anchor, the JSON pointer and the fix.",
        epilog="Exit status: 0 no error findings, 1 error findings (any finding with --strict), "
               "2 usage error or unreadable input, 3 internal error. Manual: gonka-lint --docs (docs/lint.md, "
               "shipped in the package).")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=".json, .jsonl/.ndjson, .har files, directories, or - for stdin "
                             "(default: stdin when piped, else the current directory)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    target = parser.add_argument_group("target")
    target.add_argument("--model", help="routed model when a payload names none")
    target.add_argument("--revision", help="contract revision (default: the newest)")
    target.add_argument("--profile", metavar="BROKER", help="broker profile overlay (e.g. gonkagate.com)")
    target.add_argument("--catalogue", metavar="DIR", help="load the catalogue from DIR instead of the packaged one")
    select = parser.add_argument_group("selection")
    select.add_argument("--select", type=_csv, action="extend", metavar="RULES",
                        help="only these rule ids or id prefixes (comma-separated, repeatable; ALL for every rule)")
    select.add_argument("--extend-select", type=_csv, action="extend", default=None, metavar="RULES")
    select.add_argument("--ignore", type=_csv, action="extend", default=None, metavar="RULES",
                        help="skip these rule ids or prefixes (the most specific selector wins)")
    select.add_argument("--min-severity", choices=SEVERITIES, help="hide findings below this severity")
    select.add_argument("--strict", action="store_true", default=None, help="warnings and info fail too (exit 1)")
    select.add_argument("--exit-zero", action="store_true", help="exit 0 even with error findings")
    ignore = parser.add_argument_group("ignore file")
    ignore.add_argument("--ignore-file", metavar="PATH", help=f"findings accepted on purpose (default: {IGNORE_FILE})")
    ignore.add_argument("--no-ignore-file", action="store_true", help="do not read the ignore file")
    ignore.add_argument("--generate-ignore-file", action="store_true",
                        help="write the current findings of the linted files into the ignore file and exit")
    fixes = parser.add_argument_group("fixes")
    fixes.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    fixes.add_argument("--unsafe-fixes", action="store_true", default=None, help="also apply unsafe fixes")
    fixes.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    out = parser.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, help="output format (default: text)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    out.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    out.add_argument("--explain", metavar="RULE", help="print a rule's documentation and exit")
    out.add_argument("--statistics", action="store_true",
                     help="print rule x count x share of requests instead of the findings (text or --format json)")
    out.add_argument("--docs", action="store_true", help="print the manual (docs/lint.md, shipped in the package) and exit")
    out.add_argument("--show-normalized", action="store_true",
                     help="also show what the gateway forwards (or its rejection) and every event, per payload")
    out.add_argument("--stdin-filename", metavar="NAME", help="name stdin in the output (its extension picks the format)")
    out.add_argument("--requests-only", action="store_true",
                     help="skip JSON that is not a chat request (no messages, no model) even when named: for "
                          "pre-commit, which names every staged .json file")
    target.add_argument("--agent-config", action="append", metavar="PATH",
                        help="lint an agent's config file (OpenCode, Kilo Code, Hermes Agent, OpenClaw): the payloads "
                             "it sends, with findings at the config line (repeatable; a directory stands for the known "
                             "config files in it; known file names such as opencode.json are recognised among PATHs "
                             "and directories too)")
    conf = parser.add_argument_group("configuration")
    conf.add_argument("--config", metavar="PYPROJECT", help="read [tool.gonka-lint] from this pyproject.toml")
    conf.add_argument("--isolated", action="store_true", help="ignore pyproject.toml configuration")
    return parser


@dataclass
class Settings:
    """The command line merged over [tool.gonka-lint]."""

    catalogue: Catalogue
    options: Options
    selector: Selector
    config: Config
    format: str
    strict: bool
    unsafe: bool
    min_severity: str | None
    ignore: IgnoreFile | None


def settings(args: argparse.Namespace) -> Settings:
    if args.isolated:
        config = Config()
    else:
        path = Path(args.config) if args.config else find_pyproject(Path.cwd())
        if args.config and not path.is_file():  # type: ignore[union-attr]
            raise ConfigError(f"{args.config}: no such file")
        config = load_config(path, formats=FORMATS)
    catalogue = load_catalogue(args.catalogue)
    revision = args.revision or config.revision
    profile = args.profile or config.profile
    check_revision(catalogue, revision)
    check_profile(catalogue, profile)
    select = args.select if args.select is not None else config.select
    if select is not None and not select:
        raise ConfigError("empty rule selection (--select or select = []) would disable every rule; "
                          "name rules, prefixes or ALL")
    selector = Selector.build(catalogue.by_id, select, [*config.extend_select, *(args.extend_select or [])],
                              [*config.ignore, *(args.ignore or [])])
    ignore = None
    if not args.no_ignore_file:
        explicit = args.ignore_file or config.ignore_file
        base = Path.cwd() if args.ignore_file else config.root
        path = base / (explicit or IGNORE_FILE)
        ignore = IgnoreFile.load(path, required=bool(explicit) and not args.generate_ignore_file)
    options = Options(catalogue, model=args.model or config.model, revision=revision, profile=profile)
    return Settings(catalogue, options, selector, config, args.format or config.format or "text",
                    bool(args.strict if args.strict is not None else config.strict),
                    bool(args.unsafe_fixes if args.unsafe_fixes is not None else config.unsafe_fixes),
                    args.min_severity or config.min_severity, ignore)


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    settings: Settings
    findings: list[Finding] = field(default_factory=list)  # shown (after every filter)
    generated: list[Finding] = field(default_factory=list)  # for --generate-ignore-file
    errors: list[InputError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    normalized: list[RecordSummary] = field(default_factory=list)
    records: int = 0
    unreadable: int = 0  # records that could not be linted (each also in ``errors``)
    skipped: int = 0
    ignored: int = 0
    fixed: int = 0
    internal: bool = False
    har_note: bool = False
    diffs: list[str] = field(default_factory=list)
    stdout_fixed: list[str] = field(default_factory=list)

    def selected(self, finding: Finding) -> bool:
        s = self.settings
        if not s.selector(finding.rule):
            return False
        return s.min_severity is None or SEVERITY_RANK[finding.severity] <= SEVERITY_RANK[s.min_severity]

    def accept_fix(self, finding: Finding) -> bool:
        if not self.selected(finding) or not finding.fix or not finding.fix.available:
            return False
        if self.settings.ignore is not None and self.settings.ignore.matches(finding, record_use=False):
            return False
        return bool(finding.fix.safe) or self.settings.unsafe

    def keep(self, outcome: Outcome, show_normalized: bool) -> None:
        if outcome.skipped:
            self.skipped += 1
            return
        self.records += 1
        if outcome.error is not None:
            self.errors.append(outcome.error)
            self.unreadable += 1
            self.internal = self.internal or outcome.internal
            return
        if show_normalized and outcome.analysis is not None:
            self.normalized.append(_summary(outcome))
        self.keep_findings(outcome.findings)

    def keep_findings(self, findings: list[Finding]) -> None:
        for finding in findings:
            if not self.selected(finding):
                continue
            self.generated.append(finding)
            if self.settings.ignore is not None and self.settings.ignore.matches(finding):
                self.ignored += 1
                continue
            self.findings.append(finding)


def _summary(outcome: Outcome) -> RecordSummary:
    """What the gateway does with one body, with every secret-shaped value masked: the events'
    ``before`` carries the client's headers (Authorization) and forwarded bodies may hold tokens."""
    from gonka_conformance.common.redact import Redactor  # (httpx) only for --show-normalized

    from .masking import mask_event, mask_fields, secrets_in

    analysis = outcome.analysis
    assert analysis is not None
    redact, known = Redactor(), secrets_in(outcome.record.raw)  # masked wherever they moved to
    return RecordSummary(outcome.record.file, outcome.record.record,
                         redact.data(mask_fields(analysis.result.to_json()), known),
                         redact.data([mask_event(event.to_json()) for event in analysis.events], known))


@dataclass
class _Fixes:
    """The fixes found in one source: the whole body (.json) or its fixed lines (JSON Lines)."""

    json_fix: FixResult | None = None
    lines: dict[int, str] = field(default_factory=dict)
    har: bool = False  # some records were HAR entries: never rewritten


def lint_sources(run: Run, args: argparse.Namespace, sources: Iterator[Source | InputError | Note]) -> None:
    fixing = args.fix or args.diff
    for source in sources:
        if isinstance(source, InputError):
            run.errors.append(source)
            continue
        if isinstance(source, Note):
            print(f"{PROG}: note: {source}", file=sys.stderr)
            continue
        run.files.append(source.display)
        fixes = _lint_source(run, args, source, fixing)
        if fixing and (fixes.json_fix is not None or fixes.lines or not fixes.har):
            try:
                _write_fixes(run, args, source, fixes.json_fix, fixes.lines)
            except OSError as exc:  # an unwritable directory or file: say so, lint the rest
                run.errors.append(InputError(source.display, f"cannot write the fixes: {_os_reason(exc)}"))
        if fixing and fixes.har and not run.har_note:
            run.har_note = True
            print(f"{PROG}: note: fixes are not applied to HAR captures ({source.display}); "
                  "fix the code that sends the requests", file=sys.stderr)


def _lint_source(run: Run, args: argparse.Namespace, source: Source, fixing: bool) -> _Fixes:
    """Lint (and, with --fix/--diff, fix) every record; which records may be rewritten is
    decided by what each turned out to be, not by the file's extension."""
    options = run.settings.options
    only_requests = not source.explicit or args.requests_only
    fixes = _Fixes()
    with progress(source.display, source.path, source.data, sys.stderr) as tick:
        for item in records(source, max_body=options.max_body):
            tick(len(item.raw) + 1 if isinstance(item, Record) else 0)
            _lint_item(run, args, item, fixes, fixing, only_requests)
    return fixes


def _lint_item(run: Run, args: argparse.Namespace, item: Record | InputError, fixes: _Fixes, fixing: bool,
               only_requests: bool) -> None:
    options = run.settings.options
    if isinstance(item, InputError):
        run.errors.append(item)
        return
    fixes.har = fixes.har or not item.writable
    whole = item.kind == "json"
    if fixing and item.writable:
        result = fix_record(item, options, run.accept_fix, whole_file=whole, only_requests=only_requests)
        outcome = result.after if args.fix else result.before
        if result.changed:
            run.fixed += len(result.fixed) if args.fix else 0
            _collect(fixes, item, result)
    else:
        outcome = lint_record(item, options, whole_file=whole, only_requests=only_requests)
    run.keep(outcome, args.show_normalized)


def _collect(fixes: _Fixes, item: Record, result: FixResult) -> None:
    if item.kind == "json":
        fixes.json_fix = result
    else:
        fixes.lines[item.line] = result.after.record.raw.decode("utf-8", errors="surrogatepass")


def _os_reason(exc: OSError) -> str:
    return "permission denied" if isinstance(exc, PermissionError) else str(exc.strerror or exc)


def _write_fixes(run: Run, args: argparse.Namespace, source: Source, json_fix: FixResult | None,
                 lines: dict[int, str]) -> None:
    if json_fix is None and not lines:
        if source.path is None and args.fix:  # like Ruff: stdin with --fix is echoed, fixed or not
            run.stdout_fixed.append((source.data or b"").decode("utf-8", errors="replace"))
        return
    if json_fix is not None:
        before = json_fix.before.record.raw.decode("utf-8", errors="surrogatepass")
        after = json_fix.after.record.raw.decode("utf-8", errors="surrogatepass")
        if args.diff:
            run.diffs.append(_diff(source.display, before, after))
        elif source.path is None:
            run.stdout_fixed.append(after)
        else:
            _replace_file(source.path, after.encode("utf-8", errors="surrogatepass"))
        return
    if source.path is None:  # JSON Lines on stdin
        original = (source.data or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
        new = [(_swap_line(line, lines.get(number)) if number in lines else line)
               for number, line in enumerate(original, 1)]
        if args.diff:
            run.diffs.append(_diff(source.display, "".join(original), "".join(new)))
        else:
            run.stdout_fixed.append("".join(new))
        return
    if args.diff:
        run.diffs.append(_jsonl_diff(source, lines))
    else:
        _rewrite_jsonl(source.path, lines)


def _swap_line(line: str, new: str | None) -> str:
    ending = line[len(line.rstrip("\r\n")):]
    return (new if new is not None else line.rstrip("\r\n")) + ending


def _diff(name: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}"))


def _jsonl_diff(source: Source, lines: dict[int, str]) -> str:
    out = [f"--- a/{source.display}\n", f"+++ b/{source.display}\n"]
    with open(source.path, "rb") as handle:  # type: ignore[arg-type]
        for number, raw in enumerate(handle, 1):
            if number in lines:
                old = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                out += [f"@@ -{number} +{number} @@\n", f"-{old}\n", f"+{lines[number]}\n"]
    return "".join(out)


def _rewrite_jsonl(path: Path, lines: dict[int, str]) -> None:
    """Stream the file into a temporary sibling with the fixed lines swapped in, then replace it."""

    def write(out: Any) -> None:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if number in lines:
                    ending = raw[len(raw.rstrip(b"\r\n")):]
                    out.write(lines[number].encode("utf-8", errors="surrogatepass") + ending)
                else:
                    out.write(raw)

    _atomic_replace(path, write)


def _replace_file(path: Path, data: bytes) -> None:
    _atomic_replace(path, lambda out: out.write(data))


def _atomic_replace(path: Path, write: Callable[[Any], None]) -> None:
    """Write a temporary sibling, keep the file's mode, then swap it in: a crash never leaves
    half a payload behind."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        _keep_mode(path, temp)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _keep_mode(path: Path, temp: str) -> None:
    try:
        os.chmod(temp, path.stat().st_mode & 0o7777)
    except OSError:
        pass


# --- entry point -----------------------------------------------------------------------------


def _default_paths(args: argparse.Namespace) -> list[str]:
    if args.paths:
        return args.paths
    return ["-"] if not sys.stdin.isatty() else ["."]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    text_format.COLOR["mode"] = args.color
    return run_guarded(PROG, lambda: _main(args), usage_errors=(ConfigError, CatalogueOptionError))


def _main(args: argparse.Namespace) -> int:
    if args.diff and args.fix:
        raise ConfigError("--diff and --fix are exclusive: --diff shows what --fix would write")
    if args.generate_ignore_file and args.no_ignore_file:
        raise ConfigError("--generate-ignore-file and --no-ignore-file are exclusive")
    if args.docs:
        from importlib import resources

        sys.stdout.write(resources.files("gonka_conformance.docs").joinpath("lint.md").read_text(encoding="utf-8"))
        return EXIT_OK
    if args.explain:
        from . import explain  # (start-up time: only --explain needs it)

        catalogue = load_catalogue(args.catalogue)
        text = explain.explain_json(catalogue, args.explain) if args.format == "json" else \
            explain.explain_text(catalogue, args.explain)
        print(text)
        return EXIT_OK
    s = settings(args)
    run = Run(s)
    named = args.paths if args.agent_config and not args.paths else _default_paths(args)  # only configs named
    paths, agent_configs = agent_paths(named, args.agent_config or [])
    lint_agent_configs(run, agent_configs)
    sources = discover(paths, exclude=tuple(s.config.exclude), stdin_filename=args.stdin_filename) if paths else iter(())
    configs = {_file_key(path) for path, _client in agent_configs}
    # A directory whose agent configs were found is not "empty" when it holds no payload file.
    config_dirs = {path for path in paths if _kind(Path(path)) == "dir"
                   and any(_file_key(path) in found.parents for found in configs)}
    sources = (source for source in sources  # a config found in a directory is not a payload
               if not (isinstance(source, Source) and source.path and _file_key(source.path) in configs)
               and not (isinstance(source, InputError) and source.file in config_dirs and source.line is None))
    lint_sources(run, args, sources)
    run.findings.sort(key=sort_key)

    if args.generate_ignore_file and s.ignore is not None:
        count = s.ignore.regenerate(run.generated, run.files)
        s.ignore.write()
        _report_errors(run)
        print(f"{PROG}: wrote {count} entr{'y' if count == 1 else 'ies'} to {s.ignore.path}", file=sys.stderr)
        return _status(run, args, findings=False)

    if args.statistics:
        _report_errors(run)
        _print_statistics(statistics_of(run.findings, run.records - run.unreadable, run.unreadable), s.format)
        return _status(run, args, findings=True, strict=s.strict)

    stale = s.ignore.stale(run.files) if s.ignore is not None else []
    available = [f for f in run.findings if f.fix and f.fix.available]
    report = Report(run.findings, run.errors, run.files, s.catalogue, s.catalogue.revision(s.options.revision).id,
                    s.options.profile, records=run.records, skipped=run.skipped, ignored=run.ignored,
                    fixed=run.fixed, fixable=sum(1 for f in available if f.fix and (f.fix.safe or s.unsafe)),
                    unsafe_fixable=0 if s.unsafe else sum(1 for f in available if f.fix and not f.fix.safe),
                    stale=stale, normalized=run.normalized if args.show_normalized else None, strict=s.strict)
    _report_errors(run)
    for file, rule, pointer in stale:
        print(f"{PROG}: warning: stale ignore entry {file}: {rule} {pointer or '/'} (no longer found)",
              file=sys.stderr)
    if args.diff:
        sys.stdout.write("".join(run.diffs))
        print(f"{PROG}: {len(run.diffs)} file(s) would change", file=sys.stderr)
    elif run.stdout_fixed:
        sys.stdout.write("".join(run.stdout_fixed))
        _render(report, args, sys.stderr, s.format)
    else:
        _render(report, args, None, s.format)
    return _status(run, args, findings=True, strict=s.strict)


def _print_statistics(stats: Statistics, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(stats.to_json(), indent=2))
    elif fmt == "text":
        sys.stdout.write(stats.render_text())
    else:
        raise ConfigError(f"--statistics prints text or json, not {fmt}")


def agent_paths(paths: list[str], named: list[str]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Split the inputs: payload paths, and agent configs (each with its client when known by
    name). An explicitly named known config (opencode.json) is an agent config; a directory
    is searched for them as well as for payloads. A directory named with ``--agent-config``
    stands for the known configs in it (as a directory ``PATH`` does); one that holds none
    is a usage error."""
    configs: list[tuple[str, str | None]] = []
    for path in named:
        if _kind(Path(path)) != "dir":
            configs.append((path, None))  # lint_agent_configs reports a missing or unreadable file
            continue
        found = agentconfig.find_in(Path(path))
        if not found:
            raise ConfigError(f"--agent-config {path}: no known agent config file in this directory "
                              f"(looked for {', '.join(_known_config_names())}); name the config file instead")
        configs += [(str(config), agentconfig.detect(config)) for config in found]
    rest = []
    for path in paths:
        candidate = Path(path)
        kind = _kind(candidate) if path != "-" else None
        client = agentconfig.detect(candidate) if kind == "file" else None
        if client:
            configs.append((path, client))
            continue
        rest.append(path)  # discover() reports what cannot be read
        if kind == "dir":
            configs += [(str(found), agentconfig.detect(found)) for found in agentconfig.find_in(candidate)]
    unique: dict[Path, tuple[str, str | None]] = {}  # a config named and found in a named directory: once
    for path, client in configs:
        key = _file_key(path) if path != "-" else Path(path)
        if key not in unique or (client and not unique[key][1]):
            unique[key] = (path, client)
    return rest, list(unique.values())


def _known_config_names() -> list[str]:
    """Every file name the agent mappings recognise (opencode.json, .kilo/kilo.jsonc…), once each."""
    names: dict[str, None] = {}
    for spec in agentconfig.clients().values():
        names.update(dict.fromkeys(spec.get("files", [])))
    return list(names)


def _file_key(path: str | Path) -> Path:
    """The path two names of one file share: resolved, or only made absolute where resolving
    fails (a symlink loop, a permission error: ``discover`` and the config reader report those)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # (RuntimeError: a symlink loop, before Python 3.13)
        return Path(os.path.abspath(path))


def _kind(path: Path) -> str | None:
    try:
        return "file" if path.is_file() else "dir" if path.is_dir() else None
    except OSError:
        return None


def lint_agent_configs(run: Run, configs: list[tuple[str, str | None]]) -> None:
    for path, client in configs:
        run.files.append(path)
        if not Path(path).is_file():
            run.errors.append(InputError(path, "no such file" if not Path(path).exists() else "not a file"))
            continue
        try:
            findings, payloads = agentconfig.lint_config_payloads(Path(path), run.settings.options, client, display=path)
        except agentconfig.AgentConfigError as exc:
            line, column, message = _split_position(str(exc))
            run.errors.append(InputError(path, message, line=line, column=column))
            continue
        except OSError as exc:
            run.errors.append(InputError(path, _os_reason(exc) if exc.errno != 2 else "no such file"))
            continue
        run.records += payloads  # the request bodies the config makes its client send
        run.keep_findings(findings)


def _split_position(message: str) -> tuple[int | None, int | None, str]:
    head, _, rest = message.partition(": ")
    line, _, column = head.partition(":")
    if rest and line.isdigit() and column.isdigit():
        return int(line), int(column), rest
    return None, None, message


def _report_errors(run: Run) -> None:
    for error in run.errors:
        print(text_format.error_line(f"{PROG}: {error}", sys.stderr), file=sys.stderr)


# A lone surrogate ("\udc00" is valid JSON text) can reach a finding's pointer or message, and
# UTF-8 cannot carry it: written as the escape ``\udc00``, which is also its JSON spelling.
_UNENCODABLE = "backslashreplace"


def _render(report: Report, args: argparse.Namespace, stream: TextIO | None, fmt: str) -> None:
    render = renderer(fmt)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", errors=_UNENCODABLE) as handle:
                render(report, handle)
        except OSError as exc:
            raise ConfigError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
        return
    out = stream or sys.stdout
    reconfigure = getattr(out, "reconfigure", None)  # a text stream over bytes (sys.stdout), not a StringIO
    if reconfigure is not None:
        reconfigure(errors=_UNENCODABLE)
    render(report, out)


def _status(run: Run, args: argparse.Namespace, *, findings: bool, strict: bool = False) -> int:
    if run.internal:
        return EXIT_INTERNAL
    if run.errors:
        return EXIT_USAGE
    if not findings or args.exit_zero:
        return EXIT_OK
    if any(f.severity == "error" for f in run.findings) or (strict and run.findings):
        return EXIT_FINDINGS
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
