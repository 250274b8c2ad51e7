"""The versioned report document (report.json) and its derived files."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

# The outcome words belong to the live suite (a face); the report model builds on them.
from ..live.outcomes import BASELINED, FAILING, OUTCOMES, WORST_FIRST, Outcome  # noqa: F401

REPORT_SCHEMA_ID = "https://gonka-conformance.invalid/schema/report.schema.json"
REPORT_VERSION = 1




def schema() -> dict[str, Any]:
    return json.loads(resources.files("gonka_conformance.reports").joinpath("report.schema.json").read_text())


@dataclass
class RunInfo:
    base_url: str
    embedded: bool
    models: list[str]
    revision: str
    profile: str | None
    tier: str
    repeat: int
    started: datetime
    finished: datetime
    tokens_spent: int
    budget_tokens: int | None
    exit_code: int
    fingerprint: dict[str, Any] | None
    error: str | None = None


def build_report(info: RunInfo, cases: Iterable[dict[str, Any]], tool_version: str) -> dict[str, Any]:
    rows = sorted(cases, key=lambda c: (c["rule"], c["case_id"], c["model"]))
    counts = Counter(row["outcome"] for row in rows)
    return {
        "$schema": REPORT_SCHEMA_ID,
        "version": REPORT_VERSION,
        "tool": {"name": "gonka-conformance", "version": tool_version},
        "generated_at": info.finished.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "target": {"base_url": info.base_url, "embedded_reference": info.embedded, "models": info.models},
        "revision": info.revision,
        "profile": info.profile,
        "tier": info.tier,
        "repeat": info.repeat,
        "timing": {
            "started": info.started.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "finished": info.finished.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round((info.finished - info.started).total_seconds(), 3),
        },
        "tokens": {"spent": info.tokens_spent, "budget": info.budget_tokens, **token_breakdown(rows)},
        "summary": {outcome: counts.get(outcome, 0) for outcome in OUTCOMES} | {"total": len(rows)},
        "exit_code": info.exit_code,
        "error": info.error,
        "fingerprint": info.fingerprint,
        "cases": rows,
    }


def token_breakdown(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens per model (each case carries its share of every request it was sent in) and the
    saving of cost-aware probing: what sending every case by itself would have cost, estimated
    from each packed request's usage. Cases that were not sent count in neither."""
    by_model: dict[str, int] = {}
    naive = 0
    for row in rows:
        by_model[row["model"]] = by_model.get(row["model"], 0) + int(row.get("tokens") or 0)
        alone = row.get("tokens_alone")
        naive += int(alone if alone is not None else row.get("tokens") or 0)
    spent = sum(by_model.values())
    return {
        "by_model": by_model,
        "naive_estimate": naive,
        "saved_estimate": max(naive - spent, 0),
        "requests_shared": sum(1 for row in rows if int(row.get("packed", 1)) > 1),
        "not_sent": sum(1 for row in rows if row.get("packed") == 0),
    }


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_json(path: str | Path, what: str) -> Any:
    """A JSON file's content; ValueError with a one-line reason when unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {what} is not JSON: {exc}") from None


def load_report(path: str | Path) -> dict[str, Any]:
    """Read and validate a report.json; raises ValueError with a one-line reason."""
    import jsonschema

    data = read_json(path, "report")
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top level)"
        raise ValueError(f"{path}: not a gonka-conformance report: {where}: {errors[0].message}")
    return data
