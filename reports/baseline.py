"""Baseline files: the cases a target is known to fail (expected failures, with reasons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .model import BASELINED, read_json

BASELINE_VERSION = 1


#: Deviations only: an ``error`` (transport, timeout, 5xx) observed nothing, and baselining it
#: would turn every later outage of that case into a quiet xfail.
BASELINED_OUTCOMES = BASELINED


def baseline_from_report(report: dict[str, Any]) -> dict[str, Any]:
    entries = {
        case["key"]: (case["problems"][0] if case["problems"] else case["observed"])[:300]
        for case in report["cases"] if case["outcome"] in BASELINED_OUTCOMES
    }
    return {"version": BASELINE_VERSION, "target": report["target"]["base_url"], "revision": report["revision"],
            "generated_at": report["generated_at"], "entries": dict(sorted(entries.items()))}


def load_baseline(path: str | Path) -> dict[str, str]:
    """``{"case-id[model]": reason}``; raises ValueError with a one-line reason."""
    data = read_json(path, "baseline")
    if not (isinstance(data, dict) and data.get("version") == BASELINE_VERSION and isinstance(data.get("entries"), dict)):
        raise ValueError(f"{path}: not a gonka-conformance baseline (version {BASELINE_VERSION} with an entries object)")
    return {str(k): str(v) for k, v in data["entries"].items()}


def missing_baseline_hint(path: str | Path, report_dir: str | Path) -> str:
    report = Path(report_dir) / "report.json"
    return (f"warning: baseline {path} does not exist yet; every failure counts. Once this run's failures are "
            f"accepted, create it with: gonka-conformance baseline {report} -o {path}")
