"""What every command line of the package shares (gonka-conformance, its subcommands from the
faces, and gonka-lint): strict parsing, argparse types, JSON output, the `Subcommand` entries
the CLI builds its parser, dispatch, help and completion from, and `run_guarded`, which turns
every failure a user can cause into one line and a documented exit code."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from .catalogue.loader import CatalogueError
from .common.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UsageError
from .engine import EngineError

PROG = "gonka-conformance"


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


def report_invalid_catalogue(prog: str, exc: CatalogueError) -> int:
    """Every problem as ``file:line: what``, and the usage exit code (shared by every CLI)."""
    print(f"{prog}: invalid catalogue:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_USAGE


class StrictParser(argparse.ArgumentParser):
    """No abbreviated options (``--co`` must not quietly mean ``--concurrency``); subcommand
    parsers are of the parser's own class, so every subcommand inherits this."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


@dataclass(frozen=True)
class Subcommand:
    """One ``gonka-conformance`` subcommand. Each command module exports a tuple of these
    (``SUBCOMMANDS``); the CLI's registry is their concatenation, so a new subcommand is one
    entry in its face's module (and the faces never import the CLI)."""

    name: str
    help: str  # the line in ``gonka-conformance --help``
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # the exit code
    description: str | None = None
    epilog: str | None = None
    raw_help: bool = False  # description and epilog keep their line breaks

    def add_to(self, commands: Any) -> argparse.ArgumentParser:
        """Add this subcommand's parser to an ``add_subparsers()`` object."""
        parser: argparse.ArgumentParser = commands.add_parser(
            self.name, help=self.help, description=self.description, epilog=self.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter if self.raw_help else argparse.HelpFormatter)
        self.add_arguments(parser)
        return parser


def run_guarded(prog: str, command: Callable[[], int], usage_errors: tuple[type[Exception], ...] = ()) -> int:
    """Run a command so that every failure a user can cause is one line and an exit code
    (shared by gonka-conformance and gonka-lint)."""
    usage: tuple[type[Exception], ...] = (UsageError, *usage_errors)
    try:
        return int(command())
    except usage as exc:
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
