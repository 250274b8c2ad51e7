"""Compare two reports (two runs of one broker, or two brokers) case by case."""

from __future__ import annotations

from typing import Any

GOOD = {"pass", "divergent", "xfail", "unobservable"}
BAD = {"fail", "error", "xpass"}
CLASSES = ("regressed", "fixed", "changed", "new", "removed", "unchanged")


def diff_reports(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    old = {c["key"]: c for c in before["cases"]}
    new = {c["key"]: c for c in after["cases"]}
    if not set(old) & set(new):  # two brokers: compare by case and family, not model spelling
        old = {_portable(c): c for c in before["cases"]}
        new = {_portable(c): c for c in after["cases"]}
    result: dict[str, list[dict[str, Any]]] = {name: [] for name in CLASSES}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        entry = {"key": key, "before": a["outcome"] if a else None, "after": b["outcome"] if b else None}
        if a is None:
            result["new"].append(entry)
        elif b is None:
            result["removed"].append(entry)
        elif a["outcome"] == b["outcome"]:
            result["unchanged"].append(entry)
        elif a["outcome"] in GOOD and b["outcome"] in BAD:
            result["regressed"].append(entry)
        elif a["outcome"] in BAD and b["outcome"] in GOOD:
            result["fixed"].append(entry)
        else:
            result["changed"].append(entry)
    return result


def _portable(case: dict[str, Any]) -> str:
    return f"{case['case_id']}[{case.get('family') or case['model']}]"


def render_diff(result: dict[str, list[dict[str, Any]]]) -> str:
    lines = [", ".join(f"{name} {len(result[name])}" for name in CLASSES)]
    for name in CLASSES[:-1]:
        for entry in result[name]:
            lines.append(f"{name:9} {entry['key']}: {entry['before'] or '-'} -> {entry['after'] or '-'}")
    return "\n".join(lines) + "\n"
