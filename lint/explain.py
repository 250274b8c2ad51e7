"""``--explain RULE``: a rule's documentation from the catalogue, in the terminal (or JSON)."""

from __future__ import annotations

import difflib
import json
import textwrap
from typing import TYPE_CHECKING, Any

from gonka_conformance.catalogue.summary import DOC_SECTIONS, rule_summary

from .config import ConfigError
from .fixes import MANUAL, OPS

if TYPE_CHECKING:
    from gonka_conformance.catalogue.loader import Catalogue


def find_rule(catalogue: "Catalogue", rule_id: str) -> Any:
    rule = catalogue.by_id.get(rule_id)
    if rule is None:
        close = difflib.get_close_matches(rule_id, list(catalogue.by_id), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see gonka-conformance rules)"
        raise ConfigError(f"unknown rule {rule_id!r}{hint}")
    return rule


def explain_json(catalogue: "Catalogue", rule_id: str) -> str:
    rule = find_rule(catalogue, rule_id)
    data = rule_summary(catalogue, rule)
    if data.get("fix"):
        data["fix"]["implemented"] = data["fix"].get("op") in OPS
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def _block(title: str, body: str, width: int = 96) -> list[str]:
    lines = [title]
    for paragraph in str(body).split("\n"):
        lines.extend(textwrap.wrap(paragraph, width=width, initial_indent="  ", subsequent_indent="  ",
                                   break_long_words=False, break_on_hyphens=False) or [""])
    return lines


def explain_text(catalogue: "Catalogue", rule_id: str) -> str:
    rule = find_rule(catalogue, rule_id)
    summary = rule_summary(catalogue, rule)
    docs = rule.docs if isinstance(rule.docs, dict) else {}
    revisions = summary["revisions"]
    families = ", ".join(summary["families"]) + (f" (except {', '.join(summary['except'])})" if summary["except"] else "")
    out = [f"{rule.id} — {rule.title}", ""]
    out.append(f"  kind: {rule.kind} · level: {rule.level} · severity: {rule.severity} · stage: {rule.stage}")
    out.append(f"  families: {families} · revisions: {revisions['from']}..{revisions['until']}")
    out.append(f"  anchor: {rule.anchor or '(none upstream)'}")
    out.append("")
    for title, key in DOC_SECTIONS:
        if docs.get(key):
            out += _block(title, docs[key]) + [""]
    fix = rule.lint.get("fix") if isinstance(rule.lint, dict) else None
    if fix:
        safety = "safe: applied by --fix" if fix.get("safe") else "unsafe: needs --fix --unsafe-fixes"
        if fix.get("op") == MANUAL:
            safety = "manual fix: needs a human decision, never applied automatically"
        elif fix.get("op") not in OPS:
            safety = "not implemented by gonka-lint yet: never offered"
        text = f"{fix.get('op')} ({safety})"
        if fix.get("note"):
            text += f". {fix['note']}"
        out += _block("Automatic fix", text) + [""]
    messages = {code: text for code, text in rule.messages.items()}
    if messages:
        out.append(f"Gateway answer (HTTP {rule.status or 400})")
        for code, text in messages.items():
            out += _block("", f"[{code}] {text}" if len(messages) > 1 else text)[1:]
        out.append("")
    if rule.advice:
        out += _block("Advisory text", rule.advice) + [""]
    if summary["divergences"]:
        out.append("Broker divergences")
        for d in summary["divergences"]:
            line = f"  - {d['broker']}: {d['behaviour']}"
            if d.get("status"):
                line += f" (HTTP {d['status']})"
            if d.get("note"):
                line += f" — {d['note']}"
            out.append(line)
        out.append("")
    evidence = summary.get("evidence")
    if evidence:
        out.append(f"Disputed evidence (the engine follows: {evidence['default']}; findings are marked uncertain)")
        for side in evidence["alternatives"]:
            out += _block("", f"{side['name']}: {side['says']} Sources: {'; '.join(side['sources'])}")[1:]
        out.append("")
    sources = docs.get("sources") or []
    if sources:
        out.append("Sources")
        out += [f"  - {source}" for source in sources]
        out.append("")
    out.append(f"Defined in {summary['source']}")
    return "\n".join(out)
