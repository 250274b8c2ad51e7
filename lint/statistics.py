"""Rule × count × share of requests (``gonka-lint --statistics``), mergeable across partitions.

A broker linting a day of production logs wants "which rules hit, how often, on what share of
the traffic", not a hundred million findings. :class:`Statistics` is a plain, picklable
counter set whose ``merge`` is associative and commutative, so the single-process CLI and a
Dask reduction over any partitioning give exactly the same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from .findings import SEVERITY_RANK, Finding


Hit = tuple[str, str, bool]  # (rule, severity, an automatic fix is available)


def hit(finding: Finding) -> Hit:
    return finding.rule, finding.severity, bool(finding.fix is not None and finding.fix.available)


def hit_of_json(finding: dict[str, Any]) -> Hit:
    """:func:`hit` of a finding's JSON form (``Finding.to_json``)."""
    return finding["rule"], finding["severity"], bool(finding.get("fix") and finding["fix"].get("available"))


@dataclass
class Statistics:
    requests: int = 0  # request bodies linted
    unreadable: int = 0  # records that were not a lintable body (input errors)
    findings: Counter[str] = field(default_factory=Counter)  # rule -> findings
    requests_with: Counter[str] = field(default_factory=Counter)  # rule -> requests with ≥ 1
    fixable: Counter[str] = field(default_factory=Counter)  # rule -> findings with a fix
    severity: dict[str, str] = field(default_factory=dict)  # rule -> severity (most severe seen)

    def add_request(self, hits: Iterable[Hit]) -> None:
        """One linted request body and its findings (possibly none), as :data:`Hit` tuples."""
        self.requests += 1
        seen: set[str] = set()
        for rule, severity, fixable in hits:
            self.findings[rule] += 1
            self.fixable[rule] += fixable
            seen.add(rule)
            self._note_severity(rule, severity)
        self.requests_with.update(seen)

    def _note_severity(self, rule: str, severity: str) -> None:
        known = self.severity.get(rule)
        if known is None or SEVERITY_RANK[severity] < SEVERITY_RANK[known]:  # error ranks 0
            self.severity[rule] = severity

    def merge(self, other: "Statistics") -> "Statistics":
        merged = Statistics(self.requests + other.requests, self.unreadable + other.unreadable,
                            self.findings + other.findings, self.requests_with + other.requests_with,
                            self.fixable + other.fixable, dict(self.severity))
        for rule, severity in other.severity.items():
            merged._note_severity(rule, severity)
        return merged

    def rows(self) -> list[dict[str, Any]]:
        """One row per rule, most frequent first (ties by rule id, so the order is stable)."""
        return [
            {"rule": rule, "severity": self.severity[rule], "count": count, "requests": self.requests_with[rule],
             "share": self.requests_with[rule] / self.requests if self.requests else 0.0,
             "fixable": self.fixable[rule]}
            for rule, count in sorted(self.findings.items(), key=lambda item: (-item[1], item[0]))
        ]

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "requests": self.requests, "unreadable": self.unreadable, "rules": self.rows()}

    def render_text(self) -> str:
        rows = self.rows()
        width = max((len(str(r["count"])) for r in rows), default=1)
        lines = [f"{r['count']:>{width}}  {r['share']:>7.2%}  {r['rule']:<44} {r['severity']}"
                 + ("  [*]" if r["fixable"] else "") for r in rows]
        lines.append(f"{self.requests} request bodies, {len(rows)} rules"
                     + (f", {self.unreadable} unreadable records" if self.unreadable else ""))
        return "\n".join(lines) + "\n"


def statistics_of(findings: Iterable[Finding], requests: int, unreadable: int = 0) -> Statistics:
    """Statistics of a finished run: ``findings`` carry their file and record, ``requests``
    counts every linted body, those without findings included."""
    per_request: dict[tuple[str | None, int | None], list[Finding]] = {}
    for finding in findings:
        per_request.setdefault((finding.file, finding.record), []).append(finding)
    stats = Statistics(unreadable=unreadable)
    for group in per_request.values():
        stats.add_request(map(hit, group))
    stats.requests = requests
    return stats
