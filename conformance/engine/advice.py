"""Advice checks: FAQ patterns that are not gateway actions but predictably go wrong.

They run only in ``analyse`` (lint) mode, after the pipeline, on the normalized body; the
client's own values that the pipeline rewrites are read from ``ctx.state['client']``.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..goemu.json import go_trim_space
from .check_basic import is_int
from .context import Context, Site, child
from .registry import NO_OPTIONS, check, options
from .routing import expected_spelling
from .types import MISSING, Hit


def _client(ctx: Context) -> dict[str, Any]:
    return ctx.state.get("client") or {}


@check("kimi-budget-burn", options=NO_OPTIONS, when_absent=True)
def kimi_budget_burn(ctx: Context, site: Site) -> Iterator[Hit]:
    """A defaulted budget on a tool-heavy Kimi request burns half the output on hidden thinking."""
    client = _client(ctx)
    if "thinking_token_budget" in client or not client.get("tools"):
        return
    budget = ctx.body.get("thinking_token_budget")
    if is_int(budget) and budget > 0:
        yield Hit("", params={"budget": budget, "max_tokens": ctx.body.get("max_tokens")})


@check("kimi-disabled-keeps-budget", options=NO_OPTIONS, when_absent=True)
def kimi_disabled_keeps_budget(ctx: Context, site: Site) -> Iterator[Hit]:
    """Thinking disabled while the forwarded body still carries a positive thinking_token_budget the client did not send."""
    thinking = _client(ctx).get("thinking")
    if not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        return
    if "thinking_token_budget" in _client(ctx):
        return
    budget = ctx.body.get("thinking_token_budget")
    if is_int(budget) and budget > 0:
        yield Hit("/thinking", params={"budget": budget})


@check("effective-cap", options=options(required={"measured_cap": "integer"}), when_absent=True)
def effective_cap(ctx: Context, site: Site) -> Iterator[Hit]:
    """Asking for more than brokers' measured effective cap (`measured_cap`) but within the network cap."""
    measured = int(site.options["measured_cap"])
    client = _client(ctx)
    for name in ("max_tokens", "max_completion_tokens"):
        value = client.get(name)
        if is_int(value) and measured < value <= ctx.limits.max_tokens_cap:
            yield Hit(child("", name), params={"field": name, "value": value, "measured": measured})
            return


@check("large-prompt", options=options(required={"bytes_per_token": "integer", "threshold_tokens": "integer"}), when_absent=True)
def large_prompt(ctx: Context, site: Site) -> Iterator[Hit]:
    """Upstream estimates input tokens as body bytes / 4 (estimatePromptTokens)."""
    estimate = -(-len(ctx.raw) // int(site.options["bytes_per_token"]))
    if estimate > int(site.options["threshold_tokens"]):
        yield Hit("/messages", params={"tokens": estimate, "threshold": site.options["threshold_tokens"]})


@check("context-window", options=options(required={"bytes_per_token": "integer"}), when_absent=True)
def context_window(ctx: Context, site: Site) -> Iterator[Hit]:
    """The estimated prompt (body bytes / ``bytes_per_token``) plus the output the host is asked
    for (the forwarded ``max_completion_tokens``, else ``max_tokens``) beyond the window the
    model's family is served with (the catalogue's ``context_window``): vLLM refuses it."""
    family = next((f for f in ctx.catalogue.families if f.id == ctx.family), None)
    if family is None or family.context_window is None:
        return
    window = family.context_window.tokens
    estimate = -(-len(ctx.raw) // int(site.options["bytes_per_token"]))
    asked = ctx.body.get("max_completion_tokens") or ctx.body.get("max_tokens")
    output = asked if is_int(asked) else 0
    if estimate + output > window:
        yield Hit("/messages", params={"tokens": estimate, "output": output, "window": window, "family": family.title})


@check("canonical-tool-call-ids", options=options(required={"pattern": "string", "template": "string"}))
def canonical_tool_call_ids(ctx: Context, site: Site) -> Iterator[Hit]:
    """Assistant tool-call ids that do not match ``pattern`` (``template`` shows the canonical form)."""
    messages = site.value
    if not isinstance(messages, list):
        return
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        calls = message.get("tool_calls")
        if not isinstance(calls, list):
            continue
        for position, call in enumerate(calls):
            if isinstance(call, dict) and isinstance(call.get("id"), str) and not re.fullmatch(site.options["pattern"], call["id"]):
                yield Hit(child("/messages", index, "tool_calls", position, "id"), params={"id": call["id"]})


@check("role-present", options=options(required={"role": "string"}))
def role_present(ctx: Context, site: Site) -> Iterator[Hit]:
    """Messages whose role is ``role``."""
    messages = site.value
    if not isinstance(messages, list):
        return
    role = site.options["role"]
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == role:
            yield Hit(child("/messages", index, "role"), params={"role": role})


@check("model-spelling", options=options(required={"upstream": "string"}), when_absent=True)
def model_spelling(ctx: Context, site: Site) -> Iterator[Hit]:
    """The model id differs from the spelling the target serves for its family: the broker's
    documented id with a profile, else the revision's own route (upstream matches exactly)."""
    profile_id = ctx.state.get("profile")
    expected = expected_spelling(ctx.catalogue, ctx.revision.id, profile_id, ctx.family)
    model = _client(ctx).get("model", MISSING)
    if isinstance(model, str) and expected and go_trim_space(model) != expected:
        yield Hit("/model", params={"model": model, "expected": expected, "broker": profile_id or site.options["upstream"]})
