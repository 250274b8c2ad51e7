"""Per-request state the rule functions share (the JSON-pointer helpers are in common.pointers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from ..common.pointers import child, join_pointer, pointer_tokens, split_pointer, unescape  # noqa: F401  (the verbs import them from here)
from .types import Limits

if TYPE_CHECKING:
    from ..catalogue.loader import Catalogue
    from ..catalogue.model import Revision, Rule


@dataclass(slots=True)  # one per selected value of every rule step: slots make it cheaper to build
class Site:
    """One JSON value a rule target selected (``value`` is MISSING when absent)."""

    pointer: str
    parent: Any
    key: Any
    value: Any
    options: Mapping[str, Any]
    rule: "Rule"


def resolve(body: Any, path: str) -> Iterable[tuple[str, Any, Any, Any]]:
    """Yield ``(pointer, parent, key, value)`` for every value ``path`` selects.

    A ``*`` token matches every member of an object or element of an array. For a path with
    no wildcard whose last value is absent, nothing is yielded.
    """
    tokens = pointer_tokens(path)
    if "*" not in tokens:  # the common case, walked without recursion or generators
        return resolve_plain(body, tokens, path)
    return _walk(body, list(tokens), "", None, None)


@lru_cache(maxsize=4096)
def _canonical(path: str) -> str:
    return join_pointer(*pointer_tokens(path))


def resolve_plain(body: Any, tokens: tuple[str, ...], path: str) -> tuple[tuple[str, Any, Any, Any], ...]:
    """:func:`resolve` for a wildcard-free ``path`` already split into ``tokens``."""
    node, parent, key = body, None, None  # type: Any, Any, Any
    for head in tokens:
        if isinstance(node, dict) and head in node:
            parent, key, node = node, head, node[head]
        elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
            parent, key, node = node, int(head), node[int(head)]
        else:
            return ()
    return ((_canonical(path), parent, key, node),)


def _walk(node: Any, tokens: list[str], pointer: str, parent: Any, key: Any) -> Iterator[tuple[str, Any, Any, Any]]:
    if not tokens:
        yield pointer, parent, key, node
        return
    head, rest = tokens[0], tokens[1:]
    if head == "*":
        if isinstance(node, dict):
            for k in list(node):
                yield from _walk(node[k], rest, child(pointer, k), node, k)
        elif isinstance(node, list):
            for i in range(len(node)):
                yield from _walk(node[i], rest, child(pointer, i), node, i)
        return
    if isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest, child(pointer, head), node, head)
    elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
        yield from _walk(node[int(head)], rest, child(pointer, head), node, int(head))


def parent_of(body: Any, path: str) -> tuple[Any, Any]:
    """The container and key a (wildcard-free) path would live at, or ``(None, None)``."""
    tokens = split_pointer(path)
    if not tokens:
        return None, None
    node = body
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None, None
    last = tokens[-1]
    if isinstance(node, list):
        return (node, int(last)) if last.isdigit() else (None, None)
    return (node, last) if isinstance(node, dict) else (None, None)


@dataclass(slots=True)
class Context:
    """Everything a rule function may read or change while one request is normalized."""

    catalogue: "Catalogue"
    revision: "Revision"
    revision_index: int
    limits: Limits
    admin: bool
    routed_model: str
    collect: bool
    applicable: "Mapping[str, bool]"
    raw: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    family: str | None = None
    #: Original index of each current message, so pointers survive dropped messages.
    message_origin: list[int] | None = None
    #: Facts earlier stages record for later ones (raw temperature, client stream intent, …).
    state: dict[str, Any] = field(default_factory=dict)

    def applies(self, rule_id: str) -> bool:
        """Whether a rule (e.g. a delegate) is in force for this revision, family and profile."""
        return self.applicable.get(rule_id, False)

    def code_applies(self, site: "Site", code: str) -> bool:
        """Whether a change a transform is about to make under ``code`` is in force: a code
        delegated to another rule follows that rule's revision, family and profile."""
        delegate = (site.options.get("delegate") or {}).get(code)
        return delegate is None or self.applies(delegate)

    def at_least(self, revision_id: str) -> bool:
        return self.revision_index >= self.catalogue.revision_index(revision_id)

    def client_pointer(self, pointer: str) -> str:
        """Translate a pointer into the client's original body (messages may have been dropped,
        keys may have been lifted out of ``extra_body``)."""
        lifted = self.state.get("lifted")
        if lifted:
            head = pointer.split("/", 2)[1] if pointer.startswith("/") else ""
            if head in lifted:
                return "/extra_body" + pointer
        if self.message_origin is None or not pointer.startswith("/messages/"):
            return pointer
        tokens = split_pointer(pointer)
        if len(tokens) >= 2 and tokens[1].isdigit():
            index = int(tokens[1])
            if index < len(self.message_origin):
                tokens[1] = str(self.message_origin[index])
        return join_pointer(*tokens)
