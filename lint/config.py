"""Configuration: ``[tool.gonka-lint]`` in pyproject.toml, rule selection and the ignore file.

Payloads carry no comments, so findings are accepted on purpose in an ignore file keyed by
file, rule and JSON pointer (like Redocly's ``.redocly.lint-ignore.yaml``), generated from the
current findings with ``--generate-ignore-file``; an entry that no longer matches anything in
a file that was linted is reported as stale.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Collection, Iterable


from gonka_conformance.catalogue.files import NotRegular, read_regular

from .findings import SEVERITIES, Finding

IGNORE_FILE = ".gonka-lint-ignore.yaml"


class ConfigError(Exception):
    """A problem with pyproject.toml, the ignore file or a selector: exit 2."""


# --- pyproject ---------------------------------------------------------------------------------


@dataclass
class Config:
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    strict: bool = False
    format: str | None = None
    model: str | None = None
    revision: str | None = None
    profile: str | None = None
    ignore_file: str | None = None
    unsafe_fixes: bool = False
    exclude: list[str] = field(default_factory=list)
    min_severity: str | None = None
    source: Path | None = None  # the pyproject.toml it came from

    @property
    def root(self) -> Path:
        return self.source.parent if self.source else Path.cwd()


_LISTS = {"select", "extend_select", "ignore", "exclude"}
_BOOLS = {"strict", "unsafe_fixes"}
_STRINGS = {"format", "model", "revision", "profile", "ignore_file", "min_severity"}


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml (from ``start`` upwards) that has a [tool.gonka-lint] table."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                data = _read_toml(candidate)
            except ConfigError:
                continue  # someone else's broken pyproject is not ours to report unless named
            tool = data.get("tool")
            if isinstance(tool, dict) and isinstance(tool.get("gonka-lint"), dict):
                return candidate
    return None


MAX_PYPROJECT_BYTES = 16 * 2**20


def _read_toml(path: Path) -> dict[str, Any]:
    """A pyproject.toml, or one ConfigError line: a FIFO or /dev/zero is refused, not read
    forever, and tomllib's recursion on nested arrays is caught."""
    try:
        raw = read_regular(path, MAX_PYPROJECT_BYTES)
        if len(raw) > MAX_PYPROJECT_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_PYPROJECT_BYTES // 2**20} MiB")
        return tomllib.loads(raw.decode("utf-8"))
    except NotRegular as exc:
        raise ConfigError(f"{path}: not a regular file ({exc.what})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None


def load_config(path: Path | None, *, formats: Collection[str]) -> Config:
    """``formats``: the valid ``format`` names, passed in by the command module from the one
    renderer registry (``reports/lint``), which this face may not import."""
    if path is None:
        return Config()
    data = _read_toml(path)
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table")
    table = tool.get("gonka-lint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.gonka-lint] must be a table")
    config = Config(source=path)
    known = {f.name for f in fields(Config)} - {"source"}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in known:
            raise ConfigError(f"{path}: [tool.gonka-lint] unknown key {raw_key!r} "
                              f"(known: {', '.join(sorted(k.replace('_', '-') for k in known))})")
        if key in _LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{path}: [tool.gonka-lint] {raw_key} must be a list of strings")
        if key == "select" and not value:
            raise ConfigError(f"{path}: [tool.gonka-lint] select = [] would disable every rule; "
                              "name rules, prefixes or ALL (or leave select out)")
        if key in _BOOLS and not isinstance(value, bool):
            raise ConfigError(f"{path}: [tool.gonka-lint] {raw_key} must be true or false")
        if key in _STRINGS and not isinstance(value, str):
            raise ConfigError(f"{path}: [tool.gonka-lint] {raw_key} must be a string")
        setattr(config, key, value)
    if config.format is not None and config.format not in formats:
        raise ConfigError(f"{path}: [tool.gonka-lint] format must be one of {', '.join(formats)}")
    if config.min_severity is not None and config.min_severity not in SEVERITIES:
        raise ConfigError(f"{path}: [tool.gonka-lint] min-severity must be one of {', '.join(SEVERITIES)}")
    return config


# --- selection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    """``--select`` / ``--ignore`` by rule id or id prefix; the most specific selector wins."""

    select: tuple[str, ...] | None = None  # None: every rule
    ignore: tuple[str, ...] = ()

    def __call__(self, rule_id: str) -> bool:
        chosen = _best(self.select, rule_id) if self.select is not None else 0
        if chosen < 0:
            return False
        return chosen > _best(self.ignore, rule_id)

    @classmethod
    def build(cls, rule_ids: Iterable[str], select: list[str] | None, extend: list[str],
              ignore: list[str]) -> "Selector":
        known = list(rule_ids)
        for name in [*(select or []), *extend, *ignore]:
            if name != "ALL" and not any(rule == name or rule.startswith(name) for rule in known):
                raise ConfigError(f"unknown rule or prefix {name!r} (see gonka-conformance rules)")
        chosen = None if select is None else tuple(select) + tuple(extend)
        return cls(chosen, tuple(ignore))


def _best(selectors: tuple[str, ...] | None, rule_id: str) -> int:
    """Length of the longest selector matching ``rule_id`` (0 for ALL, -1 for none)."""
    best = -1
    for name in selectors or ():
        if name == "ALL":
            best = max(best, 0)
        elif rule_id == name or rule_id.startswith(name):
            best = max(best, len(name))
    return best


# --- ignore file -------------------------------------------------------------------------------


@dataclass
class IgnoreFile:
    """Findings accepted on purpose: file → rule → JSON pointers."""

    path: Path
    entries: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    used: set[tuple[str, str, str]] = field(default_factory=set)
    _keys: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path, *, required: bool) -> "IgnoreFile":
        ignore = cls(path)
        if not path.exists():
            if required:
                raise ConfigError(f"{path}: ignore file not found")
            return ignore
        # The catalogue's bounded reader (only when there is an ignore file: start-up stays
        # light): a FIFO, /dev/zero, a huge file or an alias bomb is one error line.
        from gonka_conformance.catalogue.files import FileProblem, read_file
        from gonka_conformance.catalogue.yamlread import YamlProblem, parse

        try:
            data, _lines = parse(read_file(path, str(path)), str(path))
        except (FileProblem, YamlProblem) as exc:
            raise ConfigError(str(exc)) from None
        if data is None:
            return ignore
        if not isinstance(data, dict) or not isinstance(data.get("ignore", {}), dict) or data.get("version", 1) != 1:
            raise ConfigError(f"{path}: expected 'version: 1' and an 'ignore' mapping of file -> rule -> [pointers]")
        for file, rules in (data.get("ignore") or {}).items():
            if not isinstance(rules, dict):
                raise ConfigError(f"{path}: ignore[{file!r}] must map rule ids to lists of JSON pointers")
            for rule, pointers in rules.items():
                if not isinstance(pointers, list) or not all(isinstance(p, str) for p in pointers):
                    raise ConfigError(f"{path}: ignore[{file!r}][{rule!r}] must be a list of JSON pointers")
                ignore.entries.setdefault(str(file), {})[str(rule)] = set(pointers)
        return ignore

    def key(self, display: str) -> str:
        """How a linted file is named in the ignore file: relative to it, with '/' separators."""
        cached = self._keys.get(display)
        if cached is not None:
            return cached
        if display == "-" or display.startswith("<"):
            key = display
        else:
            try:
                key = Path(os.path.relpath(os.path.abspath(display), self.path.parent.resolve())).as_posix()
            except ValueError:  # another drive on Windows
                key = Path(os.path.abspath(display)).as_posix()
        self._keys[display] = key
        return key

    def matches(self, finding: Finding, *, record_use: bool = True) -> bool:
        """Whether an entry accepts ``finding``; ``record_use=False`` asks without marking the
        entry used (deciding on a fix must not hide a stale entry)."""
        file = self.key(finding.file or "-")
        pointers = self.entries.get(file, {}).get(finding.rule)
        if pointers and finding.pointer in pointers:
            if record_use:
                self.used.add((file, finding.rule, finding.pointer))
            return True
        return False

    def stale(self, linted: Iterable[str]) -> list[tuple[str, str, str]]:
        """Entries for files linted in this run that matched nothing."""
        files = {self.key(name) for name in linted}
        return sorted((file, rule, pointer)
                      for file, rules in self.entries.items() if file in files
                      for rule, pointers in rules.items() for pointer in pointers
                      if (file, rule, pointer) not in self.used)

    def regenerate(self, findings: Iterable[Finding], linted: Iterable[str]) -> int:
        """Replace the entries of the linted files by their current findings; keep the rest."""
        files = {self.key(name) for name in linted}
        entries = {file: rules for file, rules in self.entries.items() if file not in files}
        count = 0
        for finding in findings:
            pointers = entries.setdefault(self.key(finding.file or "-"), {}).setdefault(finding.rule, set())
            if finding.pointer not in pointers:
                pointers.add(finding.pointer)
                count += 1
        self.entries = entries
        return count

    def write(self) -> None:
        data: dict[str, Any] = {
            "version": 1,
            "ignore": {file: {rule: sorted(pointers) for rule, pointers in sorted(rules.items())}
                       for file, rules in sorted(self.entries.items())},
        }
        header = ("# gonka-lint ignore file: findings accepted on purpose, by file, rule and JSON pointer.\n"
                  "# Regenerate with: gonka-lint --generate-ignore-file PATH...\n")
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
        try:
            self.path.write_text(header + text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
