"""``gonka-conformance run | diff | baseline``: the live suite's command-line face."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import shtab

from ..commandline import PROG, Subcommand
from ..common.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from .options import OPTIONS, LiveOption, LiveOptions
from .options import pytest_args as options_pytest_args

SUITE = Path(__file__).with_name("test_conformance.py")
INI = Path(__file__).with_name("pytest.ini")


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    for option in OPTIONS:  # the live options, from their one definition (options.py)
        if option.cli:
            _add_live_option(run, option)
    # run's own controls: pytest's selection and output, mapped by cmd_run
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only cases matching the pytest -k expression")
    run.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first deviation")
    _complete_paths(files=[run.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest "
                                            "gonka-conformance.toml or pyproject.toml with [tool.gonka-conformance])")])
    run.add_argument("--format", choices=("text", "json"), default="text", help="json: the report on stdout, the terminal output on stderr")
    run.add_argument("-v", "--verbose", action="store_true", help="one line per item (rule[model]) and each deviation in full")
    run.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    run.add_argument("--header", action="store_true", help="show pytest's session header (platform, plugins, metadata)")
    run.add_argument("--list", action="store_true", help="list the selected cases × models (no chat request, no report)")


def _add_live_option(parser: argparse.ArgumentParser, option: LiveOption) -> None:
    if option.is_flag:
        parser.add_argument(option.cli_flag, dest=option.name, action="store_true", help=option.help_text())
        return
    # Unset is None, so that the configuration file and then the default fill it (cmd_run).
    action = parser.add_argument(option.cli_flag, dest=option.name, type=option.kind, choices=option.choices or None,
                                 help=option.help_text())
    if option.complete == "file":
        _complete_paths(files=[action])
    elif option.complete == "directory":
        _complete_paths(directories=[action])


def _add_diff_arguments(diff: argparse.ArgumentParser) -> None:
    _complete_paths(files=[diff.add_argument("before"), diff.add_argument("after")])
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.add_argument("--all", action="store_true", help="list every case, not only regressions, fixes and changes")


def _add_baseline_arguments(baseline: argparse.ArgumentParser) -> None:
    _complete_paths(files=[baseline.add_argument("report"),
                           baseline.add_argument("-o", "--output", default="-", help="baseline file to write (default: stdout)")])


def _complete_paths(files: Sequence[argparse.Action] = (), directories: Sequence[argparse.Action] = ()) -> None:
    """Shell completion offers paths for these arguments (shtab reads ``.complete``)."""
    for action in files:
        action.complete = shtab.FILE  # type: ignore[attr-defined]
    for action in directories:
        action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]


#: What an unset option of ``run`` means when neither the command line nor a configuration file sets it.
RUN_DEFAULTS: dict[str, Any] = {option.name: option.for_run for option in OPTIONS if option.cli and not option.is_flag}


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from .config import ConfigError, apply

    try:
        apply(args, RUN_DEFAULTS, explicit=Path(args.config) if args.config else None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json" and args.list:
        raise UsageError("--format json prints the report, and --list writes none")
    # Every option is checked once, by the plugin (pytest usage errors exit 4, mapped to 2 below).
    live = LiveOptions.read(lambda option: getattr(args, option.name, option.default))
    # --list: collection only (models may be discovered, nothing is sent, nothing is written)
    live = dataclasses.replace(live, terminal=True, report_dir=None if args.list else live.report_dir)
    report_dir = Path(args.report_dir)
    pytest_args = [
        str(SUITE), "-c", str(INI), "--rootdir", str(SUITE.parent), "-p", "no:cacheprovider",
        # the package is already imported by this command, so pytest cannot (and need not) rewrite it
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        *options_pytest_args(live), *unrelated_plugins_off(),
    ]
    if not args.header:
        pytest_args.append("--no-header")  # no metadata dict, no hypothesis profile, no plugin list
    if args.list:
        pytest_args += ["--collect-only", "-q"]
    else:
        pytest_args += [
            "--html", str(report_dir / "pytest-report.html"), "--self-contained-html",
            "-rN",  # the end table lists what did not pass, without file paths
        ]
        if args.verbose:
            pytest_args += ["-v", "--tb=short"]
        else:
            pytest_args += ["--tb=no", "-o", "console_output_style=classic"] + (["-q"] if args.quiet else [])
    if args.keyword is not None:
        pytest_args += ["-k", args.keyword]
    if args.exitfirst:
        pytest_args.append("-x")
    if args.format == "json":
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the report alone
            code = int(pytest.main(pytest_args))
    else:
        code = int(pytest.main(pytest_args))
    if code == 5:
        print(f"{PROG}: no live case selected (check -k, --models and --revision)", file=sys.stderr)
        return EXIT_USAGE
    if code == 4:
        return EXIT_USAGE
    if args.format == "json":
        _print_report(report_dir / "report.json")
    return code


#: The pytest plugins ``run`` needs: its own, and pytest-html (with pytest-metadata) for
#: pytest-report.html. Every other installed plugin is switched off, as the suite's own
#: pytest.ini isolates it from the project's configuration: some import their whole package
#: at start or at the end (hypothesis: about 130 modules, assertion-rewritten by pytest).
RUN_PLUGINS = frozenset({"gonka-conformance", "pytest-html", "pytest-metadata"})


def unrelated_plugins_off() -> list[str]:
    from importlib.metadata import entry_points

    names = sorted({ep.name for ep in entry_points(group="pytest11")
                    if ep.dist is None or ep.dist.name.lower().replace("_", "-") not in RUN_PLUGINS})
    return [arg for name in names for arg in ("-p", f"no:{name}")]


def _print_report(path: Path) -> None:
    try:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    except OSError:
        print(f"{PROG}: no report was written ({path})", file=sys.stderr)


def cmd_diff(args: argparse.Namespace) -> int:
    from ..catalogue.loader import load_catalogue
    from ..reports.diff import ModelSpellings, diff_reports, render_diff
    from ..reports.model import load_report

    try:
        before, after = load_report(args.before), load_report(args.after)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spellings = ModelSpellings.from_catalogue(load_catalogue(args.catalogue))
    result = diff_reports(before, after, spellings)
    if args.format == "json":
        print(json.dumps({"version": 1, **result}, indent=2))
    else:
        sys.stdout.write(render_diff(result, everything=args.all))
    return EXIT_FINDINGS if result["regressed"] else EXIT_OK


def cmd_baseline(args: argparse.Namespace) -> int:
    from ..reports.baseline import baseline_from_report
    from ..reports.model import load_report

    try:
        report = load_report(args.report)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    text = json.dumps(baseline_from_report(report), indent=2) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write the baseline: {exc.strerror or exc}") from None
    return EXIT_OK


#: This face's subcommands (the CLI's registry includes them).
SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("run", "run the live conformance suite (default target: the embedded reference gateway)",
               _add_run_arguments, cmd_run,
               description="Settings may also come from [tool.gonka-conformance] in pyproject.toml or a "
                           "gonka-conformance.toml (manual: gonka-conformance docs live-suite); flags win."),
    Subcommand("diff", "compare two report.json files case by case", _add_diff_arguments, cmd_diff),
    Subcommand("baseline", "write a baseline of a report's failing cases", _add_baseline_arguments, cmd_baseline),
)
