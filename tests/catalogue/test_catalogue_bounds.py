"""A hostile ``--catalogue`` is refused with ``file:line: what`` and exit 2, in bounded time and
memory, with libyaml's parser and with the pure-Python one (issue 9, part 3).

Each load runs in a child process under an address-space limit, and reports its own peak RSS,
so a regression fails here instead of eating the machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gonka_conformance.catalogue import yamlread
from gonka_conformance.catalogue.loader import CatalogueError, default_root, load_catalogue

LOADERS = ["c", "python"] if yamlread.C_LOADER is not None else ["python"]
MAX_RSS_MB = 200  # the interpreter with the package loaded is about 60 MB
ADDRESS_SPACE = 2 * 2**30  # a safety net: a runaway load dies instead of swapping

# Nine levels of nine: 9**9 (387 million) strings once expanded.
ALIAS_BOMB = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)) + "rules: *a8\n"

CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from gonka_conformance.catalogue import yamlread
from gonka_conformance.catalogue.loader import CatalogueError, load_catalogue
if sys.argv[2] == "python":
    yamlread.LOADER = yamlread.PY_LOADER
try:
    load_catalogue(sys.argv[1])
    problems = []
except CatalogueError as exc:
    problems = exc.problems
try:  # this process's own peak (ru_maxrss would include the parent's, from before exec)
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"problems": problems, "rss_mb": peak / 1024}}))
"""


def _catalogue_with(tmp_path: Path, name: str, write) -> Path:
    root = tmp_path / "cases"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    write(root / "rules" / name)
    return root


def _load_in_child(root: Path, loader: str) -> tuple[list[str], float, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", CHILD.format(limit=ADDRESS_SPACE), str(root), loader],
                            capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    return report["problems"], report["rss_mb"], elapsed


def _text(content: str):
    return lambda path: path.write_text(content)


def _write_huge(path: Path, mebibytes: int) -> None:
    with open(path, "wb") as out:
        out.write(b"rules: []\n#")
        for _ in range(mebibytes):
            out.write(b"x" * 2**20)


HOSTILE = {
    "alias bomb": (_text(ALIAS_BOMB), "more than 100000 values, aliases counted at their expanded size"),
    "deep flow nesting": (_text("rules: " + "[" * 100_000 + "]" * 100_000 + "\n"), "nest"),
    "deep block nesting": (_text("rules:\n" + "".join(" " * i + "- \n" for i in range(1, 500))), "nested deeper than the limit of 64 levels"),
    "deep mapping nesting": (_text("rules:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 500))), "nested deeper than the limit of 64 levels"),
    "huge file": (lambda path: _write_huge(path, 150),
                  "larger than the 1 MiB limit"),
    "many values": (_text("rules: [" + "1, " * 150_000 + "1]\n"), "more than 100000 values"),
}


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_a_file_line_error_in_bounded_time_and_memory(tmp_path: Path, case: str, loader: str) -> None:
    write, expected = HOSTILE[case]
    root = _catalogue_with(tmp_path, "05-evil.yaml", write)
    problems, rss_mb, elapsed = _load_in_child(root, loader)
    assert len(problems) == 1, problems
    assert problems[0].startswith("cases/rules/05-evil.yaml:")
    int(problems[0].split(":")[1])  # a line number
    assert expected in problems[0]
    assert rss_mb < MAX_RSS_MB, f"{case}: peak RSS {rss_mb:.0f} MB"
    assert elapsed < 60, f"{case}: took {elapsed:.1f} s"


@pytest.mark.parametrize("special, expected", [
    ("dev-zero", "not a regular file (a character device)"),
    ("fifo", "not a regular file (a FIFO)"),
    ("directory", "not a regular file (a directory)"),
    ("dangling", "cannot read: No such file or directory"),
])
def test_special_files_are_refused_without_reading_them(tmp_path: Path, special: str, expected: str) -> None:
    def make(path: Path) -> None:
        if special == "dev-zero":
            path.symlink_to("/dev/zero")
        elif special == "fifo":
            os.mkfifo(path)  # opening it for reading would wait for a writer forever
        elif special == "directory":
            path.mkdir()
        else:
            path.symlink_to(path.parent / "missing.yaml")

    root = _catalogue_with(tmp_path, "05-special.yaml", make)
    problems, rss_mb, elapsed = _load_in_child(root, LOADERS[0])
    assert len(problems) == 1 and problems[0].startswith(f"cases/rules/05-special.yaml:1: {expected}"), problems
    assert rss_mb < MAX_RSS_MB and elapsed < 60


def test_the_cli_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    root = _catalogue_with(tmp_path, "05-evil.yaml", _text(ALIAS_BOMB))
    payload = tmp_path / "p.json"
    payload.write_text('{"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user", "content": "hi"}]}')
    for command in (["gonka-lint", "--catalogue", str(root), str(payload)],
                    ["gonka-conformance", "--catalogue", str(root), "rules"]):
        exe = Path(sys.executable).with_name(command[0])
        result = subprocess.run([str(exe), *command[1:]], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (command, result.stderr)
        assert "cases/rules/05-evil.yaml:" in result.stderr and "alias bomb" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("loader", LOADERS)
def test_both_parsers_read_the_packaged_catalogue_identically(monkeypatch, loader: str) -> None:
    path = default_root() / "rules" / "30-schemas.yaml"  # the file with anchors and aliases
    text = path.read_text(encoding="utf-8")
    monkeypatch.setattr(yamlread, "LOADER", yamlread.C_LOADER if loader == "c" else yamlread.PY_LOADER)
    data, lines = yamlread.parse(text, "30-schemas.yaml")
    assert data == json.loads(json.dumps(yaml.safe_load(text), default=str))  # what PyYAML itself builds
    assert lines[("rules", 0)] == next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("  - id:"))


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("text, expected", [
    ("a: 1\na: 2\n", "2: duplicate key 'a'"),
    ("? [a]\n: 1\n", "1: mapping keys must be strings, got a collection"),
    ("1: x\n", "1: mapping keys must be strings, got 1"),
    ("a: *nope\n", "1: invalid YAML: found undefined alias 'nope'"),
    ("a: &x [1, *x]\n", "1: an alias refers to the node that contains it"),
    ("a: !!binary aGk=\n", "1: invalid YAML: could not determine a constructor for the tag"),
    ("a: !!set {x: null}\n", "1: invalid YAML: could not determine a constructor for the tag"),
    ("a: 1\n---\nb: 2\n", "2: invalid YAML: expected a single document"),
])
def test_yaml_beyond_json_is_refused(monkeypatch, loader: str, text: str, expected: str) -> None:
    monkeypatch.setattr(yamlread, "LOADER", yamlread.C_LOADER if loader == "c" else yamlread.PY_LOADER)
    with pytest.raises(yamlread.YamlProblem) as info:
        yamlread.parse(text, "f.yaml")
    assert str(info.value).startswith("f.yaml:" + expected.split(":")[0] + ":"), str(info.value)
    assert expected.split(": ", 1)[1] in str(info.value)


def test_aliases_are_copies_and_dates_stay_strings() -> None:
    data, lines = yamlread.parse("a: &x {k: [1, 2]}\nb: *x\nd: 2026-01-01\n", "f.yaml")
    assert data == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}, "d": "2026-01-01"}
    assert data["a"] is not data["b"]
    assert lines[("b",)] == 2 and lines[("a", "k", 1)] == 1


def test_an_unreadable_catalogue_file_is_one_problem_among_others(tmp_path: Path) -> None:
    root = _catalogue_with(tmp_path, "05-bad.yaml", lambda p: p.write_bytes(b"rules: []\nx: \xff\n"))
    (root / "rules" / "06-fifo.yaml").unlink(missing_ok=True)
    os.mkfifo(root / "rules" / "06-fifo.yaml")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(root)
    assert info.value.problems == ["cases/rules/05-bad.yaml:2: cannot read: not UTF-8 (byte 0xff)",
                                   "cases/rules/06-fifo.yaml:1: not a regular file (a FIFO)"]
