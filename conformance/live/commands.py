"""``gonka-conformance run | diff | baseline``: the live suite's command-line face."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import shtab

from ..commandline import PROG
from ..common.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from .config import TIERS
from .guard import Bounds

SUITE = Path(__file__).with_name("test_conformance.py")
INI = Path(__file__).with_name("pytest.ini")


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="run the live conformance suite (default target: the embedded reference gateway)",
                              description="Settings may also come from [tool.gonka-conformance] in pyproject.toml or a "
                                          "gonka-conformance.toml (docs/live-suite.md); flags win.")
    run.add_argument("--base-url", help="target base URL as an OpenAI SDK takes it, e.g. https://api.gonkagate.com/v1")
    run.add_argument("--api-key-env", help="environment variable holding the API key (default GONKA_API_KEY; never pass a key on the command line)")
    run.add_argument("--profile", help="broker profile whose documented divergences are reported as 'divergent'")
    run.add_argument("--revision", help="contract revision the target should implement (default: newest)")
    run.add_argument("--models", help="comma-separated model ids (default: GET /models)")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only cases matching the pytest -k expression")
    run.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first deviation")
    run.add_argument("--tier", choices=TIERS, help="cheap: rejects and tiny outputs (default); full: also caps, defaults, thinking budgets")
    run.add_argument("--budget-tokens", type=int, help="stop spending after N tokens; unsent cases are errors")
    run.add_argument("--concurrency", type=int, help="requests in flight (default 4)")
    run.add_argument("--timeout", type=float, help="total seconds per request: connect, headers and the whole body or stream (default 60)")
    run.add_argument("--retries", type=int, help="retries for 429/503, Retry-After honoured (default 2)")
    run.add_argument("--repeat", type=int, help="send each case K times; a fleet must answer consistently (default 1)")
    baseline_file = run.add_argument("--baseline", help="baseline file of expected failures (stale entries fail the run; a missing file is a warning)")
    run.add_argument("--baseline-required", action="store_true", help="a missing --baseline file is an error (exit 2)")
    run.add_argument("--whitebox-url", help="debug view of a reference gateway started with serve --debug-endpoint (verifies silent rules)")
    report_dir = run.add_argument("--report-dir", help="where reports go (default: ./gonka-report)")
    config_file = run.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest gonka-conformance.toml or pyproject.toml with [tool.gonka-conformance])")
    run.add_argument("--format", choices=("text", "json"), default="text", help="json: the report on stdout, the terminal output on stderr")
    run.add_argument("-v", "--verbose", action="store_true", help="one line per item (rule[model]) and each deviation in full")
    run.add_argument("--max-duration", type=float, default=Bounds.max_duration, help="seconds for the whole run, retry waits included; cases left are errors (default %(default)s)")
    run.add_argument("--unresponsive-after", type=int, default=Bounds.unresponsive_after, help="after N consecutive timeouts/transport failures the target is given up and the run ends, exit 3 (default %(default)s)")
    run.add_argument("--reject-latency", type=float, default=Bounds.reject_latency, help="seconds an expected reject (4xx) may take before it is a deviation (default %(default)s)")
    run.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    run.add_argument("--header", action="store_true", help="show pytest's session header (platform, plugins, metadata)")
    run.add_argument("--list", action="store_true", help="list the selected cases × models (no chat request, no report)")
    run.set_defaults(handler=cmd_run)
    _complete_paths(files=[baseline_file, config_file], directories=[report_dir])

    diff = commands.add_parser("diff", help="compare two report.json files case by case")
    _complete_paths(files=[diff.add_argument("before"), diff.add_argument("after")])
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.add_argument("--all", action="store_true", help="list every case, not only regressions, fixes and changes")
    diff.set_defaults(handler=cmd_diff)

    baseline = commands.add_parser("baseline", help="write a baseline of a report's failing cases")
    _complete_paths(files=[baseline.add_argument("report"),
                           baseline.add_argument("-o", "--output", default="-", help="baseline file to write (default: stdout)")])
    baseline.set_defaults(handler=cmd_baseline)



def _complete_paths(files: list[argparse.Action] = (), directories: list[argparse.Action] = ()) -> None:  # type: ignore[assignment]
    """Shell completion offers paths for these arguments (shtab reads ``.complete``)."""
    for action in files:
        action.complete = shtab.FILE  # type: ignore[attr-defined]
    for action in directories:
        action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]


#: What an unset option means when neither the command line nor a configuration file sets it.
RUN_DEFAULTS: dict[str, Any] = {
    "base_url": None, "api_key_env": "GONKA_API_KEY", "profile": None, "revision": None, "models": None,
    "tier": "cheap", "budget_tokens": None, "concurrency": 4, "timeout": 60.0, "retries": 2, "repeat": 1,
    "baseline": None, "report_dir": "gonka-report",
}


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
    report_dir = Path(args.report_dir)
    pytest_args = [
        str(SUITE), "-c", str(INI), "--rootdir", str(SUITE.parent), "-p", "no:cacheprovider",
        # the package is already imported by this command, so pytest cannot (and need not) rewrite it
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--gonka-api-key-env", args.api_key_env, "--gonka-tier", args.tier,
        "--gonka-concurrency", str(args.concurrency), "--gonka-timeout", str(args.timeout),
        "--gonka-retries", str(args.retries), "--gonka-repeat", str(args.repeat),
        "--gonka-max-duration", str(args.max_duration), "--gonka-unresponsive-after", str(args.unresponsive_after),
        "--gonka-reject-latency", str(args.reject_latency),
        *unrelated_plugins_off(),
    ]
    if not args.header:
        pytest_args.append("--no-header")  # no metadata dict, no hypothesis profile, no plugin list
    if args.list:  # collection only: models may be discovered, nothing is sent, nothing written
        pytest_args += ["--collect-only", "-q", "--gonka-terminal"]
    else:
        pytest_args += [
            "--gonka-terminal", "--gonka-report-dir", str(report_dir),
            "--junitxml", str(report_dir / "junit.xml"), "-o", "junit_suite_name=gonka-conformance",
            "--html", str(report_dir / "pytest-report.html"), "--self-contained-html",
            "-rN",  # the end table lists what did not pass, without file paths
        ]
        if args.verbose:
            pytest_args += ["-v", "--tb=short"]
        else:
            pytest_args += ["--tb=no", "-o", "console_output_style=classic"] + (["-q"] if args.quiet else [])
    if args.baseline_required:
        pytest_args.append("--gonka-baseline-required")
    for option, value in (("--gonka-base-url", args.base_url), ("--gonka-profile", args.profile),
                          ("--gonka-revision", args.revision), ("--gonka-models", args.models),
                          ("--gonka-budget-tokens", args.budget_tokens), ("--gonka-baseline", args.baseline),
                          ("--gonka-whitebox-url", args.whitebox_url), ("--gonka-catalogue", args.catalogue),
                          ("-k", args.keyword)):
        if value is not None:
            pytest_args += [option, str(value)]
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
