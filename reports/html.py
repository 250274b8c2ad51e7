"""report.html: one self-contained file — a rule × model matrix coloured by outcome.

No external assets. Readable with JavaScript disabled (drill-down uses <details>); a small
inline script only adds outcome filters, a text filter and copy buttons. Worst outcomes come
first, in the matrix and in the details (grouped by outcome; the summary's counts link there).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from html import escape
from typing import Any

from .fleet import fleet_sentence
from .model import WORST_FIRST

COLOURS = {
    "pass": ("#1a7f37", "#dafbe1"), "fail": ("#cf222e", "#ffebe9"), "divergent": ("#9a6700", "#fff8c5"),
    "unobservable": ("#57606a", "#eaeef2"), "xfail": ("#6639ba", "#fbefff"), "xpass": ("#bc4c00", "#fff1e5"),
    "error": ("#82071e", "#ffd8d3"),
}
SYMBOLS = {"pass": "✓", "fail": "✗", "divergent": "≈", "unobservable": "∅", "xfail": "x", "xpass": "!", "error": "E"}

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
.alert{border:1px solid #cf222e;background:#ffebe9;border-radius:6px;padding:8px 12px;margin:8px 0}
.rerun{margin-top:6px;color:#1f2328}.rerun code{background:#fff8c5;padding:2px 6px}
.summary a{text-decoration:none}.label{margin:8px 0 2px;font-weight:600}
table.eo{border-collapse:collapse;margin:6px 0}.eo th{text-align:left;padding:2px 12px 2px 0;color:#57606a;font-weight:600}
.eo td{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
ul.diff{margin:2px 0;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;color:#82071e}
button.copy{font-size:11px;margin-left:6px;cursor:pointer}
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
  document.querySelectorAll('button.copy').forEach(function(b){
    b.hidden=false;
    b.addEventListener('click',function(){
      var text=document.getElementById(b.getAttribute('data-copy')).textContent;
      if(navigator.clipboard){navigator.clipboard.writeText(text).then(function(){b.textContent='copied';});}
    });
  });
})();
"""


def _badge(outcome: str) -> str:
    fg, bg = COLOURS.get(outcome, ("#1f2328", "#fff"))
    return f'<span class="badge" style="color:{fg};background:{bg}">{escape(outcome)}</span>'


def _worst(cases: list[dict[str, Any]]) -> str:
    return str(min((c["outcome"] for c in cases), key=WORST_FIRST.index))


def _case_id(case: dict[str, Any]) -> str:
    return "c-" + case["key"]


def render_html(report: dict[str, Any]) -> str:
    cases = report["cases"]
    models = list(report["target"]["models"]) or sorted({c["model"] for c in cases})
    by_rule: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    anchors: dict[str, str | None] = {}
    for case in cases:
        by_rule[case["rule"]][case["model"]].append(case)
        anchors[case["rule"]] = case.get("anchor")
    # Worst first: failures, errors and divergences are above the fold.
    rules = sorted(by_rule, key=lambda r: (WORST_FIRST.index(_worst([c for cs in by_rule[r].values() for c in cs])), r))
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           f"<title>Gonka gateway conformance — {escape(report['target']['base_url'])}</title>",
           f"<style>{STYLE}</style></head><body>",
           "<h1>Gonka gateway conformance report</h1>", _fleet(report), _meta(report), _summary(report)]
    out.append('<div class="filters" style="display:none">Show: ')
    for word in WORST_FIRST:
        out.append(f'<label><input type="checkbox" value="{word}" checked> {escape(word)}</label>')
    out.append('<input id="q" type="search" placeholder="filter rules…"></div>')
    out.append("<h2>Rule × model matrix</h2>")
    out.append('<table class="matrix"><thead><tr><th>rule</th>')
    out.extend(f"<th>{escape(model)}</th>" for model in models)
    out.append("</tr></thead><tbody>")
    for rule in rules:
        row = by_rule[rule]
        worst = _worst([c for cells in row.values() for c in cells])
        link = f' <a href="{escape(anchors[rule] or "")}">anchor</a>' if anchors.get(rule) else ""
        out.append(f'<tr data-outcome="{worst}" data-text="{escape(rule.lower())}"><td class="rule">{escape(rule)}{link}</td>')
        for model in models:
            cells = row.get(model)
            if not cells:
                out.append('<td class="cell" title="not applicable">·</td>')
                continue
            outcome = _worst(cells)
            first = next(c for c in cells if c["outcome"] == outcome)
            fg, bg = COLOURS[outcome]
            title = escape(f"{outcome}: " + "; ".join(c["case_id"] + " " + c["outcome"] for c in cells))
            out.append(f'<td class="cell" style="color:{fg};background:{bg}" title="{title}">'
                       f'<a href="#{escape(_case_id(first))}">{SYMBOLS[outcome]} {escape(outcome)}</a></td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    for outcome in WORST_FIRST:
        group = sorted((c for c in cases if c["outcome"] == outcome), key=lambda c: (c["rule"], c["case_id"], c["model"]))
        if not group:
            continue
        out.append(f'<section id="o-{outcome}"><h2>{_badge(outcome)} {len(group)} {escape(outcome)}</h2>')
        out.extend(_details(case) for case in group)
        out.append("</section>")
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out)


def _fleet(report: dict[str, Any]) -> str:
    split = fleet_sentence((report.get("fingerprint") or {}).get("fleet"))
    if not split:
        return ""
    return f'<div class="alert"><b>{escape(split[0].upper() + split[1:])}.</b> The instances behind this URL do not behave alike.</div>'


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
    if fingerprint.get("rerun"):
        explained += f'<div class="rerun">These observations are explained better by another revision or profile. Rerun with: <code>{escape(fingerprint["rerun"])}</code></div>'
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
        label = f"{escape(outcome)} {count}"
        if count:  # a link to the outcome's section of the details
            label = f'<a href="#o-{outcome}" style="color:inherit">{label}</a>'
        parts.append(f'<span style="color:{fg};background:{bg}">{label}</span>')
    return '<div class="summary">' + "".join(parts) + "</div>"


def _details(case: dict[str, Any]) -> str:
    problems = "".join(f"<li>{escape(p)}</li>" for p in case["problems"])
    title = "Differences" if case["outcome"] in ("fail", "xfail", "xpass", "divergent") else "Problems"
    differences = f'<p class="label">{title}</p><ul class="diff">{problems}</ul>' if problems else ""
    divergence = f"<p>Divergence: {escape(case['divergence'])}</p>" if case.get("divergence") else ""
    opened = " open" if case["outcome"] in ("fail", "error", "xpass") else ""
    ident = escape(_case_id(case))
    return (f'<details id="{ident}" data-outcome="{escape(case["outcome"])}" data-text="{escape(case["rule"].lower())}"{opened}>'
            f'<summary>{_badge(case["outcome"])} {escape(case["case_id"])} — {escape(case["model"])}</summary>'
            f'<table class="eo"><tr><th>Expected</th><td>{escape(case["expected"] or "—")}</td></tr>'
            f'<tr><th>Observed</th><td>{escape(case["observed"] or "—")}</td></tr></table>{differences}{divergence}'
            + _block("Request", _pretty(case["request"]), ident + "-req")
            + _block("Response", _response(case), ident + "-res")
            + _block("Reproduce", case["curl"], ident + "-curl") + "</details>")


_CUT = re.compile(r"stream cut: (connection closed after \d+ bytes)")


def _response(case: dict[str, Any]) -> str:
    """The body as received; a cut stream says so instead of showing an empty box."""
    cut = _CUT.search(case["observed"]) or _CUT.search(" ".join(case["problems"]))
    if cut:
        return cut.group(1) + (":\n" + _pretty(case["response"]) if case["response"] else " (nothing usable was received)")
    if not case["response"] and case["outcome"] == "error":
        return "(no response: " + (case["problems"][0] if case["problems"] else case["observed"]) + ")"
    return _pretty(case["response"])


def _pretty(text: str) -> str:
    """JSON pretty-printed (the excerpt may be cut: then it is shown as it came)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _block(title: str, text: str, ident: str) -> str:
    return (f'<div class="block"><p class="label">{title} <button type="button" class="copy" data-copy="{ident}" '
            f'hidden>copy</button></p><pre id="{ident}">{escape(text)}</pre></div>')
