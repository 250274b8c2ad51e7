"""The live suite's options, declared once.

Each ``LiveOption`` below is the one definition from which the rest is built:
``gonka-conformance run``'s ``--name`` (``commands.py``), the mapping of a run to pytest's
``--gonka-name`` (``pytest_args``), the plugin's ``pytest_addoption`` and reading the values back
(``plugin.py``), the ``name-with-dashes`` key of ``[tool.gonka-conformance]`` (``config.py``), and
the defaults of the typed ``LiveOptions`` (and of the runner's ``RunConfig`` and the session's
``SessionOptions``, which take theirs from ``DEFAULTS``). Adding an option is one entry here plus
a field of ``LiveOptions`` (checked at import) and the code that uses the value.

Light on purpose: the pytest plugin imports this in every project that has the package installed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

from .guard import Bounds

_BOUNDS = Bounds()

#: A value check: the tail of the usage error for the option (``--name`` + tail), or None.
Check = Callable[[Any], "str | None"]


def _at_least_one(value: int) -> str | None:
    return "must be at least 1" if value < 1 else None


def _not_negative(value: int) -> str | None:
    return "must not be negative" if value < 0 else None


def _positive_seconds(value: float) -> str | None:
    # inf/nan would reach httpx and the thread pool
    return None if math.isfinite(value) and value > 0 else f"must be a positive number of seconds, got {value}"


def _some_models(value: str) -> str | None:
    return None if split_models(value) else "was given without any model id"


def split_models(text: str) -> list[str]:
    """``--models a, b`` → ``["a", "b"]`` (blank entries dropped)."""
    return [m.strip() for m in text.split(",") if m.strip()]


class _Same:
    """``run_default`` not given: ``run`` uses ``default`` too."""

    def __repr__(self) -> str:
        return "SAME"


SAME: Any = _Same()


@dataclass(frozen=True)
class LiveOption:
    """One option of the live suite. ``name`` is the Python name (the ``LiveOptions`` field and
    argparse destination); the spellings derive from it: ``--name-with-dashes`` on ``run``,
    ``--gonka-name-with-dashes`` in pytest, ``name-with-dashes`` in the configuration file."""

    name: str
    kind: type  # str, int, float, or bool for a flag (store_true)
    default: Any
    help: str  # "{default}" is replaced by the default as ``run`` shows it
    choices: tuple[str, ...] = ()
    cli: bool = True  # ``run`` has it (False: pytest only, or given to ``run`` another way)
    config: bool = False  # a key of [tool.gonka-conformance]
    run_default: Any = SAME  # what ``run`` uses when neither flag nor file sets it
    path: bool = False  # in the configuration file, relative to the file
    listing: bool = False  # comma-separated; the configuration file also takes a TOML list
    url: bool = False  # checked as an http(s) URL before anything starts
    complete: Literal["file", "directory"] | None = None  # shell completion of the value
    check: Check | None = None

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def pytest_flag(self) -> str:
        return "--gonka-" + self.name.replace("_", "-")

    @property
    def pytest_dest(self) -> str:
        return "gonka_" + self.name

    @property
    def config_key(self) -> str:
        return self.name.replace("_", "-")

    @property
    def is_flag(self) -> bool:
        return self.kind is bool

    @property
    def for_run(self) -> Any:
        return self.default if self.run_default is SAME else self.run_default

    def help_text(self) -> str:
        # argparse %-formats help texts (pytest's too): a literal % must be doubled.
        return self.help.format(default=_shown(self.for_run)).replace("%", "%%")

    def problem(self, value: Any) -> str | None:
        """The one-line usage error for ``value``, or None when it is fine (or unset)."""
        if self.check is None or value is None:
            return None
        tail = self.check(value)
        return f"{self.cli_flag} {tail}" if tail else None


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


#: Every live option, in the order help texts list them (the configuration keys' order too).
OPTIONS: tuple[LiveOption, ...] = (
    LiveOption("base_url", str, None, url=True, config=True,
               help="target base URL as an OpenAI SDK takes it, e.g. https://api.gonkagate.com/v1 "
                    "(default: the embedded reference gateway)"),
    LiveOption("api_key_env", str, "GONKA_API_KEY", config=True,
               help="environment variable holding the API key (default {default}; never pass a key on the command line)"),
    LiveOption("profile", str, None, config=True,
               help="broker profile whose documented divergences are reported as 'divergent'"),
    LiveOption("revision", str, None, config=True,
               help="contract revision the target should implement (default: newest)"),
    LiveOption("models", str, None, config=True, listing=True, check=_some_models,
               help="comma-separated model ids (default: GET /models)"),
    LiveOption("tier", str, "cheap", choices=("cheap", "full"), config=True,
               help="cheap: rejects and tiny outputs (default); full: also caps, defaults, thinking budgets"),
    LiveOption("budget_tokens", int, None, config=True, check=_not_negative,
               help="stop spending after N tokens; unsent cases are errors"),
    LiveOption("baseline", str, None, config=True, path=True, complete="file",
               help="baseline file of expected failures (stale entries fail the run; a missing file is a warning)"),
    LiveOption("report_dir", str, None, run_default="gonka-report", config=True, path=True, complete="directory",
               help="where reports go: report.json, report.html, summary.md (run's default: ./{default}; "
                    "plain pytest writes none without it)"),
    LiveOption("concurrency", int, 4, config=True, check=_at_least_one,
               help="requests in flight (default {default})"),
    LiveOption("timeout", float, 60.0, config=True, check=_positive_seconds,
               help="total seconds per request: connect, headers and the whole body or stream (default {default})"),
    LiveOption("retries", int, 2, config=True, check=_not_negative,
               help="retries for 429/503, Retry-After honoured (default {default})"),
    LiveOption("repeat", int, 1, config=True, check=_at_least_one,
               help="send each case K times; a fleet must answer consistently (default {default})"),
    LiveOption("baseline_required", bool, False,
               help="a missing baseline file is an error (exit 2)"),
    LiveOption("whitebox_url", str, None, url=True,
               help="debug view of a reference gateway started with serve --debug-endpoint (verifies silent rules)"),
    # ``run`` takes it before the subcommand (``gonka-conformance --catalogue DIR run``).
    LiveOption("catalogue", str, None, cli=False,
               help="load the catalogue from this directory instead of the packaged cases/"),
    # bounds (guard.py): a misbehaving target costs at most this much
    LiveOption("max_duration", float, _BOUNDS.max_duration, check=_positive_seconds,
               help="seconds for the whole run, retry waits included; cases left are errors (default {default})"),
    LiveOption("unresponsive_after", int, _BOUNDS.unresponsive_after, check=_at_least_one,
               help="after N consecutive timeouts/transport failures the target is given up and the run ends, "
                    "exit 3 (default {default})"),
    LiveOption("reject_latency", float, _BOUNDS.reject_latency, check=_positive_seconds,
               help="seconds an expected reject (4xx) may take before it is a deviation (default {default})"),
    # ``run`` always asks for it.
    LiveOption("terminal", bool, False, cli=False,
               help="compact terminal: items as rule[model], a progress display, a table of what did not pass"),
)

BY_NAME: dict[str, LiveOption] = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class LiveOptions:
    """The values of every ``LiveOption``, typed; one field per definition, in the same order
    and of the definition's type (checked when this module is imported)."""

    base_url: str | None
    api_key_env: str
    profile: str | None
    revision: str | None
    models: str | None
    tier: str
    budget_tokens: int | None
    baseline: str | None
    report_dir: str | None
    concurrency: int
    timeout: float
    retries: int
    repeat: int
    baseline_required: bool
    whitebox_url: str | None
    catalogue: str | None
    max_duration: float
    unresponsive_after: int
    reject_latency: float
    terminal: bool

    @classmethod
    def read(cls, value: Callable[[LiveOption], Any]) -> LiveOptions:
        return cls(**{option.name: value(option) for option in OPTIONS})

    @classmethod
    def defaults(cls) -> LiveOptions:
        return cls.read(lambda option: option.default)

    def model_list(self) -> list[str] | None:
        return split_models(self.models) if self.models is not None else None

    def problems(self) -> list[str]:
        """Every value check's usage error, in definition order."""
        found = (option.problem(getattr(self, option.name)) for option in OPTIONS)
        return [problem for problem in found if problem]


def _annotation(option: LiveOption) -> str:
    optional = option.default is None and not option.is_flag
    return option.kind.__name__ + (" | None" if optional else "")


def field_mismatches() -> list[str]:
    """Where ``LiveOptions`` and ``OPTIONS`` disagree (names, order, types); empty when they agree."""
    fields = [(f.name, str(f.type)) for f in dataclasses.fields(LiveOptions)]
    wanted = [(option.name, _annotation(option)) for option in OPTIONS]
    problems = [f"LiveOptions.{name}: {kind}, but the definition says {want}"
                for (name, kind), (wanted_name, want) in zip(fields, wanted) if (name, kind) != (wanted_name, want)]
    if len(fields) != len(wanted):
        problems.append(f"LiveOptions has {len(fields)} fields for {len(wanted)} definitions")
    return problems


def _check_definitions() -> None:
    problems = field_mismatches()
    problems += [f"{o.name}: default {o.default!r} is not a {o.kind.__name__}" for o in OPTIONS
                 if o.default is not None and type(o.default) is not o.kind]
    problems += [f"{o.name}: default {o.default!r} is not one of its choices" for o in OPTIONS
                 if o.choices and o.default not in o.choices]
    if problems:  # a programming error: fail at import, before any option is read wrongly
        raise TypeError("live options: " + "; ".join(problems))


_check_definitions()

#: Every option's default, typed (``RunConfig`` and ``SessionOptions`` take theirs from here).
DEFAULTS = LiveOptions.defaults()


def pytest_args(options: LiveOptions) -> list[str]:
    """The plugin's ``--gonka-…`` arguments for these values: every value that is set, every
    flag that is on."""
    args: list[str] = []
    for option in OPTIONS:
        value = getattr(options, option.name)
        if option.is_flag:
            args += [option.pytest_flag] if value else []
        elif value is not None:
            args += [option.pytest_flag, str(value)]  # str(float) round-trips exactly
    return args
