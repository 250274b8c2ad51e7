"""``[tool.gonka-conformance]`` in pyproject.toml, or a ``gonka-conformance.toml``: the settings
a project runs the live suite with, so CI and a terminal run the same thing. Command-line
flags win over the file; paths in the file are relative to the file.

    [tool.gonka-conformance]
    base-url = "https://staging.example-broker.com/v1"
    api-key-env = "STAGING_KEY"      # the variable's name; a key itself is refused
    profile = "gonkagate.com"
    revision = "2026-09"
    models = ["moonshotai/Kimi-K2.6"]   # or "a,b"
    tier = "cheap"
    budget-tokens = 50000
    baseline = "conformance/baseline.json"
    report-dir = "gonka-report"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .options import OPTIONS, LiveOption

TABLE = "gonka-conformance"
STANDALONE = "gonka-conformance.toml"  # its settings at the top level (or under [tool.gonka-conformance])
#: setting -> its definition (options.py): the keys are derived, never listed here
SETTINGS: dict[str, LiveOption] = {option.config_key: option for option in OPTIONS if option.config}
KINDS = {str: "a string", int: "a whole number", float: "a number"}


class ConfigError(ValueError):
    """The configuration file is unreadable or holds a bad setting (exit 2)."""


def find_config(start: Path) -> Path | None:
    """The nearest gonka-conformance.toml, or pyproject.toml with the table, from ``start`` up."""
    for directory in (start, *start.parents):
        standalone = directory / STANDALONE
        if standalone.is_file():
            return standalone
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and TABLE in _read(pyproject).get("tool", {}):
            return pyproject
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_settings(path: Path) -> dict[str, Any]:
    """``{argparse destination: value}`` from the file; ConfigError names a bad key or value."""
    data = _read(path)
    table = data.get("tool", {}).get(TABLE)
    if table is None and path.name == STANDALONE:
        table = {k: v for k, v in data.items() if k != "tool"}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.{TABLE}] must be a table")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key == "api-key" or (key == "api-key-env" and isinstance(value, str) and value.startswith("sk-")):
            raise ConfigError(f"{path}: api-key-env names an environment variable; never put a key in a file")
        if key not in SETTINGS:
            raise ConfigError(f"{path}: unknown setting {key!r} in [tool.{TABLE}] (known: {', '.join(SETTINGS)})")
        option = SETTINGS[key]
        settings[option.name] = _convert(path, option, value)
    for option in SETTINGS.values():
        if option.choices and settings.get(option.name) not in (None, *option.choices):
            raise ConfigError(f"{path}: {option.config_key} must be one of {', '.join(option.choices)}")
        if option.path and option.name in settings:
            settings[option.name] = str(path.parent / settings[option.name])
    return settings


def _convert(path: Path, option: LiveOption, value: Any) -> Any:
    kind = option.kind
    if option.listing and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{path}: {option.config_key} must be {KINDS[kind]}, got {type(value).__name__}")
    return value


def apply(args: Any, defaults: dict[str, Any], start: Path | None = None, explicit: Path | None = None) -> Path | None:
    """Fill every option the command line left unset (None) from the file, then from
    ``defaults``; returns the file used."""
    path = explicit if explicit is not None else find_config(start or Path.cwd())
    if explicit is not None and not explicit.is_file():
        raise ConfigError(f"{explicit}: no such configuration file")
    settings = load_settings(path) if path else {}
    for destination, default in defaults.items():
        if getattr(args, destination, None) is None:
            setattr(args, destination, settings.get(destination, default))
    return path
