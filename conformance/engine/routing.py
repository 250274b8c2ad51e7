"""Model routing as the gateway sees it: which ids a revision serves (in a broker's spelling)
and the 400 for any other id (the rule using the ``served-model`` route verb).

``normalize`` does not run route-stage rules (the reference gateway routes against its own
configured models); the linter asks here so it can report the 400 a payload would get.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from ..goemu.json import go_trim_space
from .lookup import verb_rules
from .messages import render
from .types import Rejection

if TYPE_CHECKING:
    from ..catalogue.loader import Catalogue

#: The route verb that validates the model (its rule's message lists the served ids).
SERVED_MODEL_VERB = ("route", "served-model")


#: Model ids longer than this are answered without being remembered: the caches below keep
#: their keys, and a log of distinct megabyte-long ids would otherwise stay in memory.
_REMEMBERED_ID = 256


def _long(model: object) -> bool:
    return isinstance(model, str) and len(model) > _REMEMBERED_ID


def family_of(catalogue: "Catalogue", model: str) -> str | None:
    """The model family a (possibly broker-prefixed, any-case) model id belongs to (cached:
    every request asks, mostly about the same few ids)."""
    return (_family_of if _long(model) else _remembered_family)(catalogue, model)


def _family_of(catalogue: "Catalogue", model: str) -> str | None:
    for family in catalogue.families:
        if re.search(family.pattern, model, re.IGNORECASE):
            return family.id
    return None


_remembered_family = lru_cache(maxsize=1024)(_family_of)


def served_models(catalogue: "Catalogue", revision: str | None, profile: str | None = None) -> tuple[str, ...]:
    """The revision's routes, each in the broker's spelling where its profile documents one."""
    routes = catalogue.revision(revision).routes
    if not profile:
        return routes
    spellings = catalogue.broker(profile).model_ids
    return tuple(spellings.get(family_of(catalogue, route) or "", route) for route in routes)


@lru_cache(maxsize=256)
def expected_spelling(catalogue: "Catalogue", revision: str | None, profile: str | None, family: str | None) -> str | None:
    """The served id of this family in this revision and profile (None when it is not served)."""
    if family is None:
        return None
    for served in served_models(catalogue, revision, profile):
        if family_of(catalogue, served) == family:
            return served
    return None


def is_served(catalogue: "Catalogue", model: str, revision: str | None, profile: str | None = None) -> bool:
    served = served_models(catalogue, revision, profile)
    model = go_trim_space(model)
    if profile and not catalogue.broker(profile).case_sensitive_models:
        return model.lower() in {s.lower() for s in served}
    return model in served


def unsupported_model(
    catalogue: "Catalogue", model: str, revision: str | None, profile: str | None = None, pointer: str = "/model",
) -> Rejection | None:
    """The gateway's 400 for a model id it does not serve, or None when it serves it (cached:
    the linter asks for every request, mostly about the same few ids)."""
    answer = _unsupported_model if _long(model) else _remembered_unsupported
    return answer(catalogue, model, revision, profile, pointer)


def _unsupported_model(catalogue: "Catalogue", model: str, revision: str | None, profile: str | None,
                       pointer: str) -> Rejection | None:
    if is_served(catalogue, model, revision, profile):
        return None
    (rule, *_) = verb_rules(catalogue, *SERVED_MODEL_VERB)
    template = rule.messages.get("default") or next(iter(rule.messages.values()))
    message = render(template, {"model": go_trim_space(model), "models": ", ".join(served_models(catalogue, revision, profile))})
    return Rejection(rule.id, rule.status or 400, message, pointer)


_remembered_unsupported = lru_cache(maxsize=1024)(_unsupported_model)
