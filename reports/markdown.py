"""summary.md: a short Markdown summary for a CI job summary or a discussion post."""

from __future__ import annotations

import html
import re
from typing import Any

from .fleet import fleet_sentence
from .model import WORST_FIRST, Outcome


def render_markdown(report: dict[str, Any]) -> str:
    target = report["target"]
    where = "the embedded reference gateway" if target["embedded_reference"] else _text(target["base_url"])
    lines = [
        "## Gonka gateway conformance",
        "",
        f"Target {where}, revision {_text(report['revision'])}, profile {_text(report.get('profile') or 'none')}, "
        f"tier {report['tier']}, {len(target['models'])} model(s), {report['timing']['seconds']}s, "
        f"tokens spent {report['tokens']['spent']}.",
        "",
        "| " + " | ".join(WORST_FIRST) + " | total |",
        "|" + "---|" * (len(WORST_FIRST) + 1),
        "| " + " | ".join(str(report["summary"].get(o, 0)) for o in WORST_FIRST) + f" | {report['summary']['total']} |",
    ]
    if report.get("error"):
        lines += ["", f"**{_text(report['error'])}**"]
    fingerprint = report.get("fingerprint") or {}
    split = fleet_sentence(fingerprint.get("fleet"))
    if split:  # at the top: every other line of the report reads differently once this is known
        lines[1:1] = ["", f"**{_text(split[0].upper() + split[1:])}.** The instances behind this URL do not behave alike."]
    best = fingerprint.get("best")
    if best:
        lines += ["", f"Best explained by revision `{best['revision']}` with profile `{best.get('profile') or 'upstream'}` "
                      f"({len(best['contradictions'])} contradicting observations of {best['compared']})."]
    disputed = fingerprint.get("disputed") or {}
    if disputed:  # rules whose upstream evidence disagrees: which documented side the target showed
        lines += ["", "Disputed rules, side observed: " + ", ".join(f"`{rule}` {side}" for rule, side in sorted(disputed.items())) + "."]
    if fingerprint.get("rerun"):
        lines += ["", "Rerun with:", "", "```sh", fingerprint["rerun"].replace("`", "'"), "```"]
    notable = [c for c in report["cases"] if c["outcome"] not in (Outcome.PASS, Outcome.UNOBSERVABLE)]
    if notable:
        lines += ["", "| outcome | case | model | expected | observed |", "|---|---|---|---|---|"]
        for case in sorted(notable, key=lambda c: (WORST_FIRST.index(c["outcome"]), c["key"])):
            rule = f"[{_text(case['case_id'])}]({case['anchor']})" if case.get("anchor") else _text(case["case_id"])
            lines.append(f"| {case['outcome']} | {rule} | {_cell(case['model'])} | {_cell(case['expected'])} | {_cell(case['observed'])} |")
    return "\n".join(lines) + "\n"


#: Characters that are markup in CommonMark/GFM (HTML included): a broker's text must stay text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")


def _text(text: str) -> str:
    """Broker- or user-derived text as literal Markdown: HTML escaped, Markdown punctuation
    backslash-escaped (no code spans: a backtick inside one cannot be escaped)."""
    text = html.escape(text.replace("\r", " ").replace("\n", " "), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _cell(text: str) -> str:
    text = text if len(text) <= 160 else text[:157] + "…"
    return _text(text)
