"""The live suite's terminal (``gonka-conformance run``): items named ``rule[model]`` without a
file path, a progress display while sending, and at the end one table of every case that did
not pass, the fingerprint and the rerun command it suggests.

On a tty the progress is a rich live line (done/total, outcome counts, tokens, elapsed); any
other output (CI logs) gets a few plain progress lines and no control character at all.
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from typing import Any, Callable, Iterable

import pytest
from pytest import TerminalReporter
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..reports.fleet import fleet_sentence
from .outcomes import OUTCOMES
from ..common.redact import printable
from .guard import NOT_JUDGED, NOT_SENT

PREFIX = "gonka-conformance: "
#: Shown in the end table, worst first; unobservable cases are only counted (a black-box
#: target has a hundred of them, each with the same reason).
TABLE_OUTCOMES = ("error", "fail", "xpass", "divergent", "xfail")
UNSENT = (NOT_SENT, NOT_JUDGED)  # a halted run's cases
STYLES = {"pass": "green", "fail": "red", "error": "bold red", "xpass": "magenta", "divergent": "yellow",
          "xfail": "cyan", "unobservable": "dim"}
CELL_CHARS = 110
PLAIN_MILESTONES = (25, 50, 75)


# pytest marks TerminalReporter @final for typing only (it is not final at run time): the plugin
# registers this subclass in its place to change how items are named (as pytest-sugar does).
class GonkaReporter(TerminalReporter):  # type: ignore[misc]
    """pytest's reporter, with suite items shown as ``rule[model]`` and no file path."""

    def _locationline(self, nodeid: Any, fspath: str, lineno: int | None, domain: str) -> str:
        if is_suite_node(str(nodeid)):
            return f"{domain} "
        return super()._locationline(nodeid, fspath, lineno, domain)

    def _printcollecteditems(self, items: Any) -> None:
        if self.config.get_verbosity() == -1:  # ``run --list``: one item per line, as it is named
            for item in items:
                self._tw.line(item.name if is_suite_node(item.nodeid) else item.nodeid)
            return
        super()._printcollecteditems(items)

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        if self.config.get_verbosity() <= 0 and is_suite_node(nodeid):
            return  # the file path pytest would print first says nothing; the progress display does
        super().pytest_runtest_logstart(nodeid, location)


def is_suite_node(nodeid: str) -> bool:
    return "test_conformance.py::" in nodeid


def install(config: pytest.Config) -> GonkaReporter | None:
    """Replace pytest's terminal reporter (the way pytest-sugar does)."""
    standard = config.pluginmanager.getplugin("terminalreporter")
    if standard is None:  # -p no:terminal
        return None
    reporter = GonkaReporter(config)
    config.pluginmanager.unregister(standard)
    config.pluginmanager.register(reporter, "terminalreporter")
    return reporter


class Progress:
    """Counts finished items and shows them: a live line on a tty, milestones elsewhere."""

    def __init__(self, reporter: TerminalReporter, outcome_of: Callable[[str], str | None],
                 tokens: Callable[[], int]) -> None:
        self.reporter = reporter
        self.outcome_of = outcome_of
        self.tokens = tokens
        self.tty = bool(getattr(reporter, "isatty", False))
        self.total = 0
        self.done = 0
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self._live: Live | None = None
        self._milestones = list(PLAIN_MILESTONES)

    def begin(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()

    def finished(self, key: str) -> None:
        self.done += 1
        self.counts[self.outcome_of(key) or "error"] += 1
        if self.tty:
            if self._live is None:
                # pytest's own stream; redrawn only here, between items, never from a thread
                # (a refresh thread could write while an item's output is being captured)
                stream = getattr(self.reporter._tw, "_file", None) or sys.stdout
                self._live = Live(self.render(), console=Console(file=stream, force_terminal=True),
                                  auto_refresh=False, transient=True)
                self._live.start()
            self._live.update(self.render(), refresh=True)
        elif self._milestones and self.total and self.done * 100 >= self._milestones[0] * self.total:
            while self._milestones and self.done * 100 >= self._milestones[0] * self.total:
                self._milestones.pop(0)
            self.reporter.write_line(PREFIX + self.line())

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def line(self) -> str:
        counts = ", ".join(f"{self.counts[o]} {o}" for o in OUTCOMES if self.counts[o])
        return (f"{self.done}/{self.total} done" + (f" · {counts}" if counts else "")
                + f" · {self.tokens()} tokens · {time.monotonic() - self.started:.1f}s")

    def render(self) -> Text:
        text = Text(f"{self.done}/{self.total} ", style="bold")
        for outcome in OUTCOMES:
            if self.counts[outcome]:
                text.append(f"{self.counts[outcome]} {outcome}  ", style=STYLES.get(outcome, ""))
        text.append(f"· {self.tokens()} tokens · {time.monotonic() - self.started:.1f}s", style="dim")
        return text


def one_line(result: Any) -> str:
    """Expected vs observed; when both read the same (HTTP 200 / HTTP 200), the first problem."""
    if result.expected and result.observed and result.expected != result.observed:
        text = f"expected {result.expected}, observed {result.observed}"
    else:
        text = "; ".join(result.problems) or result.observed
    return _cut(text)


def _cut(text: str) -> str:
    text = printable(text)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1] + "…"


def non_pass_table(results: Iterable[Any], tty: bool) -> str:
    """Every case that did not pass (unobservable ones only counted), worst first; the cases a
    halted run never sent are one line, since they share one reason (said once above)."""
    shown = [r for r in results if r.outcome in TABLE_OUTCOMES]
    unsent = [r for r in shown if r.outcome == "error" and r.problems and r.problems[0].startswith(UNSENT)]
    rows = sorted((r for r in shown if r not in unsent),
                  key=lambda r: (TABLE_OUTCOMES.index(r.outcome), r.rule, r.case_id, r.model))
    if not rows:
        return f"{len(unsent)} case(s) not sent or not judged: the run halted" if unsent else ""
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold" if tty else "")
    for name in ("outcome", "case", "model", "expected vs observed", "anchor"):
        table.add_column(name, no_wrap=True, overflow="ellipsis")
    for result in rows:
        table.add_row(Text(result.outcome, style=STYLES.get(result.outcome, "") if tty else ""), Text(result.case_id),
                      Text(printable(result.model)), Text(one_line(result)), Text(result.anchor or "-"))
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=tty, color_system="standard" if tty else None,
                      width=None if tty else 400, highlight=False, emoji=False, soft_wrap=False)
    console.print(table)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines + ([f"{len(unsent)} more case(s) not sent or not judged: the run halted"] if unsent else []))


def summary_lines(live: Any) -> list[str]:
    """The run's verdict in a few lines: counts, fleet, fingerprint, rerun hint, reports."""
    counts = Counter(result.outcome for result in live.results())
    spent = live.run.tokens_spent if live.run else 0
    lines = [PREFIX + ", ".join(f"{counts.get(o, 0)} {o}" for o in OUTCOMES) + f"; tokens spent {spent}"]
    if live.error:
        lines.append(PREFIX + live.error)
    fingerprint = live.fingerprint() or {}
    split = fleet_sentence(fingerprint.get("fleet"))
    if split:
        lines.append(PREFIX + split)
    best = fingerprint.get("best")
    if best and best.get("compared"):  # (nothing compared: nothing to explain)
        lines.append(PREFIX + f"best explained by revision {best['revision']}, profile {best['profile'] or 'upstream'} "
                     f"({len(best['contradictions'])} of {best['compared']} observations contradict it)")
    if fingerprint.get("rerun"):
        lines.append(PREFIX + "rerun with: " + live.redactor.text(fingerprint["rerun"]))
    if counts.get("unobservable") and not live.options.whitebox_url and not live.embedded:
        lines.append(PREFIX + f"{counts['unobservable']} unobservable: reference-only rules need a white-box view (--whitebox-url)")
    if live.options.report_dir:
        lines.append(PREFIX + f"reports in {live.options.report_dir}/ (report.html, report.json, summary.md, junit.xml)")
    return [printable(line) for line in lines]
