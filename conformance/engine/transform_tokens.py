"""Output-token limits, floors, the Kimi thinking-budget resolver and late forcing rules."""

from __future__ import annotations

from typing import Any, Iterator, TypeGuard

from .check_basic import is_int
from .context import Context, Site
from .registry import NO_OPTIONS, options, transform
from .types import MISSING, Change


def _given(value: Any) -> TypeGuard[int]:
    """A usable token count: a positive integer (0 and null count as not given)."""
    return is_int(value) and value > 0


@transform("output-token-limits", options=options(required={"default_max_tokens": "integer", "max_tokens_cap": "integer"},
                                                  delegates=True), when_absent=True)
def output_token_limits(ctx: Context, site: Site) -> Iterator[Change]:
    """Default, cap and both-fields rule (contract.md §4 "Resolution"); admin skips the cap."""
    body = ctx.body
    default, cap = ctx.limits.default_max_tokens, ctx.limits.max_tokens_cap
    max_tokens, completion = body.get("max_tokens"), body.get("max_completion_tokens")

    def capped(value: int) -> int:
        return value if ctx.admin else min(value, cap)

    if not _given(max_tokens) and not _given(completion):
        before = body.get("max_tokens", MISSING)
        body["max_tokens"] = default
        yield Change("/max_tokens", before, default, f"max_tokens defaulted to {default}", "default")
        return
    if _given(max_tokens) and _given(completion):
        both = min(capped(max_tokens), capped(completion))
        for name, value in (("max_tokens", max_tokens), ("max_completion_tokens", completion)):
            if value != both:
                body[name] = both
                code = "cap" if value > cap and not ctx.admin and both == cap else "both"
                yield Change(f"/{name}", value, both, f"{name} set to {both} (smaller of both fields, capped at {cap})", code)
        return
    if _given(completion):
        value = capped(completion)
        if value != completion:
            body["max_completion_tokens"] = value
            yield Change("/max_completion_tokens", completion, value, f"max_completion_tokens capped at {cap}", "cap")
        body["max_tokens"] = value
        yield Change("/max_tokens", MISSING, value, "max_completion_tokens mirrored into max_tokens", "mirror")
        return
    value = capped(max_tokens)  # type: ignore[arg-type]  # an int here: the branches above returned otherwise
    if value != max_tokens:
        body["max_tokens"] = value
        yield Change("/max_tokens", max_tokens, value, f"max_tokens capped at {cap}", "cap")


@transform("token-budget-floor", options=options(required={"floor": "integer"}, delegates=True), when_absent=True)
def token_budget_floor(ctx: Context, site: Site) -> Iterator[Change]:
    """Newest ``applyTokenBudgetFloor``: max_tokens >= floor; min_tokens always written."""
    floor = int(site.options["floor"])
    body = ctx.body
    max_tokens = body.get("max_tokens")
    if is_int(max_tokens) and max_tokens < floor:
        body["max_tokens"] = floor
        yield Change("/max_tokens", max_tokens, floor, f"max_tokens raised to {floor}", "max")
        if is_int(body.get("max_completion_tokens")):
            before = body["max_completion_tokens"]
            body["max_completion_tokens"] = floor
            yield Change("/max_completion_tokens", before, floor, f"max_completion_tokens follows max_tokens to {floor}", "max")
    if not ctx.code_applies(site, "min"):
        return
    ceiling = body.get("max_tokens")
    before = body.get("min_tokens", MISSING)
    current = before if is_int(before) else 0
    value = max(current, floor)
    if is_int(ceiling):
        value = min(value, ceiling)
    if before is MISSING or before != value or not is_int(before):
        body["min_tokens"] = value
        yield Change("/min_tokens", before, value, f"min_tokens written as {value} (floor {floor}, at most max_tokens)", "min")


@transform("legacy-min-tokens", options=NO_OPTIONS)
def legacy_min_tokens(ctx: Context, site: Site) -> Iterator[Change]:
    """Older pipeline: min_tokens dropped next to stop_token_ids, else clamped to max_tokens."""
    value = site.value
    if "stop_token_ids" in ctx.body:
        del site.parent[site.key]
        yield Change(site.pointer, value, MISSING, "min_tokens removed: stop_token_ids present", "dropped")
        return
    ceiling = ctx.body.get("max_tokens")
    if is_int(value) and is_int(ceiling) and value > ceiling:
        site.parent[site.key] = ceiling
        yield Change(site.pointer, value, ceiling, "min_tokens clamped to max_tokens", "clamped")


@transform("resolve-thinking-budget", options=options(
    required={"force_zero_below": "integer", "default_divisor": "integer", "max": "integer", "content_headroom": "integer"},
    delegates=True), when_absent=True)
def resolve_thinking_budget(ctx: Context, site: Site) -> Iterator[Change]:
    """Kimi ``thinking_token_budget`` resolver (contract.md §3), against the final max_tokens."""
    opts = site.options
    body = ctx.body
    max_tokens = body.get("max_tokens")
    if not _given(max_tokens):
        return
    before = body.get("thinking_token_budget", MISSING)
    if max_tokens < opts["force_zero_below"] and ctx.code_applies(site, "force-zero"):
        if not (is_int(before) and before == 0):
            body["thinking_token_budget"] = 0
            yield Change("/thinking_token_budget", before, 0,
                         f"max_tokens {max_tokens} < {opts['force_zero_below']}: thinking_token_budget forced to 0", "force-zero")
        kwargs = body.get("chat_template_kwargs")
        if ctx.code_applies(site, "template") and (kwargs is None or isinstance(kwargs, dict)):
            # Overwrites a client's own answer too: a thinking template with a zero budget is the
            # empty-content burn the force-zero exists to prevent.
            if kwargs is None:
                kwargs = body["chat_template_kwargs"] = {}
            was = kwargs.get("thinking", MISSING)
            if was is not False:
                kwargs["thinking"] = False
                yield Change("/chat_template_kwargs/thinking", was, False,
                             "chat_template_kwargs.thinking set to false with the forced zero budget", "template")
        return
    budget = before
    if budget is MISSING or budget is None:
        budget = max_tokens // opts["default_divisor"]
        body["thinking_token_budget"] = budget
        yield Change("/thinking_token_budget", before, budget, f"thinking_token_budget defaulted to max_tokens/{opts['default_divisor']} = {budget}", "default")
    if not is_int(budget):
        return  # upstream skips the clamps for a non-integer budget and forwards it unchanged
    ceiling = min(opts["max"], max(max_tokens - opts["content_headroom"], 0))
    if budget > ceiling:
        body["thinking_token_budget"] = ceiling
        yield Change("/thinking_token_budget", budget, ceiling,
                     f"thinking_token_budget clamped to {ceiling} (at most {opts['max']} and max_tokens - {opts['content_headroom']})", "clamp")


@transform("force-upstream-stream", options=options(required={"stream_options": "object"}), when_absent=True)
def force_upstream_stream(ctx: Context, site: Site) -> Iterator[Change]:
    """Newest: the upstream request always streams with usage; the client's intent is kept."""
    body = ctx.body
    ctx.state["client_stream"] = body.get("stream") is True
    ctx.state["client_include_usage"] = isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage") is True
    if body.get("stream") is not True:
        yield Change("/stream", body.get("stream", MISSING), True, "upstream request forced to stream", "stream")
        body["stream"] = True
    wanted = dict(site.options["stream_options"])
    if body.get("stream_options") != wanted:
        yield Change("/stream_options", body.get("stream_options", MISSING), wanted, "stream_options forced to include usage", "usage")
        body["stream_options"] = wanted


@transform("always-on-thinking", options=NO_OPTIONS, when_absent=True)
def always_on_thinking(ctx: Context, site: Site) -> Iterator[Change]:
    """GLM-5.3-Flash: chat_template_kwargs.enable_thinking forced true; .thinking removed."""
    kwargs = ctx.body.get("chat_template_kwargs")
    if kwargs is None:
        kwargs = ctx.body["chat_template_kwargs"] = {}
    if not isinstance(kwargs, dict):
        return
    if kwargs.get("enable_thinking") is not True:
        yield Change("/chat_template_kwargs/enable_thinking", kwargs.get("enable_thinking", MISSING), True,
                     "chat_template_kwargs.enable_thinking forced to true")
        kwargs["enable_thinking"] = True
    if "thinking" in kwargs:
        yield Change("/chat_template_kwargs/thinking", kwargs.pop("thinking"), MISSING, "chat_template_kwargs.thinking removed")
