"""No rule is keyed by its id outside the engine: faces (lint, gateway, live), reports and the
CLI ask the engine what to do (``route``, ``responder``) or look numbers up by verb and option
(``engine/lookup.py``), so a rule's behaviour is its catalogue entry and its verb, never Python
somewhere else. The engine's verb modules may spell a name that is also a rule id (a verb
named after the one rule that uses it), which is why the engine is outside the scan."""

from __future__ import annotations

import re
from pathlib import Path

from gonka_conformance.catalogue.loader import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("conformance", "lint", "reports")
SKIPPED = {"engine", "__pycache__"}  # conformance/engine/: see the module docstring


def rule_id_mentions(root: Path, ids: set[str]) -> list[str]:
    """``path:line: id`` for every quoted rule id in the scanned Python files."""
    pattern = re.compile(r"""["'](%s)["']""" % "|".join(sorted(map(re.escape, ids), key=len, reverse=True)))
    found = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            if SKIPPED & set(path.relative_to(root).parts):
                continue
            text = path.read_text(encoding="utf-8")
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(root)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(1)}")
    return found


def test_no_python_outside_the_engine_names_a_rule_id() -> None:
    ids = {rule.id for rule in load_catalogue().rules}
    assert rule_id_mentions(ROOT, ids) == []


def test_the_scan_finds_a_planted_rule_id(tmp_path: Path) -> None:
    """The check can fail: a face keyed by a rule id is reported with its line."""
    face = tmp_path / "conformance" / "gateway"
    face.mkdir(parents=True)
    (face / "chat.py").write_text('x = 1\nrule = "reject-unknown-model"\n', encoding="utf-8")
    (tmp_path / "conformance" / "engine").mkdir()
    (tmp_path / "conformance" / "engine" / "routing.py").write_text('R = "reject-unknown-model"\n', encoding="utf-8")
    assert rule_id_mentions(tmp_path, {"reject-unknown-model", "limit-body-size"}) == [
        "conformance/gateway/chat.py:2: reject-unknown-model"]
