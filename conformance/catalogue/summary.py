"""One rule as plain data: what `gonka-conformance rules --format json` and `gonka-lint --explain` show."""

from __future__ import annotations

from typing import Any

from .loader import Catalogue

#: A rule's prose docs (``docs:`` keys), in reading order with their headings: what
#: ``--explain`` prints and SARIF's rule help renders. Structure of the catalogue, not of a format.
DOC_SECTIONS = (("What happens", "what"), ("Why", "why"), ("Fix", "fix"))


def rule_summary(catalogue: Catalogue, rule: Any) -> dict[str, Any]:
    divergences = [
        {"broker": broker.id, "behaviour": d.behaviour, "status": d.status, "message": d.message,
         "observed": d.observed, "source": d.source, "note": d.note}
        for broker in catalogue.brokers.values() for d in broker.divergences if d.rule == rule.id
    ]
    return {
        "id": rule.id, "title": rule.title, "kind": rule.kind, "level": rule.level, "stage": rule.stage,
        "severity": rule.severity, "families": list(rule.families) if rule.families else ["all"],
        "except": list(rule.except_families),
        "revisions": {"from": rule.revisions.start or catalogue.revisions[0].id,
                      "until": rule.revisions.until or catalogue.revisions[-1].id},
        "anchor": rule.anchor, "status": rule.status, "messages": dict(rule.messages),
        "docs": dict(rule.docs), "fix": dict(rule.lint.get("fix") or {}) or None,
        "live": [dict(case) for case in rule.live], "divergences": divergences,
        "evidence": _evidence_summary(rule),
        "source": f"{rule.source_file}:{rule.line}",
    }


def _evidence_summary(rule: Any) -> dict[str, Any] | None:
    """A disputed rule's sides (``evidence: disputed``), or None."""
    if rule.evidence is None:
        return None
    return {"status": "disputed", "default": rule.evidence.default, "alternatives": [
        {"name": a.name, "says": a.says, "sources": list(a.sources), "engine_follows": a.executable}
        for a in rule.evidence.alternatives]}
