"""``gonka-conformance diff``: regressions survive a broker re-spelling its model ids."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.reports.diff import ModelSpellings, diff_reports
from models import KIMI, MINIMAX

RESPELLED = {KIMI: "moonshotai/kimi-k2.6", MINIMAX: "gonka/minimaxai/minimax-m2.7"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("gonka-conformance")
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=240, env=os.environ.copy())


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("before")
    done = _cli("run", "--models", f"{KIMI},{MINIMAX}", "--report-dir", str(out), "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    return out / "report.json"


def _respelled_with_regressions(report: dict, count: int) -> tuple[dict, set[str]]:
    """The same run as a broker that lower-cases (or prefixes) its ids would report it, with
    ``count`` passing cases turned into failures."""
    after = copy.deepcopy(report)
    injected: set[str] = set()
    for case in after["cases"]:
        original = case["model"]
        case["model"] = RESPELLED[original]
        case["key"] = case["key"].replace(f"[{original}]", f"[{case['model']}]")
        if case["outcome"] == "pass" and len(injected) < count:
            case["outcome"] = "fail"
            injected.add(f"{case['case_id']}[{original}]")
    return after, injected


def test_diff_matches_cases_across_model_spellings(before: Path) -> None:
    report = json.loads(before.read_text())
    after, injected = _respelled_with_regressions(report, 5)
    result = diff_reports(report, after, ModelSpellings.from_catalogue(load_catalogue()))
    assert {e["key"] for e in result["regressed"]} == injected
    assert result["new"] == result["removed"] == result["fixed"] == result["changed"] == []
    assert len(result["unchanged"]) == len(report["cases"]) - 5


def test_diff_cli_prints_only_what_changed_and_exits_1_only_on_regressions(before: Path, tmp_path: Path) -> None:
    report = json.loads(before.read_text())
    after, injected = _respelled_with_regressions(report, 5)
    (tmp_path / "after.json").write_text(json.dumps(after))
    done = _cli("diff", str(before), str(tmp_path / "after.json"))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("regressed 5, fixed 0, changed 0, new 0, removed 0")
    assert {line.split()[1].rstrip(":") for line in lines[1:]} == injected

    same, _ = _respelled_with_regressions(report, 0)
    (tmp_path / "same.json").write_text(json.dumps(same))
    quiet = _cli("diff", str(before), str(tmp_path / "same.json"))
    assert quiet.returncode == 0 and quiet.stdout.splitlines()[1:] == []
    everything = _cli("diff", str(before), str(tmp_path / "same.json"), "--all")
    assert everything.returncode == 0 and len(everything.stdout.splitlines()) == 1 + len(report["cases"])


def test_unknown_spellings_and_colliding_ids_keep_exact_keys() -> None:
    spellings = ModelSpellings({"A/Model-1": ["a/model-1"]})
    assert spellings.canonical("vendor/A/MODEL-1") == "A/Model-1"
    assert spellings.canonical("other/model") == "other/model"
    assert spellings.canonical("xa/model-1") == "xa/model-1"  # a suffix match needs a path boundary
    # one run that holds two spellings of one model cannot be folded without losing a case
    cases = [{"key": f"r[{m}]", "case_id": "r", "model": m, "outcome": "pass"} for m in ("A/Model-1", "a/model-1")]
    result = diff_reports({"cases": cases}, {"cases": cases}, spellings)
    assert len(result["unchanged"]) == 2


def test_outcome_words_come_from_one_registry() -> None:
    """report.json's schema, the summary order and every renderer's tables use the Outcome names."""
    from gonka_conformance.reports import diff, html, markdown
    from gonka_conformance.reports.model import FAILING, OUTCOMES, WORST_FIRST, Outcome, schema

    enum = schema()["properties"]["cases"]["items"]["properties"]["outcome"]["enum"]
    assert tuple(enum) == OUTCOMES == tuple(o.value for o in Outcome)
    assert set(WORST_FIRST) == set(Outcome) == set(html.COLOURS) == set(html.SYMBOLS)
    assert diff.GOOD | diff.BAD == set(Outcome) and not diff.GOOD & diff.BAD and diff.BAD == FAILING
    assert markdown.WORST_FIRST is WORST_FIRST
