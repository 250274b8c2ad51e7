"""The gateway's verbs: ``route`` verbs decide whether a request may pass (model, access,
admin auth, disabled mode, admission), ``respond`` verbs say how the answer is shaped (id,
stripped fields). Rules are data (``cases/rules/70-gateway.yaml``); the gateway passes in what
it knows (:class:`~.types.RouteFacts`, :class:`~.types.ResponseFacts`) and ``gateway.py`` runs
the rules of a stage in order. A route verb yields a :class:`~.types.Hit` when the request may
not pass (its code picks the rule's message, its params fill it); a route verb given no facts
of its own yields nothing. A respond verb returns the :class:`~.types.Edit` it makes."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .messages import render
from .registry import options, respond, route
from .types import Edit, Hit, ResponseFacts, RouteFacts

_MODES = {"enum": ["api_key", "admin_only"]}  # the modes that refuse a request ("open" never does)
#: The mode no access rule refuses: what ``open`` spellings (and, with no rule claiming
#: ``unknown``, an unknown mode) resolve to.
OPEN_MODE = "open"
_SPELLINGS: dict[str, Any] = {"type": "array", "items": {"type": "string", "pattern": "^[a-z_]+$"}, "uniqueItems": True,
                              "description": "lower-case spellings upstream's config accepts (trimmed and lower-cased before lookup)"}
_ACCESS_OPTIONS: dict[str, str | Mapping[str, Any]] = {"unconfigured": "boolean", "unknown": "boolean", "aliases": _SPELLINGS, "open_aliases": _SPELLINGS}
_POINTERS = {"type": "array", "items": {"type": "string", "pattern": "^(/[^/]+)+$"},
             "description": "client fields (JSON pointers) that keep what the verb removes when asked for"}
_UNLESS = {"unless_true": _POINTERS, "unless_positive": _POINTERS}


# --- route --------------------------------------------------------------------------------


@route("served-model", options=options())
def served_model(facts: RouteFacts, opts: Mapping[str, Any]) -> Iterator[Hit]:
    """The routed model is not one the gateway serves (compared exactly); params ``model`` and
    ``models`` (the served ids, comma-separated)."""
    if facts.model is not None and facts.served is not None and facts.model not in facts.served:
        yield Hit("", params={"model": facts.model, "models": ", ".join(facts.served)})


@route("access-mode", options=options(required={"mode": _MODES}, optional=_ACCESS_OPTIONS))
def access_mode(facts: RouteFacts, opts: Mapping[str, Any]) -> Iterator[Hit]:
    """The model's access mode is ``mode`` and the request lacks what it needs (``admin_only``:
    the admin key; ``api_key``: an accepted client key or the admin key). ``unconfigured``: a
    model with no access entry is in this mode. Param ``model``. The gateway reads a configured
    ``access_mode`` through these options (``engine.gateway.access_modes``): ``aliases`` are
    other spellings of ``mode``, ``open_aliases`` other spellings of ``open`` (the mode no rule
    refuses), and ``unknown``: a spelling no rule names is this mode (with no rule saying so,
    it is ``open``). ``facts.access_mode`` is already resolved."""
    if facts.model is None or facts.admin:
        return
    mode = facts.access_mode if facts.access_mode is not None else (opts["mode"] if opts.get("unconfigured") else None)
    if mode != opts["mode"]:
        return
    if mode == "admin_only" or (mode == "api_key" and not facts.key_accepted):
        yield Hit("", params={"model": facts.model})


@route("admin-auth", options=options())
def admin_auth(facts: RouteFacts, opts: Mapping[str, Any]) -> Iterator[Hit]:
    """An admin path (an admin key is configured) without the admin key."""
    if facts.admin_path and not facts.admin:
        yield Hit("")


@route("disabled-redirect", options=options())
def disabled_redirect(facts: RouteFacts, opts: Mapping[str, Any]) -> Iterator[Hit]:
    """The gateway is in disabled mode and the path is not an admin path."""
    if facts.disabled and not facts.admin_path:
        yield Hit("")


@route("admission", options=options(required={"bytes_per_token": "integer"}))
def admission(facts: RouteFacts, opts: Mapping[str, Any]) -> Iterator[Hit]:
    """The limiter refuses the request: it is asked with the input-token estimate (body bytes /
    ``bytes_per_token``, rounded up, at least 1); its refusal code picks the message, params
    ``current`` and ``limit``."""
    if facts.admit is None:
        return
    refused = facts.admit(input_tokens(facts.body_size, opts))
    if refused is not None:
        code, current, limit = refused
        yield Hit("", code, {"current": current, "limit": limit})


def input_tokens(size: int, opts: Mapping[str, Any]) -> int:
    """``estimatePromptTokens``: body bytes / bytes_per_token, rounded up, at least 1."""
    return max(1, -(-size // int(opts["bytes_per_token"])))


# --- respond ------------------------------------------------------------------------------


def _kept(facts: ResponseFacts, opts: Mapping[str, Any]) -> bool:
    """The client asked to keep what the verb removes: ``true`` at one of ``unless_true``, or a
    positive integer at one of ``unless_positive`` (any other value asks for nothing)."""
    if any(facts.client(pointer) is True for pointer in opts.get("unless_true") or ()):
        return True
    return any(_positive(value) for value in map(facts.client, opts.get("unless_positive") or ()))


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@respond("set-id", options=options(required={"template": "string"}))
def set_id(facts: ResponseFacts, opts: Mapping[str, Any]) -> Edit:
    """The top-level ``id`` of every body and chunk becomes ``template`` filled with the
    response id's parts (e.g. ``{escrow}``, ``{inference}``); nested ids are untouched."""
    return Edit(set_id=render(str(opts["template"]), facts.id_parts))


@respond("strip-fields", options=options(required={"fields": "strings"}, optional=_UNLESS))
def strip_fields(facts: ResponseFacts, opts: Mapping[str, Any]) -> Edit:
    """``fields`` are removed at any depth, unless the client sent ``true`` at one of
    ``unless_true`` or a positive integer at one of ``unless_positive``."""
    return Edit() if _kept(facts, opts) else Edit(remove=frozenset(opts["fields"]))


@respond("strip-stream-fields", options=options(required={"fields": "strings"}, optional=_UNLESS))
def strip_stream_fields(facts: ResponseFacts, opts: Mapping[str, Any]) -> Edit:
    """Top-level ``fields`` are removed from streamed chunks unless the client asked to keep them
    (``unless_true``, ``unless_positive``, as for ``strip-fields``); a chunk left without choices
    is dropped."""
    return Edit() if _kept(facts, opts) else Edit(stream_remove=frozenset(opts["fields"]))


@respond("stream-end", options=options(required={"event": "string"}))
def stream_end(facts: ResponseFacts, opts: Mapping[str, Any]) -> Edit:
    """A successful stream ends with one more ``data:`` event carrying ``event`` (``[DONE]``)."""
    return Edit(stream_end=str(opts["event"]))
