"""The ``messages[]`` normalizers, in upstream order (contract.md §2.2, "Normalizers run first").

Upstream runs them only when ``messages`` is an array, skips elements that are not objects,
and reads ``role`` as a string (anything else is no role). Error indices are those of the
array as it stands when the normalizer runs, i.e. after earlier drops.

Dropping is split in two steps, ``mark`` then ``commit-message-drops``: every drop is reported
while ``ctx.message_origin`` still maps the array as it stands, so its pointer names the
client's message; the array changes only afterwards.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from .check_messages import is_empty_content, string_problem
from .context import Context, Site, child
from .registry import NO_OPTIONS, options, transform
from .types import MISSING, Change, Hit

# Wire-format role values (upstream keeps them as local literals too).
ASSISTANT = "assistant"
TOOL = "tool"

_DROPS = "messages.drops"  # ctx.state key: current indices marked for dropping


def _messages(site: Site) -> list[Any] | None:
    return site.value if isinstance(site.value, list) else None


# The loops below compare ``message.get("role")`` with a role name directly: a decoded JSON
# value that is not a string never equals one, so absent and non-string roles match none.


# --- dropping -----------------------------------------------------------------------------


@transform("commit-message-drops", options=NO_OPTIONS)
def commit_message_drops(ctx: Context, site: Site) -> Iterator[Change]:
    """Remove the messages the previous ``mark`` step chose, keeping pointer translation."""
    drops = ctx.state.pop(_DROPS, None)
    messages = _messages(site)
    if not drops or messages is None:
        return
    origin = ctx.message_origin if ctx.message_origin is not None else list(range(len(messages)))
    keep = [i for i in range(len(messages)) if i not in drops]
    site.parent[site.key] = [messages[i] for i in keep]
    ctx.message_origin = [origin[i] for i in keep]
    yield from ()


def _mark(ctx: Context, indices: list[int]) -> None:
    ctx.state[_DROPS] = set(indices)


@transform("mark-orphan-tool-messages", options=NO_OPTIONS)
def mark_orphan_tool_messages(ctx: Context, site: Site) -> Iterator[Change]:
    """``OrphanToolMessageDropper``: a tool message whose id no earlier tool call announced.

    Each id is consumed by its first tool message, so a second answer to it is dropped too.
    A tool message without a usable string id is left for the validator.
    """
    messages = _messages(site)
    if messages is None:
        return
    pending: set[str] = set()
    dropped: list[int] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == ASSISTANT and isinstance(message.get("tool_calls"), list):
            for call in message["tool_calls"]:
                call_id = call.get("id") if isinstance(call, dict) else None
                if isinstance(call_id, str) and call_id:
                    pending.add(call_id)
        elif role == TOOL:
            call_id = message.get("tool_call_id")
            if not (isinstance(call_id, str) and call_id):
                continue
            if call_id in pending:
                pending.discard(call_id)
                continue
            dropped.append(index)
            yield Change(child(site.pointer, index), message, MISSING,
                         f"tool message dropped: tool_call_id {json.dumps(call_id, ensure_ascii=False)} "
                         "answers no earlier assistant tool call")
    _mark(ctx, dropped)


def _assistant_turn_empty(message: dict[str, Any]) -> bool:
    """``IsAssistantTurnEmpty``: no calls and no content worth sending."""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        return False
    function_call = message.get("function_call")
    if isinstance(function_call, dict) and function_call:
        return False
    content = message.get("content")
    return content is None or is_empty_content(content)


@transform("mark-empty-assistant-turns", options=NO_OPTIONS)
def mark_empty_assistant_turns(ctx: Context, site: Site) -> Iterator[Change]:
    """``EmptyAssistantTurnDropper``: placeholders left by session-resume serializers."""
    messages = _messages(site)
    if messages is None:
        return
    dropped: list[int] = []
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == ASSISTANT and _assistant_turn_empty(message):
            dropped.append(index)
            yield Change(child(site.pointer, index), message, MISSING,
                         "assistant turn with no content, tool_calls or function_call dropped")
    _mark(ctx, dropped)


# --- rewriting in place ---------------------------------------------------------------------


@transform("empty-tool-content", options=options(required={"sentinel": "string"}))
def empty_tool_content(ctx: Context, site: Site) -> Iterator[Change]:
    """``EmptyContentNormalizer`` (tool half): missing, null, blank or ``[]`` becomes the sentinel."""
    messages = _messages(site)
    if messages is None:
        return
    sentinel = site.options["sentinel"]
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != TOOL:
            continue
        content = message.get("content", MISSING)
        if content is MISSING or content is None or is_empty_content(content):
            message["content"] = sentinel
            yield Change(child(site.pointer, index, "content"), content, sentinel,
                         f"empty tool result replaced by {json.dumps(sentinel, ensure_ascii=False)}")


@transform("null-empty-assistant-content", options=options(required={"call_fields": "strings"}))
def null_empty_assistant_content(ctx: Context, site: Site) -> Iterator[Change]:
    """``EmptyContentNormalizer`` (assistant half): blank or ``[]`` content next to a call becomes null.

    The call fields only need to exist (even as ``null``), as upstream checks key presence.
    """
    messages = _messages(site)
    if messages is None:
        return
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != ASSISTANT:
            continue
        content = message.get("content")
        if content is None or not is_empty_content(content):
            continue
        if any(field in message for field in site.options["call_fields"]):
            message["content"] = None
            yield Change(child(site.pointer, index, "content"), content, None,
                         "empty assistant content next to a tool call set to null")


@transform("strip-tool-message-name", options=NO_OPTIONS)
def strip_tool_message_name(ctx: Context, site: Site) -> Iterator[Change]:
    """``LegacyToolNameStripper``: ``name`` on a tool message is a leftover of role "function"."""
    messages = _messages(site)
    if messages is None:
        return
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == TOOL and "name" in message:
            yield Change(child(site.pointer, index, "name"), message.pop("name"), MISSING,
                         "name removed from tool message")


@transform("strip-null-calls", options=options(required={"fields": "strings"}))
def strip_null_calls(ctx: Context, site: Site) -> Iterator[Change]:
    """``ValidateToolCallsField``/``ValidateFunctionCallField``: an explicit null is absent.

    Upstream deletes the key while validating the assistant message; no earlier check of that
    message reads it, so doing it just before validation forwards the same body.
    """
    messages = _messages(site)
    if messages is None:
        return
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != ASSISTANT:
            continue
        for field in site.options["fields"]:
            if field in message and message[field] is None:
                del message[field]
                yield Change(child(site.pointer, index, field), None, MISSING, f"null {field} removed")


# --- text parts ---------------------------------------------------------------------------


def _part_problem(part: Any) -> tuple[str | None, tuple[str, ...], dict[str, Any]]:
    """``RequiredTextContentPart``: the first problem of one content part, where, and params."""
    if not isinstance(part, dict):
        return "part-not-object", (), {}
    problem = string_problem(part, "type")
    if problem:
        return f"part-type-{problem}", ("type",), {}
    if part["type"] != "text":
        return "part-type-unsupported", ("type",), {"type": part["type"]}
    problem = string_problem(part, "text")
    if problem:
        return f"part-text-{problem}", ("text",), {}
    return None, (), {}


@transform("flatten-text-parts", options=options(required={"joiner": "string"}, delegates=True))
def flatten_text_parts(ctx: Context, site: Site) -> Iterator[Change | Hit]:
    """``TextPartsFlattener``: an array of text parts becomes one string joined by ``joiner``.

    Every role is flattened; keys other than ``type``/``text`` in a part are ignored. Any
    other part type (image_url, video_url, input_audio, ...) is an error.
    """
    messages = _messages(site)
    if messages is None:
        return
    joiner = site.options["joiner"]
    for index, message in enumerate(messages):
        parts = message.get("content") if isinstance(message, dict) else None
        if not isinstance(parts, list) or not parts:
            continue
        bad = False
        for number, part in enumerate(parts):
            code, at, params = _part_problem(part)
            if code:
                bad = True
                pointer = child(site.pointer, index, "content", number, *at)
                yield Hit(pointer, code, {"index": index, "part": number, **params})
        if bad:
            continue
        joined = joiner.join(part["text"] for part in parts)
        message["content"] = joined
        yield Change(child(site.pointer, index, "content"), parts, joined,
                     f"{len(parts)} text part(s) joined into one string")
