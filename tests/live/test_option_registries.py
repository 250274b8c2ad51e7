"""One definition each: the live options (live/options.py) and the subcommands (the CLI's
registry). Every derived place shows every definition, and nothing a definition does not name."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gonka_conformance import cli
from gonka_conformance.gateway import cli as gateway_cli
from gonka_conformance.live import commands, options, plugin
from gonka_conformance.live.config import SETTINGS, load_settings
from gonka_conformance.live.options import OPTIONS, LiveOption, LiveOptions
from gonka_conformance.live.session import SessionOptions, session_options

#: `run`'s own controls (pytest's selection and output), not live options: a new one is added here on purpose.
RUN_CONTROLS = {"-h", "--help", "-k", "-x", "--exitfirst", "--config", "--format", "-v", "--verbose", "-q", "--quiet",
                "--header", "--list"}


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run")
    commands._add_run_arguments(parser)
    return parser


def _help_options(text: str, prefix: str = "-") -> set[str]:
    """The option strings a help text lists: argparse and pytest start each option's entry two
    spaces in (a wrapped help line is indented further)."""
    found: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"^ {2}(-[^\s=]+(?:[ =]\S+)?(?:, -[^\s=]+(?:[ =]\S+)?)*)", line)
        if match:
            found |= {part.split()[0].split("=")[0] for part in match.group(1).split(", ")}
    return {name for name in found if name.startswith(prefix)}


def _pytest_help() -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--help"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-1000:]
    return done.stdout


def registry_problems(run_help: str, pytest_help: str, settings: dict[str, LiveOption]) -> list[str]:
    """How the three derived places differ from the definitions (empty when they agree)."""
    problems = []
    run_expected = {o.cli_flag for o in OPTIONS if o.cli} | RUN_CONTROLS
    if _help_options(run_help) != run_expected:
        problems.append(f"run --help: {sorted(_help_options(run_help) ^ run_expected)}")
    pytest_expected = {o.pytest_flag for o in OPTIONS}
    if _help_options(pytest_help, "--gonka-") != pytest_expected:
        problems.append(f"pytest --help: {sorted(_help_options(pytest_help, '--gonka-') ^ pytest_expected)}")
    config_expected = {o.config_key for o in OPTIONS if o.config}
    if set(settings) != config_expected:
        problems.append(f"config keys: {sorted(set(settings) ^ config_expected)}")
    return problems


@pytest.fixture(scope="module")
def pytest_help() -> str:
    return _pytest_help()


def test_every_definition_appears_in_run_help_pytest_help_and_the_config_keys(pytest_help) -> None:
    assert registry_problems(_run_parser().format_help(), pytest_help, SETTINGS) == []
    # The CLI's own `run` is the same parser.
    run_help = subprocess.run([str(Path(sys.executable).with_name("gonka-conformance")), "run", "--help"],
                              capture_output=True, text=True, timeout=120).stdout
    assert _help_options(run_help) == _help_options(_run_parser().format_help())


def test_an_option_added_in_one_place_only_is_caught(pytest_help) -> None:
    extra_run = _run_parser()
    extra_run.add_argument("--retry-budget", type=int)
    assert registry_problems(extra_run.format_help(), pytest_help, SETTINGS) == ["run --help: ['--retry-budget']"]
    extra_pytest = pytest_help + "  --gonka-retry-budget=GONKA_RETRY_BUDGET\n"
    assert registry_problems(_run_parser().format_help(), extra_pytest, SETTINGS) == ["pytest --help: ['--gonka-retry-budget']"]
    extra_key = {**SETTINGS, "retry-budget": LiveOption("retry_budget", int, None, help="")}
    assert registry_problems(_run_parser().format_help(), pytest_help, extra_key) == ["config keys: ['retry-budget']"]


def test_the_typed_values_match_the_definitions(monkeypatch) -> None:
    assert options.field_mismatches() == []
    assert [f.name for f in dataclasses.fields(LiveOptions)] == [o.name for o in OPTIONS]
    monkeypatch.setattr(options, "OPTIONS", (*OPTIONS, LiveOption("retry_budget", int, None, help="")))
    assert options.field_mismatches() == ["LiveOptions has 20 fields for 21 definitions"]
    changed = tuple(dataclasses.replace(o, kind=int) if o.name == "timeout" else o for o in OPTIONS)
    monkeypatch.setattr(options, "OPTIONS", changed)
    assert options.field_mismatches() == ["LiveOptions.timeout: float, but the definition says int"]


def _non_defaults() -> LiveOptions:
    """A value other than the default for every option (choices: the other choice)."""
    def other(option: LiveOption) -> object:
        if option.is_flag:
            return True
        if option.choices:
            return next(c for c in option.choices if c != option.default)
        return {str: f"x-{option.name}", int: 7, float: 2.5}[option.kind]
    return LiveOptions.read(other)


class _Group:
    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser()

    def addoption(self, *names: str, **kwargs: object) -> None:
        self.parser.add_argument(*names, **kwargs)  # type: ignore[arg-type]


class _Parser:
    """Records the plugin's pytest_addoption calls into a plain argparse parser."""

    def __init__(self) -> None:
        self.group = _Group()

    def getgroup(self, name: str, description: str = "") -> _Group:
        return self.group


def test_run_values_reach_the_plugin_unchanged() -> None:
    recorded = _Parser()
    plugin.pytest_addoption(recorded)  # type: ignore[arg-type]
    defaults = recorded.group.parser.parse_args([])
    assert LiveOptions.read(lambda o: getattr(defaults, o.pytest_dest)) == LiveOptions.defaults()
    values = _non_defaults()
    parsed = recorded.group.parser.parse_args(options.pytest_args(values))
    assert LiveOptions.read(lambda o: getattr(parsed, o.pytest_dest)) == values


def test_run_parses_every_cli_option_by_its_definition() -> None:
    values = _non_defaults()
    argv = []
    for option in OPTIONS:
        if option.cli:
            value = getattr(values, option.name)
            argv += [option.cli_flag] if option.is_flag else [option.cli_flag, str(value)]
    args = _run_parser().parse_args(argv)
    assert all(getattr(args, o.name) == getattr(values, o.name) for o in OPTIONS if o.cli)
    unset = _run_parser().parse_args([])
    # unset is None (flags: off), so that the configuration file, then the default, can fill it
    assert all(getattr(unset, o.name) is (False if o.is_flag else None) for o in OPTIONS if o.cli)
    assert commands.RUN_DEFAULTS == {o.name: o.for_run for o in OPTIONS if o.cli and not o.is_flag}


def test_every_config_key_is_read_by_its_definition(tmp_path) -> None:
    values = _non_defaults()
    lines = ["[tool.gonka-conformance]"]
    for key, option in SETTINGS.items():
        value = getattr(values, option.name)
        lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    settings = load_settings(tmp_path / "pyproject.toml")
    for option in SETTINGS.values():
        expected = getattr(values, option.name)
        assert settings[option.name] == (str(tmp_path / expected) if option.path else expected), option.name


def test_the_session_receives_every_option_it_has() -> None:
    values = _non_defaults()
    session = session_options(values, baseline={"a[m]": "known"})
    assert session.catalogue_root == values.catalogue and session.models == [values.models]
    assert session.baseline == {"a[m]": "known"} and session.timeout == values.timeout
    assert session.max_duration == values.max_duration and session.tier == values.tier
    fed = {f.name for f in dataclasses.fields(SessionOptions)} - {"api_key"}
    assert all(getattr(session, name) != getattr(SessionOptions(), name) for name in fed), \
        [name for name in fed if getattr(session, name) == getattr(SessionOptions(), name)]
    defaults = session_options(LiveOptions.defaults(), baseline={})
    assert defaults == SessionOptions(), "SessionOptions' defaults are the options' defaults"


def test_subcommands_come_from_one_registry(capsys) -> None:
    names = [command.name for command in cli.SUBCOMMANDS]
    assert len(names) == len(set(names))
    assert set(commands.SUBCOMMANDS) | set(gateway_cli.SUBCOMMANDS) <= set(cli.SUBCOMMANDS)
    parser = cli.build_parser()
    listing = parser.format_help()
    for command in cli.SUBCOMMANDS:
        assert re.search(rf"^\s+{command.name}\s+\S", listing, re.M), command.name  # help listing
        with pytest.raises(SystemExit) as exited:
            cli.main([command.name, "--help"])
        assert exited.value.code == 0
    capsys.readouterr()
    assert cli.main(["completion", "bash"]) == 0
    completion = re.search(r"^_shtab_gonka_conformance_subparsers=\((.*)\)$", capsys.readouterr().out, re.M)
    assert completion is not None and completion.group(1).split() == names  # shell completion, in order


def test_help_texts_do_not_restate_the_catalogues_numbers(capsys) -> None:
    from gonka_conformance.catalogue.loader import load_catalogue
    from gonka_conformance.engine.pipeline import limits_for

    limits = limits_for(load_catalogue(), None)
    numbers = {str(limits.default_max_tokens), str(limits.max_tokens_cap)}
    for command in ("normalize", "serve", "run"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        assert not {n for n in numbers if re.search(rf"\b{n}\b", text)}, command
    assert not {n for n in numbers for o in OPTIONS if n in o.help_text()}
