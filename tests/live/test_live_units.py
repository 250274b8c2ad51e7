"""Small pieces of the broker-facing outputs: field diffs, configuration files, the fleet
sentence and the rerun command."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest

from gonka_conformance.live.config import ConfigError, apply, load_settings
from gonka_conformance.live.fielddiff import field_diff
from gonka_conformance.live.fingerprint import rerun_command
from gonka_conformance.live.session import SessionOptions
from gonka_conformance.reports.fleet import fleet_sentence


def test_field_diff_reads_as_paths_and_json_values() -> None:
    assert field_diff({"chat_template_kwargs": {"thinking": False}, "n": 1}, {"n": 1.0}) == [
        "chat_template_kwargs.thinking: expected false, observed absent"]
    assert field_diff({"stream": True}, {"stream": 1}) == ["stream: expected true, observed 1"]  # JSON: true is not 1
    assert field_diff({"stop": None}, {}) == ["stop: expected null, observed absent"]
    assert field_diff({"m": [{"role": "user"}]}, {"m": []}) == ['m: expected [{"role": "user"}], observed []']
    assert field_diff([1], [1]) == [] and field_diff({}, {}) == []
    long = field_diff({"x": "a" * 500}, {})[0]
    assert len(long) < 200 and long.endswith("observed absent")


def test_configuration_paths_are_relative_to_the_file_and_types_checked(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.gonka-conformance]\nbaseline = "ci/b.json"\nbudget-tokens = 10\ntimeout = 5\n'
                      'models = "a,b"\n', encoding="utf-8")
    args = Namespace(baseline=None, budget_tokens=None, timeout=None, models="flag", tier=None)
    assert apply(args, {"baseline": None, "budget_tokens": None, "timeout": 60.0, "models": None, "tier": "cheap"},
                 start=tmp_path / "sub") == config
    assert args.baseline == str(tmp_path / "ci" / "b.json") and args.budget_tokens == 10 and args.timeout == 5.0
    assert args.models == "flag" and args.tier == "cheap"  # the flag wins; the default fills the rest
    config.write_text('[tool.gonka-conformance]\nbudget-tokens = "lots"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="budget-tokens must be a whole number, got str"):
        load_settings(config)
    config.write_text('[tool.gonka-conformance]\napi-key-env = "sk-live-123"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="never put a key in a file") as raised:
        load_settings(config)
    assert "sk-live-123" not in str(raised.value)
    config.write_text("[tool.gonka-conformance\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config)


def test_fleet_sentence_only_for_a_split() -> None:
    assert fleet_sentence(None) is None and fleet_sentence({"split": False, "shares": [], "cases": []}) is None
    split = {"split": True, "cases": [f"c{i}[m]" for i in range(8)],
             "shares": [{"label": "2026-05", "percent": 67}, {"label": "2026-09", "percent": 33}]}
    assert fleet_sentence(split) == ("fleet split: about 67% of answers match 2026-05, 33% match 2026-09 "
                                     "(told apart by c0[m], c1[m], c2[m], c3[m], c4[m], c5[m] and 2 more)")


def test_rerun_command_only_when_another_candidate_explains_more() -> None:
    def candidate(revision: str, profile: str | None, contradictions: int) -> dict:
        return {"revision": revision, "profile": profile, "compared": 9, "contradictions": ["k"] * contradictions}

    options = SessionOptions(base_url="https://broker.example/v1", models=["moonshotai/kimi-k2.6"], tier="full")
    better = {"best": candidate("2026-09", "gonkagate.com", 0),
              "candidates": [candidate("2026-09", "gonkagate.com", 0), candidate("2026-09", None, 3)]}
    assert rerun_command(better, options, "2026-09", embedded=False) == (
        "gonka-conformance run --base-url https://broker.example/v1 --models moonshotai/kimi-k2.6 --tier full "
        "--profile gonkagate.com")
    tie = {"best": candidate("2026-09", None, 0), "candidates": [candidate("2026-09", None, 0), candidate("2026-05", None, 0)]}
    assert rerun_command(tie, options, "2026-09", embedded=False) is None
    older = {"best": candidate("2026-05", None, 0), "candidates": [candidate("2026-05", None, 0), candidate("2026-09", None, 2)]}
    assert rerun_command(older, SessionOptions(), "2026-09", embedded=True) == "gonka-conformance run --revision 2026-05"


def test_report_html_is_one_offline_file() -> None:
    import re

    from samples import sample_report

    from gonka_conformance.reports.html import render_html

    html = render_html(sample_report())
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", html)  # nothing fetched
    assert html.count("<script>") == 1 and html.count("<style>") == 1
