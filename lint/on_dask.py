"""Lint request logs larger than one machine on Dask (the ``gonka-conformance[dask]`` extra).

    import dask.bag as db
    from gonka_conformance.lint.on_dask import lint_bag, statistics

    lines = db.read_text("s3://logs/2026-12-01/*.jsonl", blocksize="64MiB")
    results = lint_bag(lines, profile="gonka-api.org")      # lazy: one dict per request line
    stats = statistics(results).compute()                   # Statistics, merged across partitions
    print(stats.render_text())
    results.filter(lambda r: r["findings"]).map(json.dumps).to_textfiles("s3://lint/*.jsonl")

Each element of the input bag is one JSON Lines record (``str`` or ``bytes``); blank lines are
skipped as the CLI skips them. Every worker lints with the same library call as the CLI and
loads the packaged catalogue once per process, so any partitioning on any cluster gives
exactly the single-process result (:func:`lint_lines`), and the statistics merge exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from . import PayloadError, lint
from .statistics import Statistics, hit_of_json

if TYPE_CHECKING:
    import dask.bag
    from dask.delayed import Delayed

__all__ = ["lint_bag", "lint_lines", "statistics", "statistics_of_results"]


def lint_lines(lines: Iterable[str | bytes], **target: Any) -> list[dict[str, Any]]:
    """Lint JSON Lines records in this process: one result per non-blank record,
    ``{"findings": [...], "error": None}`` or ``{"findings": [], "error": "why"}``.
    ``target`` takes :func:`gonka_conformance.lint.lint`'s keywords (model, revision, profile…)."""
    results: list[dict[str, Any]] = []
    for line in lines:
        text = line.decode("utf-8", errors="surrogateescape") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            findings = lint(text, **target)
        except PayloadError as exc:
            results.append({"findings": [], "error": str(exc)})
            continue
        results.append({"findings": [finding.to_json() for finding in findings], "error": None})
    return results


def statistics_of_results(results: Iterable[dict[str, Any]]) -> Statistics:
    """The :class:`Statistics` of :func:`lint_lines` results."""
    stats = Statistics()
    for result in results:
        if result["error"] is not None:
            stats.unreadable += 1
            continue
        stats.add_request(map(hit_of_json, result["findings"]))
    return stats


def lint_bag(bag: "dask.bag.Bag", **target: Any) -> "dask.bag.Bag":
    """A lazy bag of per-request results (see :func:`lint_lines`), partition for partition."""
    return bag.map_partitions(lint_lines, **target)


def statistics(results: "dask.bag.Bag") -> "Delayed":
    """The merged :class:`Statistics` of :func:`lint_bag`'s results, as one Dask value."""
    return results.reduction(statistics_of_results, _merge_all)


def _merge_all(parts: Iterable[Statistics]) -> Statistics:
    total = Statistics()
    for part in parts:
        total = total.merge(part)
    return total
