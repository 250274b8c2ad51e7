"""The compiled-catalogue cache (issue 12, start-up): cold and warm starts, invalidation by an
edit or another version, corruption, an unwritable cache, two processes at once — and a warm
start that imports neither YAML, JSON Schema, rich nor httpx.

Every load runs in a fresh child process (the in-process catalogue is memoised), with the cache
in this test's own temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gonka_conformance.catalogue import cache as catalogue_cache
from gonka_conformance.catalogue.loader import default_root, load_catalogue
from gonka_conformance.lint.hook import LintHook

CHILD = """
import json, sys
from gonka_conformance.catalogue import loader
from gonka_conformance.common import version
if len(sys.argv) > 3:
    version.__version__ = sys.argv[3]
parsed = []
compose = loader._compose
loader._compose = lambda text, filename: (parsed.append(filename), compose(text, filename))[1]
root = None if sys.argv[1] == "-" else sys.argv[1]
catalogue = loader.load_catalogue(root, cache=None if sys.argv[2] == "auto" else sys.argv[2] == "on")
print(json.dumps({"from_cache": catalogue.from_cache, "parsed": len(parsed),
                  "rules": [[r.id, r.source_file, r.line, dict(r.messages), len(r.targets)] for r in catalogue.rules],
                  "brokers": sorted(catalogue.brokers)}))
"""


@pytest.fixture()
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture()
def cases(tmp_path: Path) -> Path:
    root = tmp_path / "cases"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def _env(cache_dir: Path | str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_CONFORMANCE_")}
    return {**env, catalogue_cache.ENV_DIR: str(cache_dir)}


def _load(cache_dir: Path | str, root: Path | None, mode: str = "on", version: str | None = None) -> dict:
    args = [sys.executable, "-c", CHILD, str(root) if root else "-", mode, *([version] if version else [])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=_env(cache_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _files(root: Path) -> int:
    return len(list((root / "rules").glob("*.yaml"))) + len(list((root / "profiles").glob("*.yaml")))


def _cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("catalogue-*.json"))


def test_cold_then_warm_start(cache_dir: Path, cases: Path) -> None:
    cold = _load(cache_dir, cases)
    assert cold["from_cache"] is False and cold["parsed"] == _files(cases)
    (stored,) = _cache_files(cache_dir)
    assert stored.read_bytes().startswith(b"gonka-catalogue-cache ")
    warm = _load(cache_dir, cases)
    assert warm["from_cache"] is True and warm["parsed"] == 0
    assert warm["rules"] == cold["rules"] and warm["brokers"] == cold["brokers"]  # the same catalogue, lines included
    assert len(cold["rules"]) >= 100


def test_the_packaged_catalogue_is_cached_by_default_and_a_users_is_not(cache_dir: Path, cases: Path) -> None:
    assert _load(cache_dir, None, "auto")["from_cache"] is False
    assert _load(cache_dir, None, "auto")["from_cache"] is True
    before = _cache_files(cache_dir)
    for _ in range(2):  # a --catalogue DIR is parsed and validated every time
        user = _load(cache_dir, cases, "auto")
        assert user["from_cache"] is False and user["parsed"] == _files(cases)
    assert _cache_files(cache_dir) == before


def test_an_edit_invalidates_the_cache(cache_dir: Path, cases: Path) -> None:
    _load(cache_dir, cases)
    path = cases / "rules" / "10-params.yaml"
    text = path.read_text()
    old = '"{field}: must be greater than 0"'
    assert old in text
    path.write_text(text.replace(old, '"{field}: must be above zero"', 1))
    edited = _load(cache_dir, cases)
    assert edited["from_cache"] is False and edited["parsed"] == _files(cases)
    assert any("{field}: must be above zero" in m for rule in edited["rules"] for m in rule[3].values())
    again = _load(cache_dir, cases)
    assert again["from_cache"] is True and again["rules"] == edited["rules"]


def test_an_edit_that_breaks_the_catalogue_is_reported_not_served_from_the_cache(cache_dir: Path, cases: Path) -> None:
    _load(cache_dir, cases)
    path = cases / "rules" / "10-params.yaml"
    path.write_text(path.read_text().replace("    kind: clamp\n", "    kind: clampz\n", 1))
    result = subprocess.run([sys.executable, "-c", CHILD, str(cases), "on"], capture_output=True, text=True,
                            timeout=120, env=_env(cache_dir))
    assert result.returncode != 0 and "CatalogueError" in result.stderr and "clampz" in result.stderr


def test_another_version_never_uses_the_cache(cache_dir: Path, cases: Path) -> None:
    _load(cache_dir, cases)
    assert _load(cache_dir, cases, version="99.0.0")["from_cache"] is False
    assert _load(cache_dir, cases, version="99.0.0")["from_cache"] is True  # rebuilt for that version
    assert _load(cache_dir, cases)["from_cache"] is False  # and not trusted back


@pytest.mark.parametrize("corrupt", ["truncated", "flipped byte", "garbage", "empty", "valid checksum, wrong shape",
                                     "valid checksum, a rule line missing"])
def test_a_corrupt_cache_is_rebuilt(cache_dir: Path, cases: Path, corrupt: str, monkeypatch) -> None:
    cold = _load(cache_dir, cases)
    (stored,) = _cache_files(cache_dir)
    blob = stored.read_bytes()
    if corrupt == "truncated":
        stored.write_bytes(blob[: len(blob) // 2])
    elif corrupt == "flipped byte":
        middle = len(blob) // 2
        stored.write_bytes(blob[:middle] + bytes([blob[middle] ^ 0x01]) + blob[middle + 1:])
    elif corrupt == "garbage":
        stored.write_bytes(os.urandom(4096))
    elif corrupt == "empty":
        stored.write_bytes(b"")
    else:
        key = blob.split(b" ")[2].decode()
        payload = json.loads(blob.partition(b"\n")[2])
        if corrupt.endswith("wrong shape"):
            payload = {"files": [{"kind": "rules", "file": "x", "data": 1}]}
        else:  # would silently drop a rule if the lines were zipped loosely
            payload["files"][0]["rule_lines"].pop()
        monkeypatch.setenv(catalogue_cache.ENV_DIR, str(cache_dir))  # write through the module, as the loader does
        catalogue_cache.write(cases.resolve(), key, payload)
        monkeypatch.undo()  # (the test run's own cache directory again)
    rebuilt = _load(cache_dir, cases)
    assert rebuilt["from_cache"] is False and rebuilt["rules"] == cold["rules"]
    warm = _load(cache_dir, cases)
    assert warm["from_cache"] is True and warm["rules"] == cold["rules"]


def test_an_unwritable_cache_means_no_cache(tmp_path: Path, cases: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for where in (blocker / "cache", blocker):  # the directory cannot be created / is a file
        for _ in range(2):
            result = _load(where, cases)
            assert result["from_cache"] is False and len(result["rules"]) >= 100
    # The cache file's place is taken by a directory: not read, not replaced, no temporary left.
    cache_dir = tmp_path / "cache"
    _load(cache_dir, cases)
    (stored,) = _cache_files(cache_dir)
    stored.unlink()
    stored.mkdir()
    for _ in range(2):
        assert _load(cache_dir, cases)["from_cache"] is False
    assert stored.is_dir() and sorted(p.name for p in cache_dir.iterdir()) == [stored.name]


def test_a_read_only_cache_directory(tmp_path: Path, cases: Path) -> None:
    """(Permission bits do not bind root: then the unwritable-cache test above is the proof.)"""
    cache_dir = tmp_path / "cache"
    cold = _load(cache_dir, cases)
    (stored,) = _cache_files(cache_dir)
    blob = stored.read_bytes()
    cache_dir.chmod(0o500)
    try:
        warm = _load(cache_dir, cases)  # reading still works
        assert warm["from_cache"] is True and warm["rules"] == cold["rules"]
        (cases / "rules" / "11-strips.yaml").write_text((cases / "rules" / "11-strips.yaml").read_text() + "\n# edit\n")
        edited = _load(cache_dir, cases)  # a miss that cannot be stored is not an error
        assert edited["from_cache"] is False and edited["rules"] == cold["rules"]
        if os.geteuid() != 0:
            assert stored.read_bytes() == blob and _cache_files(cache_dir) == [stored]
    finally:
        cache_dir.chmod(0o700)


def test_a_cache_file_of_another_user_is_not_trusted(cache_dir: Path, cases: Path) -> None:
    _load(cache_dir, cases)
    (stored,) = _cache_files(cache_dir)
    try:
        os.chown(stored, os.getuid() + 1, -1)
    except PermissionError:
        pytest.skip("changing a file's owner needs root")
    assert _load(cache_dir, cases)["from_cache"] is False


def test_two_processes_starting_at_once(cache_dir: Path, cases: Path) -> None:
    args = [sys.executable, "-c", CHILD, str(cases), "on"]
    children = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=_env(cache_dir)) for _ in range(3)]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-3000:]
        results.append(json.loads(out))
    assert all(r["rules"] == results[0]["rules"] for r in results)
    assert [p.name for p in cache_dir.iterdir()] == [_cache_files(cache_dir)[0].name]  # no temporary left over
    warm = _load(cache_dir, cases)
    assert warm["from_cache"] is True and warm["rules"] == results[0]["rules"]


def test_cache_location_follows_xdg_and_can_be_turned_off(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(catalogue_cache.ENV_DIR, raising=False)
    monkeypatch.delenv(catalogue_cache.ENV_OFF, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert catalogue_cache.cache_dir() == tmp_path / "xdg" / "gonka-conformance"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert catalogue_cache.cache_dir() == Path.home() / ".cache" / "gonka-conformance"
    monkeypatch.setenv(catalogue_cache.ENV_DIR, str(tmp_path / "mine"))
    assert catalogue_cache.cache_dir() == tmp_path / "mine"
    monkeypatch.setenv(catalogue_cache.ENV_OFF, "1")
    assert catalogue_cache.cache_dir() is None


def test_no_cache_when_turned_off(tmp_path: Path, cases: Path) -> None:
    env = {**_env(tmp_path / "cache"), catalogue_cache.ENV_OFF: "1"}
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", CHILD, str(cases), "on"], capture_output=True, text=True,
                                timeout=120, env=env)
        assert json.loads(result.stdout)["from_cache"] is False
    assert not (tmp_path / "cache").exists()


def test_the_packaged_catalogue_passes_its_schema_and_cross_checks_uncached() -> None:
    """What a cache hit skips is checked here, on every test run."""
    catalogue = load_catalogue(default_root(), cache=False)
    assert catalogue.from_cache is False and len(catalogue.rules) >= 100


WARM_LINT = """
import sys
from gonka_conformance.lint.cli import main
code = main(["--isolated", "--no-ignore-file", sys.argv[1]])
heavy = [name for name in ("yaml", "jsonschema", "rich", "httpx") if name in sys.modules]
print("HEAVY", ",".join(heavy), code)
"""


def test_a_warm_lint_imports_no_yaml_jsonschema_rich_or_httpx(tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text('{"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user", "content": "hi"}]}')
    env = _env(tmp_path / "cache")
    runs = [subprocess.run([sys.executable, "-c", WARM_LINT, str(payload)], capture_output=True, text=True,
                           timeout=120, env=env, cwd=tmp_path) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr
    cold, warm = (run.stdout.strip().splitlines()[-1] for run in runs)
    assert cold == "HEAVY yaml,jsonschema 0"  # a miss parses and validates
    assert warm == "HEAVY  0"


def test_lint_hooks_share_the_process_wide_catalogue() -> None:
    first, second = LintHook(), LintHook(profile="gonkagate.com")
    assert first.linter.options["catalogue"] is second.linter.options["catalogue"] is load_catalogue()
