"""``gonka-lint --statistics`` and the Dask path give the same numbers as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dask.bag as db
import pytest
from distributed import Client, LocalCluster

from gonka_conformance.lint.on_dask import lint_bag, lint_lines, statistics, statistics_of_results
from gonka_conformance.lint.statistics import Statistics
from models import HI, KIMI, MINIMAX

SHAPES = [
    {"model": KIMI, "messages": HI, "max_tokens": 512},
    {"model": KIMI, "messages": HI, "tags": ["a"]},
    {"model": KIMI, "messages": HI, "max_tokens": 100},
    {"model": MINIMAX, "messages": HI, "store": True, "tags": ["b"]},
    {"model": MINIMAX, "messages": HI, "max_tokens": 32000, "reasoning_effort": "bogus"},
]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Production-shaped JSON Lines: mixed payloads, blank lines and an unreadable record."""
    lines = []
    for i in range(200):
        lines.append(json.dumps(SHAPES[(i * 7) % len(SHAPES)]))
        if i % 50 == 0:
            lines += ["", "{not json"]
    path = tmp_path_factory.mktemp("logs") / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli_statistics(path: Path) -> dict:
    script = Path(sys.executable).with_name("gonka-lint")
    done = subprocess.run([str(script), str(path), "--statistics", "--format", "json"], capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 2, done.stderr  # the unreadable records are input errors
    assert done.stderr.count("invalid JSON") == 4
    return json.loads(done.stdout)


def test_statistics_count_rules_and_share_of_requests(log: Path) -> None:
    stats = _cli_statistics(log)
    assert stats["requests"] == 200 and stats["unreadable"] == 4
    rows = {row["rule"]: row for row in stats["rules"]}
    assert rows["reject-tags"]["count"] == rows["reject-tags"]["requests"] == 80  # shapes 1 and 3
    assert rows["reject-tags"]["share"] == 0.4 and rows["reject-tags"]["severity"] == "error"
    assert [r["count"] for r in stats["rules"]] == sorted((r["count"] for r in stats["rules"]), reverse=True)


def test_text_statistics_end_with_totals(log: Path) -> None:
    stats = statistics_of_results(lint_lines(log.read_text().splitlines()))
    text = stats.render_text().splitlines()
    assert text[-1] == f"200 request bodies, {len(stats.rows())} rules, 4 unreadable records"
    assert "40.00%" in next(line for line in text if "reject-tags" in line)


def test_merge_is_order_free() -> None:
    a, b = Statistics(), Statistics()
    a.add_request([("r1", "warning", False), ("r1", "warning", True)])
    b.add_request([("r1", "error", False)])
    b.add_request([])
    assert a.merge(b).to_json() == b.merge(a).to_json()
    assert a.merge(b).rows()[0] == {"rule": "r1", "severity": "error", "count": 3, "requests": 2, "share": 2 / 3,
                                    "fixable": 1}


def test_dask_on_a_local_cluster_gives_exactly_the_single_process_result(log: Path) -> None:
    single = lint_lines(log.read_text().splitlines())
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        lines = db.read_text(str(log), blocksize=4096)
        assert lines.npartitions > 2
        results = lint_bag(lines)
        distributed_results, merged = results.compute(), statistics(results).compute()
    assert distributed_results == single
    assert merged.to_json() == statistics_of_results(single).to_json() == _cli_statistics(log)
