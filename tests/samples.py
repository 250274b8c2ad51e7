"""Sample data shared by tests of several faces (the live report model)."""

from __future__ import annotations

from datetime import datetime, timezone

from gonka_conformance.reports.model import RunInfo, build_report


def sample_report() -> dict:
    """A run with every kind of trouble: the report these tests render (and docs/ shows)."""
    now = datetime.now(timezone.utc)
    fingerprint = {
        "best": {"revision": "2026-05", "profile": None, "compared": 10, "contradictions": []},
        "candidates": [{"revision": "2026-09", "profile": None, "compared": 10, "contradictions": ["limit-stop[x]"]},
                       {"revision": "2026-05", "profile": None, "compared": 10, "contradictions": []}],
        "rerun": "gonka-conformance run --base-url http://127.0.0.1:1/v1 --revision 2026-05",
        "fleet": {"split": True, "answers": 12, "cases": ["limit-stop[moonshotai/Kimi-K2.6]"],
                  "shares": [{"label": "2026-05", "revision": "2026-05", "profile": None, "answers": 7, "percent": 58},
                             {"label": "2026-09", "revision": "2026-09", "profile": None, "answers": 5, "percent": 42}]},
    }
    info = RunInfo("http://127.0.0.1:1/v1", True, ["moonshotai/Kimi-K2.6", "MiniMaxAI/MiniMax-M2.7"], "2026-09", None,
                   "cheap", 3, now, now, 42, None, 1, fingerprint)
    cases = []
    trouble = {
        "fail": ("HTTP 200", "HTTP 200", ["forwarded body differs from the engine's: "
                                          "chat_template_kwargs.thinking: expected false, observed absent"], "{}"),
        "error": ("HTTP 200", "error: stream cut: connection closed after 312 bytes without data: [DONE]",
                  ["stream cut: connection closed after 312 bytes without data: [DONE]"], ""),
        "divergent": ("HTTP 200", "HTTP 400 'Plugin config is invalid'", ["expected HTTP 200, got HTTP 400"],
                      '{"error": {"message": "Plugin config is invalid"}}'),
    }
    for rule, outcome in [("accept-tools", "pass"), ("reject-tags", "pass"), ("limit-stop", "fail"),
                          ("strip-plugins", "divergent"), ("clamp-temperature", "unobservable"),
                          ("stream-done-sentinel", "error")]:
        expected, observed, problems, response = trouble.get(outcome, ("HTTP 400", "HTTP 400", [], '{"ok": true}'))
        for model in info.models:
            cases.append({"key": f"{rule}[{model}]", "case_id": rule, "rule": rule, "anchor": f"https://example.invalid/#{rule}",
                          "severity": "error", "model": model, "family": None, "outcome": outcome, "expected": expected,
                          "observed": observed, "problems": problems,
                          "request": '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "tags": ["x"]}',
                          "response": response, "curl": "curl -sS http://127.0.0.1:1/v1/chat/completions", "tokens": 0,
                          "elapsed": 0.01, "divergence": None})
    return build_report(info, cases, "test")
