"""pytest plugin (``pytest11`` entry point): the catalogue's live cases as pytest items.

Inert unless the suite module (``gonka_conformance/live/test_conformance.py``) is collected, e.g.
``pytest --pyargs gonka_conformance.live [--gonka-base-url URL]``. Items are named
``<rule-id>[<model>]`` (``<rule-id>:<case>[<model>]`` when a rule has several examples; a model
id with unsafe characters becomes a sanitised id with a hash suffix), and located at their
rule's YAML ``file:line``, so ``-k``, ``-x``, ``--junitxml`` and pytest-html work as usual.

Collection sends no chat request (it may ask ``GET /models`` to list the models). Requests go
out in the run phase, only for the selected items, still concurrently: each item, as pytest
reaches it, queues itself and the next ``concurrency - 1`` items, then waits for its own answer
— so ``-x`` / ``--maxfail`` stop sending within one window. Each item reports its verdict:

pass → passed · divergent → passed (noted) · fail, xpass → failed · xfail → xfailed
unobservable → skipped · error → error (setup, one line), never a pass.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:  # pytest types repr_failure with it but does not export it
    from _pytest._code.code import TerminalRepr

from .outcomes import Outcome
from .options import BY_NAME, OPTIONS, LiveOptions
from ..common.redact import printable
from .session import LiveSession, SessionOptions, missing_key, session_options

SUITE_FILE = Path(__file__).with_name("test_conformance.py").resolve()
_SESSION = pytest.StashKey["LiveSession | None"]()
_BASELINE = pytest.StashKey["dict[str, str]"]()  # loaded once, by _validate
_SCHEDULER = pytest.StashKey["Scheduler | None"]()
_PROGRESS = pytest.StashKey["Any"]()  # terminal.Progress when the compact terminal is on
_NOTICES = pytest.StashKey["list[str]"]()  # warnings shown with the summary (e.g. no baseline file yet)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gonka", "gonka-conformance live suite")
    for option in OPTIONS:  # one definition each (options.py), shared with `run` and the config file
        if option.is_flag:
            group.addoption(option.pytest_flag, dest=option.pytest_dest, action="store_true", help=option.help_text())
        else:
            group.addoption(option.pytest_flag, dest=option.pytest_dest, type=option.kind, default=option.default,
                            choices=option.choices or None, help=option.help_text())


def _live_options(config: pytest.Config) -> LiveOptions:
    return LiveOptions.read(lambda option: config.getoption(option.pytest_dest))


#: The running config, for hooks that pytest calls without one (logreport, pytest-html's title).
_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(trylast=True)  # after pytest's own terminal reporter is registered
def pytest_configure(config: pytest.Config) -> None:
    _CONFIG["config"] = config
    config.stash[_SESSION] = None
    config.stash[_SCHEDULER] = None
    config.stash[_PROGRESS] = None
    _validate(config)
    if _live_options(config).terminal:
        from .terminal import Progress, install

        reporter = install(config)
        if reporter is not None:
            config.stash[_PROGRESS] = Progress(reporter, lambda key: _outcome(config, key), lambda: _tokens(config))


def _outcome(config: pytest.Config, key: str) -> str | None:
    live = config.stash.get(_SESSION, None)
    result = live.run.results.get(key) if live is not None and live.run is not None else None
    return result.outcome if result is not None else None


def _tokens(config: pytest.Config) -> int:
    live = config.stash.get(_SESSION, None)
    return live.run.tokens_spent if live is not None and live.run is not None else 0


def _validate(config: pytest.Config) -> None:
    """Every gonka option is checked here, once, before anything starts: a bad one is a
    pytest usage error (exit 4, which ``gonka-conformance run`` maps to 2)."""
    from ..common.errors import UsageError  # here, not at import: the plugin stays inert in other projects

    try:
        _check_numbers(config)
        _check_urls(config)
        _check_api_key(config)
        _check_catalogue(config)
        config.stash[_NOTICES] = []
        config.stash[_BASELINE] = _load_baseline(config)
        _check_report_dir(_live_options(config).report_dir)
    except (ValueError, UsageError) as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_numbers(config: pytest.Config) -> None:
    problems = _live_options(config).problems()  # each option's own check (options.py)
    if problems:
        raise ValueError(problems[0])  # one line


def _check_api_key(config: pytest.Config) -> None:
    live = _live_options(config)
    problem = missing_key(live.base_url, live.api_key_env)
    if problem:
        raise ValueError(problem)


def _check_urls(config: pytest.Config) -> None:
    from ..common.urls import check_http_url  # (httpx) only when the suite is configured

    live = _live_options(config)
    for option in OPTIONS:
        value = getattr(live, option.name)
        if option.url and value is not None:
            check_http_url(value, option.cli_flag)


def _check_catalogue(config: pytest.Config) -> None:
    from ..catalogue.loader import CatalogueError, load_catalogue
    from ..catalogue.choices import check_profile, check_revision

    live = _live_options(config)
    if not (live.catalogue or live.revision or live.profile):
        return  # the packaged catalogue, loaded when (if) the suite runs

    try:
        catalogue = load_catalogue(live.catalogue)
    except (CatalogueError, OSError) as exc:
        raise ValueError(f"--catalogue: {exc}") from None
    if live.catalogue:  # the packaged catalogue's examples are checked at test time
        from .examples import example_problems

        problems = example_problems(catalogue)
        if problems:
            shown = "\n  ".join(problems[:20]) + (f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else "")
            raise ValueError(f"--catalogue: live examples the engine contradicts:\n  {shown}")
    check_revision(catalogue, live.revision)
    check_profile(catalogue, live.profile)


def _load_baseline(config: pytest.Config) -> dict[str, str]:
    """A baseline that does not exist yet is a first run: a warning with the command that
    creates one, unless --baseline-required asks for the strict behaviour (a usage error)."""
    import sys

    from ..reports.baseline import load_baseline, missing_baseline_hint

    live = _live_options(config)
    path = live.baseline
    if not path:
        return {}
    if not Path(path).exists() and not live.baseline_required:
        notice = missing_baseline_hint(path, live.report_dir or BY_NAME["report_dir"].for_run)
        config.stash[_NOTICES].append(notice)
        print(f"gonka-conformance: {notice}", file=sys.stderr)
        return {}
    return load_baseline(path)


def _check_report_dir(path: str | None) -> None:
    if path:
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"{path}: cannot create report directory: {exc.strerror or exc}") from None


def _is(path: Path, ours: Path) -> bool:
    """Whether pytest's ``path`` is the suite's file or folder. These hooks see every path of
    every project where the plugin is installed: the name is compared first, and a path that
    cannot be resolved (a symlink loop) is not ours rather than an error in someone's run."""
    if path.name != ours.name:
        return False
    try:
        return path.resolve() == ours
    except (OSError, RuntimeError):
        return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is(file_path, SUITE_FILE):
        return GonkaSuite.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The suite's folder is a package, and pytest's Package node imports its ``__init__`` to run
    setup functions the suite has none of — from a source checkout under a second name
    (``conformance.…`` beside ``gonka_conformance.…``), loading the catalogue and the engine a
    second time. A plain directory node imports nothing."""
    if _is(path, SUITE_FILE.parent):
        return pytest.Dir.from_parent(parent, path=path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The suite file holds no tests; pytest's own Python collector would import it (see above)."""
    if _is(module_path, SUITE_FILE):
        return _Inert.from_parent(parent, path=module_path)
    return None


class _Inert(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        return iter(())


def _options(config: pytest.Config) -> SessionOptions:
    return session_options(_live_options(config), baseline=config.stash[_BASELINE])


XDIST_REFUSED = ("the live suite does not run under pytest-xdist (-n): one process owns the target, the token "
                 "budget and the reports; it already sends concurrently (--gonka-concurrency / run --concurrency)")


class GonkaSuite(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        if hasattr(self.config, "workerinput"):  # an xdist worker: each would send and write its own report
            raise self.CollectError(XDIST_REFUSED)  # shown as this one line
        session = LiveSession(_options(self.config))
        self.config.stash[_SESSION] = session
        session.start()  # the target and its models (GET /models at most): no chat request
        root = session.catalogue.root.parent
        for case, model in session.items():
            key = session.run.key(case, model) if session.run else case.id
            yield GonkaItem.from_parent(self, name=key, case_key=key,
                                        rule_path=root / case.rule.source_file, rule_line=case.rule.line)


class Scheduler:
    """Sends the selected items as pytest reaches them: the current one and the next
    ``window - 1`` are in flight, so stopping (``-x``) leaves at most a window sent."""

    def __init__(self, live: LiveSession, order: list[str], window: int) -> None:
        self.live = live
        self.order = order
        self.position = {key: index for index, key in enumerate(order)}
        self.window = max(1, window)
        self.futures: dict[str, Future[Any]] = {}

    def result(self, key: str) -> Any:
        index = self.position.get(key)
        window = self.order[index:index + self.window] if index is not None else []
        for ahead in [key, *window]:
            if ahead not in self.futures:
                self.futures[ahead] = self.live.submit(ahead)
        return self.futures[key].result()


class GonkaItem(pytest.Item):
    def __init__(self, *, case_key: str, rule_path: Path, rule_line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case_key = case_key
        self.rule_path = rule_path
        self.rule_line = rule_line
        self.user_properties.append(("case", case_key))

    def _result(self) -> Any:
        live = self.config.stash[_SESSION]
        assert live is not None
        scheduler = self.config.stash[_SCHEDULER]
        if scheduler is None:  # an item run outside the collected selection (another plugin's doing)
            scheduler = self.config.stash[_SCHEDULER] = Scheduler(live, [self.case_key], live.options.concurrency)
        return scheduler.result(self.case_key)

    def setup(self) -> None:
        result = self._result()
        if result.outcome == Outcome.ERROR:
            raise HarnessError("; ".join(result.problems) or result.observed)

    def runtest(self) -> None:
        result = self._result()
        self.user_properties.append(("outcome", result.outcome))
        if result.outcome in (Outcome.PASS, Outcome.DIVERGENT):
            return
        if result.outcome == Outcome.UNOBSERVABLE:
            pytest.skip("unobservable: " + "; ".join(result.problems))
        if result.outcome == Outcome.XFAIL:
            pytest.xfail("baseline: " + "; ".join(result.problems))
        raise Deviation(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, Deviation):
            result = excinfo.value.result
            lines = [f"{result.outcome}: {result.case_id} on {result.model}",
                     f"  expected: {result.expected}", f"  observed: {result.observed}"]
            lines += [f"  - {p}" for p in result.problems]
            if result.anchor:
                lines.append(f"  rule: {result.anchor}")
            lines.append(f"  reproduce: {result.curl}")
            return "\n".join(printable(line) for line in lines)  # stored texts are printable; this keeps it so
        if isinstance(excinfo.value, HarnessError):
            return _harness_line(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The rule's YAML ``file:line``: where a reader goes to see what the case checks."""
        return self.rule_path, self.rule_line - 1, self.name


class Deviation(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__(f"{result.outcome}: {result.key}")
        self.result = result


class HarnessError(Exception):
    """The target could not be observed (transport, timeout, 5xx, cut stream, budget)."""


def _harness_line(error: BaseException) -> str:
    return printable(f"error (nothing could be observed): {error}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """A harness error (raised in setup) is one line: reported here, before pytest would
    format a traceback through the plugin and pluggy only to throw it away."""
    if not (isinstance(item, GonkaItem) and call.excinfo is not None and isinstance(call.excinfo.value, HarnessError)):
        return None
    one_line = copy.copy(call)
    one_line.excinfo = _harness_line(call.excinfo.value)  # type: ignore[assignment]  # pytest reports a non-ExceptionInfo as is
    return pytest.TestReport.from_item_and_call(item, one_line)


def pytest_collection_finish(session: pytest.Session) -> None:
    live = session.config.stash.get(_SESSION, None)
    if live is None or session.config.option.collectonly or live.error:
        return
    keys = [item.case_key for item in session.items if isinstance(item, GonkaItem)]
    live.plan(keys)  # cost-aware probing: the selected items that can share a request do
    session.config.stash[_SCHEDULER] = Scheduler(live, keys, live.options.concurrency)
    progress = session.config.stash.get(_PROGRESS, None)
    if progress is not None:
        progress.begin(len(keys))


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """The compact terminal shows progress instead of a letter per item; ``-v`` keeps the words."""
    status = yield
    if config.stash.get(_PROGRESS, None) is not None and config.get_verbosity() <= 0 and status:
        return (status[0], "", "")
    return status


@pytest.hookimpl(tryfirst=True)  # before JUnit and pytest-html read the durations
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """An item's duration is its requests' time, not the time it waited in setup for its
    answer while other items were in flight; the progress display counts finished items."""
    config = _CONFIG.get("config")
    key = _suite_key(report.nodeid)
    if config is None or key is None:
        return
    live = config.stash.get(_SESSION, None)
    result = live.run.results.get(key) if live is not None and live.run is not None else None
    finished = report.when == "call" or (report.when == "setup" and not report.passed)
    if result is not None:
        report.duration = result.elapsed if finished else 0.0
    progress = config.stash.get(_PROGRESS, None)
    if finished and progress is not None:
        progress.finished(key)


def _suite_key(nodeid: str) -> str | None:
    head, separator, key = nodeid.partition(SUITE_FILE.name + "::")
    return key if separator else None


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    config = _CONFIG.get("config")
    if config is not None and _live_options(config).base_url is not None:
        report.title = "gonka-conformance: " + _shown_url(config)
    elif config is not None:
        report.title = "gonka-conformance: embedded reference gateway"


def _shown_url(config: pytest.Config) -> str:
    from ..common.redact import Redactor

    redactor = Redactor()
    url = _live_options(config).base_url or ""
    redactor.add_url(url)
    return printable(redactor.text(url))


def _environment_rows(config: pytest.Config, live: LiveSession) -> None:
    """Target, revision, profile, tier and tokens in pytest-html's environment table."""
    try:
        from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]  # ships no types
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if metadata is None:
        return
    run = live.run
    metadata["Target"] = ("embedded reference gateway" if live.embedded else _shown_url(config))
    metadata["Revision"] = live.catalogue.revision(live.options.revision).id
    metadata["Profile"] = live.options.profile or "none (upstream)"
    metadata["Tier"] = live.options.tier
    budget = live.options.budget_tokens
    metadata["Tokens"] = f"{run.tokens_spent if run else 0}" + (f" of a budget of {budget}" if budget is not None else "")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CONFIG.get("config") is config:
        del _CONFIG["config"]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """A run halted with cases left unsent (deadline, unresponsive target, refused key) stops
    pytest at once: the reason is one line, and every case is an error in the reports."""
    live = item.config.stash.get(_SESSION, None)
    if live is not None and live.guard.halted and not item.session.shouldstop:
        item.session.shouldstop = f"gonka-conformance: {live.error}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    live = session.config.stash.get(_SESSION, None)
    if live is None:
        return
    try:
        live.stop_sending()  # -x / --maxfail / interrupted: what is queued is never sent
        scheduler = session.config.stash.get(_SCHEDULER, None)
        if scheduler is not None:
            live.record_unsent(scheduler.order)
        code = live.exit_code()
        _environment_rows(session.config, live)
        if not session.config.option.collectonly:  # listing writes no report
            live.finish(datetime.now(timezone.utc), code, junit=not _pytest_writes_junit(session.config, live))
        session.exitstatus = code if exitstatus in (0, 1) or live.error else exitstatus
    finally:
        live.close()


def _pytest_writes_junit(config: pytest.Config, live: LiveSession) -> bool:
    """Whether pytest's own ``--junitxml`` writes the report directory's junit.xml."""
    xmlpath = getattr(config.option, "xmlpath", None)
    if not xmlpath or not live.options.report_dir:
        return False
    return Path(xmlpath).resolve() == (Path(live.options.report_dir) / "junit.xml").resolve()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from .terminal import non_pass_table, summary_lines

    progress = config.stash.get(_PROGRESS, None)
    if progress is not None:
        progress.stop()
    live = config.stash.get(_SESSION, None)
    for notice in config.stash.get(_NOTICES, []):
        terminalreporter.write_line(printable(f"gonka-conformance: {notice}"))
    if live is None:
        return
    if config.option.collectonly:
        lines = [f"gonka-conformance: {live.error}"] if live.error else []
    else:
        if progress is not None:
            table = non_pass_table(live.results(), progress.tty)
            if table:
                terminalreporter.write_line(table)
        lines = summary_lines(live)
    for line in lines:
        terminalreporter.write_line(printable(line))
