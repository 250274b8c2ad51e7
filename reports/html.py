"""report.html: one self-contained file — a rule × model matrix coloured by outcome.

No external assets. Readable with JavaScript disabled (drill-down uses <details>); a small
inline script only adds outcome filters and a text filter.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from .model import FAILING, WORST_FIRST, Outcome

COLOURS = {
    Outcome.PASS: ("#1a7f37", "#dafbe1"), Outcome.FAIL: ("#cf222e", "#ffebe9"), Outcome.DIVERGENT: ("#9a6700", "#fff8c5"),
    Outcome.UNOBSERVABLE: ("#57606a", "#eaeef2"), Outcome.XFAIL: ("#6639ba", "#fbefff"), Outcome.XPASS: ("#bc4c00", "#fff1e5"),
    Outcome.ERROR: ("#82071e", "#ffd8d3"),
}
SYMBOLS = {Outcome.PASS: "✓", Outcome.FAIL: "✗", Outcome.DIVERGENT: "≈", Outcome.UNOBSERVABLE: "∅", Outcome.XFAIL: "x",
           Outcome.XPASS: "!", Outcome.ERROR: "E"}

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a;margin-bottom:12px}.meta code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
.summary span{display:inline-block;margin:0 8px 6px 0;padding:3px 10px;border-radius:12px;font-weight:600}
table.matrix{border-collapse:collapse;margin-top:8px}
.matrix th,.matrix td{border:1px solid #d0d7de;padding:4px 8px;text-align:center;vertical-align:top}
.matrix th{background:#f6f8fa;position:sticky;top:0}.matrix td.rule{text-align:left;white-space:nowrap}
.matrix td.cell{font-weight:700;min-width:56px}
.cell a{color:inherit;text-decoration:none;display:block}
details{border:1px solid #d0d7de;border-radius:6px;margin:6px 0;padding:6px 10px}
details summary{cursor:pointer;font-weight:600}
pre{background:#f6f8fa;padding:8px;border-radius:6px;overflow:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}
.badge{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700}
.filters{margin:10px 0}.filters label{margin-right:12px}
"""

SCRIPT = """
(function(){
  var boxes=document.querySelectorAll('.filters input[type=checkbox]');
  var text=document.getElementById('q');
  function apply(){
    var on={};boxes.forEach(function(b){on[b.value]=b.checked;});
    var q=(text.value||'').toLowerCase();
    document.querySelectorAll('[data-outcome]').forEach(function(el){
      var show=on[el.getAttribute('data-outcome')]!==false && (!q || el.getAttribute('data-text').indexOf(q)>=0);
      el.style.display=show?'':'none';
    });
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});text.addEventListener('input',apply);
  document.querySelector('.filters').style.display='';
})();
"""


def _badge(outcome: str) -> str:
    fg, bg = COLOURS.get(outcome, ("#1f2328", "#fff"))  # type: ignore[call-overload]  # (an outcome word; StrEnum keys)
    return f'<span class="badge" style="color:{fg};background:{bg}">{escape(outcome)}</span>'


def render_html(report: dict[str, Any]) -> str:
    cases = report["cases"]
    models = list(report["target"]["models"]) or sorted({c["model"] for c in cases})
    by_rule: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    anchors: dict[str, str | None] = {}
    for case in cases:
        by_rule[case["rule"]][case["model"]].append(case)
        anchors[case["rule"]] = case.get("anchor")
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           f"<title>Gonka gateway conformance — {escape(report['target']['base_url'])}</title>",
           f"<style>{STYLE}</style></head><body>",
           "<h1>Gonka gateway conformance report</h1>", _meta(report), _summary(report)]
    out.append('<div class="filters" style="display:none">Show: ')
    for outcome in WORST_FIRST:
        out.append(f'<label><input type="checkbox" value="{outcome}" checked> {escape(outcome)}</label>')
    out.append('<input id="q" type="search" placeholder="filter rules…"></div>')
    out.append("<h2>Rule × model matrix</h2>")
    out.append('<table class="matrix"><thead><tr><th>rule</th>')
    out.extend(f"<th>{escape(model)}</th>" for model in models)
    out.append("</tr></thead><tbody>")
    for rule in sorted(by_rule):
        row = by_rule[rule]
        worst = min((c["outcome"] for cells in row.values() for c in cells), key=WORST_FIRST.index)
        link = f' <a href="{escape(anchors[rule] or "")}">anchor</a>' if anchors.get(rule) else ""
        out.append(f'<tr data-outcome="{worst}" data-text="{escape(rule.lower())}"><td class="rule"><a href="#r-{escape(rule)}">{escape(rule)}</a>{link}</td>')
        for model in models:
            cells = row.get(model)
            if not cells:
                out.append('<td class="cell" title="not applicable">·</td>')
                continue
            outcome = min((c["outcome"] for c in cells), key=WORST_FIRST.index)
            fg, bg = COLOURS[outcome]
            title = escape(f"{outcome}: " + "; ".join(c["case_id"] + " " + c["outcome"] for c in cells))
            out.append(f'<td class="cell" style="color:{fg};background:{bg}" title="{title}">'
                       f'<a href="#r-{escape(rule)}">{SYMBOLS[outcome]} {escape(outcome)}</a></td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    out.append("<h2>Details</h2>")
    for rule in sorted(by_rule):
        out.append(f'<section id="r-{escape(rule)}">')
        for model, cells in sorted(by_rule[rule].items()):
            for case in cells:
                out.append(_details(case))
        out.append("</section>")
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out)


def _meta(report: dict[str, Any]) -> str:
    target = report["target"]
    where = "embedded reference gateway" if target["embedded_reference"] else escape(target["base_url"])
    fingerprint = report.get("fingerprint") or {}
    best = fingerprint.get("best") or {}
    explained = ""
    if best:
        explained = (f" · best explained by revision <code>{escape(str(best.get('revision')))}</code>"
                     f" profile <code>{escape(str(best.get('profile') or 'upstream'))}</code>"
                     f" ({len(best.get('contradictions', []))} contradicting observations)")
    error = f'<div class="meta" style="color:#cf222e">{escape(report["error"])}</div>' if report.get("error") else ""
    return (f'<div class="meta">Target: {where} · revision <code>{escape(report["revision"])}</code> · '
            f'profile <code>{escape(str(report.get("profile") or "none"))}</code> · tier {escape(report["tier"])} · '
            f'{report["timing"]["seconds"]}s · tokens spent {report["tokens"]["spent"]} · generated {escape(report["generated_at"])}'
            f"{explained}</div>{error}")


def _summary(report: dict[str, Any]) -> str:
    parts = []
    for outcome in WORST_FIRST:
        count = report["summary"].get(outcome, 0)
        fg, bg = COLOURS[outcome]
        parts.append(f'<span style="color:{fg};background:{bg}">{escape(outcome)} {count}</span>')
    return '<div class="summary">' + "".join(parts) + "</div>"


def _details(case: dict[str, Any]) -> str:
    problems = "".join(f"<li>{escape(p)}</li>" for p in case["problems"]) or "<li>none</li>"
    divergence = f"<p>Divergence: {escape(case['divergence'])}</p>" if case.get("divergence") else ""
    opened = " open" if case["outcome"] in FAILING else ""
    return (f'<details data-outcome="{escape(case["outcome"])}" data-text="{escape(case["rule"].lower())}"{opened}>'
            f'<summary>{_badge(case["outcome"])} {escape(case["case_id"])} — {escape(case["model"])}</summary>'
            f"<p>Expected: {escape(case['expected'])}<br>Observed: {escape(case['observed'])}</p>{divergence}"
            f"<ul>{problems}</ul><p>Request</p><pre>{escape(case['request'])}</pre>"
            f"<p>Response</p><pre>{escape(case['response'])}</pre><p>Reproduce</p><pre>{escape(case['curl'])}</pre></details>")
