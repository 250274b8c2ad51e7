"""``gonka-conformance``: the command line. Each subcommand lives in its own small function;
every user-facing failure is one clear line on stderr and a documented exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .catalogue.loader import Catalogue, CatalogueError, load_catalogue
from .engine.pipeline import EngineError, limits_for, normalize

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
PROG = "gonka-conformance"


class UsageError(Exception):
    """A problem with the command line or its input files: exit 2."""


def read_input(path: str, limit: int | None = None) -> bytes:
    """Read a file or stdin ('-'); ``limit`` bounds memory (read at most limit+1 bytes)."""
    try:
        if path == "-":
            stream = sys.stdin.buffer
            return stream.read(limit + 1) if limit is not None else stream.read()
        with open(path, "rb") as handle:
            return handle.read(limit + 1) if limit is not None else handle.read()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _catalogue(args: argparse.Namespace) -> Catalogue:
    return load_catalogue(args.catalogue)


def check_revision(catalogue: Catalogue, revision: str | None) -> None:
    if revision is not None:
        _known(catalogue.revision, revision)


def check_profile(catalogue: Catalogue, profile: str | None) -> None:
    if profile is not None:
        _known(catalogue.broker, profile)


def _known(lookup: Callable[[str], Any], name: str) -> None:
    try:
        lookup(name)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def print_json(data: Any, indent: int | None = 2) -> None:
    """JSON on stdout; non-ASCII stays readable, a lone surrogate from the input is escaped."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, indent=indent)
    print(text)


# --- normalize ----------------------------------------------------------------------------


def cmd_normalize(args: argparse.Namespace) -> int:
    catalogue = _catalogue(args)
    check_revision(catalogue, args.revision)
    check_profile(catalogue, args.profile)
    # One byte past the gateway's body limit is enough to get its 413; more is never read.
    raw = read_input(args.file, limit=int(catalogue.by_id["limit-body-size"].targets[0].options["limit"]))
    limits = limits_for(catalogue, args.profile, default_max_tokens=args.default_max_tokens,
                        max_tokens_cap=args.max_tokens_cap)
    result = normalize(raw, model=args.model, revision=args.revision, limits=limits, admin=args.admin,
                       profile=args.profile, catalogue=catalogue)
    print_json(result.to_json(), indent=None if args.compact else 2)
    return EXIT_OK if result.outcome == "accepted" else EXIT_FINDINGS


# --- rules --------------------------------------------------------------------------------


def rule_summary(catalogue: Catalogue, rule: Any) -> dict[str, Any]:
    divergences = [
        {"broker": broker.id, "behaviour": d.behaviour, "status": d.status, "message": d.message,
         "observed": d.observed, "source": d.source, "note": d.note}
        for broker in catalogue.brokers.values() for d in broker.divergences if d.rule == rule.id
    ]
    return {
        "id": rule.id, "title": rule.title, "kind": rule.kind, "level": rule.level, "stage": rule.stage,
        "severity": rule.severity, "families": list(rule.families) if rule.families else ["all"],
        "except": list(rule.except_families),
        "revisions": {"from": rule.revisions.start or catalogue.revisions[0].id,
                      "until": rule.revisions.until or catalogue.revisions[-1].id},
        "anchor": rule.anchor, "status": rule.status, "messages": dict(rule.messages),
        "docs": dict(rule.docs), "fix": dict(rule.lint.get("fix") or {}) or None,
        "live": [dict(case) for case in rule.live], "divergences": divergences,
        "evidence": _evidence_summary(rule),
        "source": f"{rule.source_file}:{rule.line}",
    }


def _evidence_summary(rule: Any) -> dict[str, Any] | None:
    """A disputed rule's sides (``evidence: disputed``), or None."""
    if rule.evidence is None:
        return None
    return {"status": "disputed", "default": rule.evidence.default, "alternatives": [
        {"name": a.name, "says": a.says, "sources": list(a.sources), "engine_follows": a.executable}
        for a in rule.evidence.alternatives]}


def cmd_rules(args: argparse.Namespace) -> int:
    catalogue = _catalogue(args)
    if args.verbs:
        return _print_verbs(catalogue, args.format)
    rules = [r for r in catalogue.rules if not args.select or any(r.id.startswith(p) for p in args.select)]
    if args.format == "json":
        payload = {
            "version": 1,
            "revisions": [{"id": r.id, "title": r.title, "default": r.default} for r in catalogue.revisions],
            "rules": [rule_summary(catalogue, r) for r in rules],
        }
        print_json(payload)
        return EXIT_OK
    first, last = catalogue.revisions[0].id, catalogue.revisions[-1].id
    rows = []
    for rule in rules:
        families = ",".join(rule.families) if rule.families else "all"
        if rule.except_families:
            families += " -" + ",".join(rule.except_families)
        revisions = f"{rule.revisions.start or first}..{rule.revisions.until or last}"
        rows.append((rule.id, rule.kind, rule.level, families, revisions, rule.anchor or "-"))
    header = ("id", "kind", "level", "families", "revisions", "anchor")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
    print(f"{len(rows)} rules; revisions {', '.join(r.id + (' (default)' if r.default else '') for r in catalogue.revisions)}")
    return EXIT_OK


def _print_verbs(catalogue: Catalogue, fmt: str) -> int:
    from .engine.verbs_doc import render_markdown, verb_table

    if fmt == "json":
        print_json({"version": 1, "verbs": verb_table(catalogue)})
    else:
        sys.stdout.write(render_markdown(catalogue))
    return EXIT_OK


# --- coverage -----------------------------------------------------------------------------


def cmd_coverage(args: argparse.Namespace) -> int:
    from .catalogue.coverage import load_coverage, load_upstream_tests, render_markdown

    catalogue = _catalogue(args)
    items, unknown = load_coverage(catalogue)
    text = render_markdown(items, load_upstream_tests(catalogue))
    problems = [f"unknown coverage key {key}" for key in unknown]
    problems += [f"gap: {item.key} {item.title}" for item in items if not item.covered]
    if args.check:
        current = read_input(args.check).decode("utf-8", errors="replace") if Path(args.check).exists() else ""
        if current != text:
            problems.append(f"{args.check} is out of date: run gonka-conformance coverage > {args.check}")
    else:
        sys.stdout.write(text)
    for problem in problems:
        print(f"{PROG}: {problem}", file=sys.stderr)
    return EXIT_FINDINGS if problems else EXIT_OK


def report_invalid_catalogue(prog: str, exc: CatalogueError) -> int:
    """Every problem as ``file:line: what``, and the usage exit code (shared by every CLI)."""
    print(f"{prog}: invalid catalogue:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_USAGE


# --- entry point --------------------------------------------------------------------------


class StrictParser(argparse.ArgumentParser):
    """No abbreviated options (``--co`` must not quietly mean ``--concurrency``); subcommand
    parsers are of the parser's own class, so every subcommand inherits this."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    _register_faces()
    parser = StrictParser(prog=PROG, description="Conformance suite, normalizer and reference gateway for Gonka's chat-completions gateway.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--catalogue", metavar="DIR", help="load the catalogue from DIR instead of the packaged cases/")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    norm = commands.add_parser("normalize", help="show what the gateway forwards for a request body, or its rejection")
    norm.add_argument("file", nargs="?", default="-", help="request body file, or - for stdin (default)")
    norm.add_argument("--model", help="routed model when the body has none (default: the revision's default model)")
    norm.add_argument("--revision", help="contract revision id (default: the newest)")
    norm.add_argument("--profile", help="broker profile overlay (e.g. gonkagate.com)")
    norm.add_argument("--admin", action="store_true", help="the caller holds the admin key (bypasses the output cap)")
    norm.add_argument("--default-max-tokens", type=positive_int, help="override the default max_tokens (catalogue: 3072, or the profile's)")
    norm.add_argument("--max-tokens-cap", type=positive_int, help="override the max_tokens cap (catalogue: 4096, or the profile's)")
    norm.add_argument("--compact", action="store_true", help="one-line JSON")
    norm.set_defaults(handler=cmd_normalize)

    rules = commands.add_parser("rules", help="list every rule of the catalogue")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.add_argument("--select", action="append", metavar="PREFIX", help="only rules whose id starts with PREFIX (repeatable)")
    rules.add_argument("--verbs", action="store_true",
                       help="list every check and transform with its options instead (markdown: docs/verbs.md; or --format json)")
    rules.set_defaults(handler=cmd_rules)

    coverage = commands.add_parser("coverage", help="map every contract row and FAQ question to rule ids (markdown)")
    coverage.add_argument("--check", metavar="FILE", help="fail if FILE differs from the generated table or any item is a gap")
    coverage.set_defaults(handler=cmd_coverage)

    for register in EXTRA_COMMANDS:
        register(commands)
    return parser


#: Other modules (serve, run, diff, …) add their subcommands here.
EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _register_faces() -> None:
    from .gateway.cli import register as serve_register
    from .live import commands as live_commands

    for register in (live_commands.register, serve_register):
        if register not in EXTRA_COMMANDS:
            EXTRA_COMMANDS.append(register)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_guarded(PROG, lambda: args.handler(args))


def run_guarded(prog: str, command: Callable[[], int], usage_errors: tuple[type[Exception], ...] = ()) -> int:
    """Run a command so that every failure a user can cause is one line and an exit code
    (shared by gonka-conformance and gonka-lint)."""
    try:
        return int(command())
    except (UsageError, *usage_errors) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CatalogueError as exc:
        return report_invalid_catalogue(prog, exc)
    except EngineError as exc:
        print(f"{prog}: internal error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
