"""``gonka-conformance``: the command line. Each subcommand lives in its own small function;
every user-facing failure is one clear line on stderr and a documented exit code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from . import __version__
from .catalogue.choices import check_profile, check_revision
from .catalogue.coverage import load_coverage, load_upstream_tests, render_markdown
from .catalogue.loader import Catalogue, load_catalogue
from .catalogue.summary import rule_summary
from .commandline import PROG, StrictParser, Subcommand, positive_int, print_json, run_guarded
from .common.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from .common.inputs import read_input
from .engine import body_limit
from .engine import limits_for, normalize
from .gateway import cli as gateway_cli
from .live import commands as live_commands

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


def _catalogue(args: argparse.Namespace) -> Catalogue:
    return load_catalogue(args.catalogue)


# --- normalize ----------------------------------------------------------------------------


def cmd_normalize(args: argparse.Namespace) -> int:
    catalogue = _catalogue(args)
    check_revision(catalogue, args.revision)
    check_profile(catalogue, args.profile)
    # One byte past the gateway's body limit is enough to get its 413; more is never read.
    raw = read_input(args.file, limit=body_limit(catalogue))
    limits = limits_for(catalogue, args.profile, default_max_tokens=args.default_max_tokens,
                        max_tokens_cap=args.max_tokens_cap)
    result = normalize(raw, model=args.model, revision=args.revision, limits=limits, admin=args.admin,
                       profile=args.profile, catalogue=catalogue)
    print_json(result.to_json(), indent=None if args.compact else 2)
    return EXIT_OK if result.outcome == "accepted" else EXIT_FINDINGS


# --- rules --------------------------------------------------------------------------------


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
    from .engine import render_markdown, verb_table

    if fmt == "json":
        print_json({"version": 1, "verbs": verb_table(catalogue)})
    else:
        sys.stdout.write(render_markdown(catalogue))
    return EXIT_OK


# --- coverage -----------------------------------------------------------------------------


def cmd_coverage(args: argparse.Namespace) -> int:
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


# --- docs ---------------------------------------------------------------------------------

#: The manuals ship as package data (docs/*.md -> gonka_conformance.docs, pyproject.toml), so an
#: installed user reads them here rather than at a repository path.
DOCS_PACKAGE = "gonka_conformance.docs"


def manuals() -> dict[str, Traversable]:
    """Every shipped manual by topic (its file name without ``.md``), in name order."""
    from importlib import resources  # (start-up time: only docs needs it)

    entries = sorted(resources.files(DOCS_PACKAGE).iterdir(), key=lambda entry: entry.name)
    return {entry.name.removesuffix(".md"): entry for entry in entries
            if entry.name.endswith(".md") and entry.is_file()}


def _title(manual: Traversable) -> str:
    for line in manual.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def cmd_docs(args: argparse.Namespace) -> int:
    found = manuals()
    if args.topic is None:
        width = max(len(topic) for topic in found)
        for topic, manual in found.items():
            print(f"{topic.ljust(width)}  {_title(manual)}")
        return EXIT_OK
    topic = args.topic.removeprefix("docs/").removesuffix(".md")  # the repository path works too
    if topic not in found:
        raise UsageError(f"no manual {args.topic!r}; topics: {', '.join(found)}")
    sys.stdout.write(found[topic].read_text(encoding="utf-8"))
    return EXIT_OK


def _add_docs_arguments(docs: argparse.ArgumentParser) -> None:
    docs.add_argument("topic", nargs="?", metavar="TOPIC",
                      help="the manual to print as Markdown, e.g. live-suite (default: list the topics)")


# --- registry and entry point -------------------------------------------------------------


def _add_normalize_arguments(norm: argparse.ArgumentParser) -> None:
    norm.add_argument("file", nargs="?", default="-", help="request body file, or - for stdin (default)")
    norm.add_argument("--model", help="routed model when the body has none (default: the revision's default model)")
    norm.add_argument("--revision", help="contract revision id (default: the newest)")
    norm.add_argument("--profile", help="broker profile overlay (e.g. gonkagate.com)")
    norm.add_argument("--admin", action="store_true", help="the caller holds the admin key (bypasses the output cap)")
    norm.add_argument("--default-max-tokens", type=positive_int, help="override the default max_tokens (default: the catalogue's, or the profile's)")
    norm.add_argument("--max-tokens-cap", type=positive_int, help="override the max_tokens cap (default: the catalogue's, or the profile's)")
    norm.add_argument("--compact", action="store_true", help="one-line JSON")


def _add_rules_arguments(rules: argparse.ArgumentParser) -> None:
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.add_argument("--select", action="append", metavar="PREFIX", help="only rules whose id starts with PREFIX (repeatable)")
    rules.add_argument("--verbs", action="store_true",
                       help="list every check and transform with its options instead (Markdown, as in the "
                            "shipped reference: gonka-conformance docs verbs; or --format json)")


def _add_coverage_arguments(coverage: argparse.ArgumentParser) -> None:
    coverage.add_argument("--check", metavar="FILE", help="fail if FILE differs from the generated table or any item is a gap")


def _add_completion_arguments(completion: argparse.ArgumentParser) -> None:
    import shtab  # (only to list the shells; the script itself describes build_parser())

    completion.add_argument("shell", choices=shtab.SUPPORTED_SHELLS)


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


#: Every subcommand, in the order ``--help`` lists them: the parser, the dispatch, the help
#: listing and the shell completion are all built from this one tuple. A face's subcommands
#: come from its command module's ``SUBCOMMANDS``.
SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("normalize", "show what the gateway forwards for a request body, or its rejection",
               _add_normalize_arguments, cmd_normalize),
    Subcommand("rules", "list every rule of the catalogue", _add_rules_arguments, cmd_rules),
    Subcommand("coverage", "map every contract row and FAQ question to rule ids (markdown)",
               _add_coverage_arguments, cmd_coverage),
    *live_commands.SUBCOMMANDS,
    *gateway_cli.SUBCOMMANDS,
    Subcommand("docs", "list the shipped manuals, or print one (Markdown)", _add_docs_arguments, cmd_docs,
               description="e.g. gonka-conformance docs live-suite | less; gonka-lint --docs prints the lint manual too"),
    Subcommand("completion", "print a shell completion script", _add_completion_arguments, cmd_completion,
               description="e.g. gonka-conformance completion bash > ~/.local/share/bash-completion/completions/gonka-conformance"),
)
BY_NAME: dict[str, Subcommand] = {command.name: command for command in SUBCOMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = StrictParser(prog=PROG, description="Conformance suite, normalizer and reference gateway for Gonka's chat-completions gateway.",
                          epilog=f"Manuals: {PROG} docs [TOPIC] (without TOPIC: the list of topics).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--catalogue", metavar="DIR", help="load the catalogue from DIR instead of the packaged cases/")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.add_to(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = BY_NAME.get(args.command) if args.command else None
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_guarded(PROG, lambda: command.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
