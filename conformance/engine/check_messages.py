"""The ``messages[]`` validator (contract.md §2.2, "Validation rules after normalization").

Upstream (``ChatMessageProcessor.ValidateDocument``) walks the messages once and returns the
first problem. ``messages-contract`` walks them the same way and yields a code for every
problem, in upstream order; the rule's ``delegate`` option hands each code to the rule that
documents it. Message texts, the role list and the per-role policies come from the YAML.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, TypeGuard

from ..goemu.json import GO_SPACE, go_trim_space
from .context import Context, Site, child
from .registry import check, options
from .types import MISSING, Hit

def is_blank(text: str) -> bool:
    """``strings.TrimSpace(text) == ""``. A text whose first or last character is not Go
    white space is not blank: answered without copying it (tool results are long texts that
    often end in a newline, and every message's strings are checked)."""
    if not text:
        return True
    if text[0] not in GO_SPACE or text[-1] not in GO_SPACE:
        return False
    return not go_trim_space(text)


def is_empty_content(content: Any) -> bool:
    """``IsEmptyContent``: a blank string or an empty parts array (``null`` is "missing")."""
    if isinstance(content, str):
        return is_blank(content)
    return isinstance(content, list) and not content


def string_problem(fields: Mapping[str, Any], key: str) -> str | None:
    """``RequiredNonEmptyString``: the problem suffix (``required``/``not-string``/``empty``) or None."""
    value = fields.get(key, MISSING)
    if value is MISSING or value is None:
        return "required"
    if not isinstance(value, str):
        return "not-string"
    if is_blank(value):
        return "empty"
    return None


def present(fields: Mapping[str, Any], key: str) -> bool:
    """Upstream treats an explicit ``null`` call field as absent."""
    return fields.get(key) is not None


# --- the validator ------------------------------------------------------------------------


@check("messages-contract", options=options(required={"roles": "object"}, delegates=True), when_absent=True)
def messages_contract(ctx: Context, site: Site) -> Iterator[Hit]:
    """The messages array: present, non-empty, each message's role and fields as ``roles`` allows."""
    messages = site.value
    if not isinstance(messages, list):  # absent, null or any non-array
        yield Hit(site.pointer, "missing")
        return
    if not messages:
        yield Hit(site.pointer, "empty")
        return
    roles: Mapping[str, Mapping[str, Any]] = site.options["roles"]
    policies = _policies(roles)
    pending: set[str] = set()  # tool_call ids still waiting for their tool message
    for index, message in enumerate(messages):
        if type(message) is dict and _clean(message, policies, pending):
            continue
        # "/messages/<i>" needs no escaping; pointers below are only built for a problem.
        yield from _message(f"{site.pointer}/{index}", index, message, roles, pending)


# --- the fast path: a message that certainly has no problem ---------------------------------
#
# Agents send thousands of well-formed messages; ``_clean`` recognises one with a few dict
# lookups and no generator, and updates ``pending`` exactly as ``_message`` would. Anything
# it is not sure about (a blank-looking string, an unusual shape, any problem at all) goes to
# ``_message``, untouched, which decides and reports as before.

_Policy = tuple[tuple[str, ...], bool, bool, bool, Any]  # forbidden, calls, tool_call_id, name, content
_POLICIES: dict[int, tuple[Mapping[str, Any], dict[str, _Policy]]] = {}


def _policies(roles: Mapping[str, Mapping[str, Any]]) -> dict[str, _Policy]:
    """Each role's policy as a tuple, built once per ``roles`` mapping (held, so its id stays its own)."""
    known = _POLICIES.get(id(roles))
    if known is not None and known[0] is roles:
        return known[1]
    compiled = {role: (tuple(policy.get("forbidden", ())), bool(policy.get("calls")), bool(policy.get("tool_call_id")),
                       bool(policy.get("name")), policy.get("content")) for role, policy in roles.items()}
    if len(_POLICIES) >= 16:
        _POLICIES.clear()
    _POLICIES[id(roles)] = (roles, compiled)
    return compiled


def _plainly_set(value: Any) -> TypeGuard[str]:
    """A string that is surely not blank: its first or last character is not Go white space."""
    return type(value) is str and value != "" and (value[0] not in GO_SPACE or value[-1] not in GO_SPACE)


def _clean(message: dict[str, Any], policies: Mapping[str, _Policy], pending: set[str]) -> bool:
    role = message.get("role")
    policy = policies.get(role) if type(role) is str else None
    if policy is None or role == "" or not (role[0] not in GO_SPACE or role[-1] not in GO_SPACE):  # type: ignore[index]
        return False
    forbidden, calls, wants_id, wants_name, content_rule = policy
    for field in forbidden:
        if field in message:
            return False
    if calls and wants_id:
        return False  # both checks on one message: their order matters, leave it to _message
    added: list[str] = []
    has_calls = False
    if calls:
        if message.get("function_call") is not None:
            return False
        tool_calls = message.get("tool_calls")
        if tool_calls is not None:
            if type(tool_calls) is not list or not tool_calls:
                return False
            for call in tool_calls:
                if type(call) is not dict:
                    return False
                call_id = call.get("id")
                if not _plainly_set(call_id) or call_id in added or call.get("type") != "function":
                    return False
                function = call.get("function")
                if type(function) is not dict or not _plainly_set(function.get("name")):
                    return False
                arguments = function.get("arguments")
                if arguments is not None and type(arguments) is not str:
                    return False
                added.append(call_id)
            has_calls = True
    call_id = None
    if wants_id:
        call_id = message.get("tool_call_id")
        if not _plainly_set(call_id) or call_id not in pending:
            return False
    if wants_name and not _plainly_set(message.get("name")):
        return False
    content = message.get("content")
    if content is None:
        if not (content_rule == "unless-calls" and has_calls):
            return False
    elif type(content) is not str or content == "" or (content[0] in GO_SPACE and content[-1] in GO_SPACE):
        return False  # (_plainly_set inlined: every message has content)
    pending.update(added)
    if call_id is not None:
        pending.discard(call_id)
    return True


def _message(pointer: str, index: int, message: Any, roles: Mapping[str, Mapping[str, Any]],
             pending: set[str]) -> Iterator[Hit]:
    if not isinstance(message, dict):
        yield Hit(pointer, "message-not-object", {"index": index})
        return
    problem = string_problem(message, "role")
    if problem:
        yield Hit(child(pointer, "role"), f"role-{problem}", {"index": index})
        return
    role = message["role"]
    policy = roles.get(role)
    if policy is None:
        yield Hit(child(pointer, "role"), "role-unsupported", {"index": index, "role": role})
        return
    for field in policy.get("forbidden", ()):
        if field in message:  # an explicit null still counts as present
            yield Hit(child(pointer, field), "field-not-allowed", {"index": index, "field": field})
    has_calls = False
    if policy.get("calls"):
        yield from _tool_calls(pointer, index, message, pending)
        yield from _function_call(pointer, index, message)
        has_calls = present(message, "tool_calls") or present(message, "function_call")
    if policy.get("tool_call_id"):
        yield from _tool_call_id(pointer, index, message, pending)
    if policy.get("name"):
        problem = string_problem(message, "name")
        if problem:
            yield Hit(child(pointer, "name"), f"name-{problem}", {"index": index})
    yield from _content(pointer, index, message, policy.get("content"), has_calls)


def _content(pointer: str, index: int, message: Mapping[str, Any], rule: Any, has_calls: bool) -> Iterator[Hit]:
    content = message.get("content")
    if content is None:  # absent or null
        if rule == "unless-calls":
            if not has_calls:
                yield Hit(f"{pointer}/content", "content-required-unless-calls", {"index": index})
        else:
            yield Hit(f"{pointer}/content", "content-required", {"index": index})
        return
    if isinstance(content, (str, list)):
        if is_empty_content(content):
            yield Hit(f"{pointer}/content", "content-empty", {"index": index})
        # A non-empty parts array cannot get here upstream: flatten-text-parts always runs
        # first and either joins it into a string or rejects its first bad part.
        return
    yield Hit(f"{pointer}/content", "content-shape", {"index": index})


def _tool_calls(pointer: str, index: int, message: Mapping[str, Any], pending: set[str]) -> Iterator[Hit]:
    calls = message.get("tool_calls")
    if calls is None:
        return
    where = f"{pointer}/tool_calls"
    if not isinstance(calls, list):
        yield Hit(where, "tool-calls-not-array", {"index": index})
        return
    if not calls:
        yield Hit(where, "tool-calls-empty", {"index": index})
        return
    seen: set[str] = set()
    for number, call in enumerate(calls):
        code, at = _tool_call_problem(call, seen)
        if call_id := _call_id(call):
            # Later tool messages may answer it even when this call is malformed: the
            # orphan dropper counted it too, so analyse mode must not invent a mismatch.
            pending.add(call_id)
        if code:
            yield Hit(child(where, number, *at), code, {"index": index, "call": number})


def _call_id(call: Any) -> str | None:
    if isinstance(call, dict) and string_problem(call, "id") is None:
        return call["id"]
    return None


def _tool_call_problem(call: Any, seen: set[str]) -> tuple[str | None, tuple[str, ...]]:
    """The first problem of one ``tool_calls[j]`` entry, in upstream order, and where."""
    if not isinstance(call, dict):
        return "call-not-object", ()
    problem = string_problem(call, "id")
    if problem:
        return f"call-id-{problem}", ("id",)
    if call["id"] in seen:
        return "call-id-duplicated", ("id",)
    seen.add(call["id"])
    problem = string_problem(call, "type")
    if problem:
        return f"call-type-{problem}", ("type",)
    if call["type"] != "function":
        return "call-type-unsupported", ("type",)
    function = call.get("function")
    if not isinstance(function, dict):
        return "call-function-not-object", ("function",)
    problem = string_problem(function, "name")
    if problem:
        return f"call-function-name-{problem}", ("function", "name")
    if function.get("arguments") is not None and not isinstance(function["arguments"], str):
        return "call-arguments-not-string", ("function", "arguments")
    return None, ()


def _function_call(pointer: str, index: int, message: Mapping[str, Any]) -> Iterator[Hit]:
    call = message.get("function_call")
    if call is None:
        return
    where, params = f"{pointer}/function_call", {"index": index}
    if not isinstance(call, dict):
        yield Hit(where, "function-call-not-object", params)
        return
    problem = string_problem(call, "name")
    if problem:
        yield Hit(child(where, "name"), f"function-call-name-{problem}", params)
    elif call.get("arguments") is not None and not isinstance(call["arguments"], str):
        yield Hit(child(where, "arguments"), "function-call-arguments-not-string", params)


def _tool_call_id(pointer: str, index: int, message: Mapping[str, Any], pending: set[str]) -> Iterator[Hit]:
    problem = string_problem(message, "tool_call_id")
    if problem:
        yield Hit(f"{pointer}/tool_call_id", f"tool-call-id-{problem}", {"index": index})
        return
    call_id = message["tool_call_id"]
    if call_id not in pending:  # practically unreachable: orphans were dropped first
        yield Hit(f"{pointer}/tool_call_id", "tool-call-id-unmatched", {"index": index})
        return
    pending.discard(call_id)
