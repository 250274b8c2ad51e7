"""Names a user picks from the catalogue (revision, broker profile): an unknown one is a usage error."""

from __future__ import annotations

from typing import Any, Callable

from ..common.errors import UsageError
from .loader import Catalogue


def check_revision(catalogue: Catalogue, revision: str | None) -> None:
    if revision is not None:
        _known(catalogue.revision, revision)


def check_profile(catalogue: Catalogue, profile: str | None) -> None:
    if profile is not None:
        _known(catalogue.broker, profile)


def _known(lookup: Callable[[str], Any], name: str) -> None:
    try:
        lookup(name)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
