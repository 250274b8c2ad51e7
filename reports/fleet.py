"""The fleet-split sentence every output shows (terminal, report.html, summary.md)."""

from __future__ import annotations

from typing import Any

TOLD_APART_SHOWN = 6


def fleet_sentence(fleet: dict[str, Any] | None) -> str | None:
    """``fleet split: about 58% of answers match 2026-05, 42% match 2026-09 (told apart by a, b)``,
    or None when the answers do not split."""
    if not fleet or not fleet.get("split"):
        return None
    shares = fleet["shares"]
    parts = [f"about {shares[0]['percent']}% of answers match {shares[0]['label']}"]
    parts += [f"{share['percent']}% match {share['label']}" for share in shares[1:]]
    cases = fleet["cases"]
    told = ", ".join(cases[:TOLD_APART_SHOWN]) + (f" and {len(cases) - TOLD_APART_SHOWN} more" if len(cases) > TOLD_APART_SHOWN else "")
    return f"fleet split: {', '.join(parts)} (told apart by {told})"
