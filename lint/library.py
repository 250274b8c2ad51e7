"""The library entry point: ``lint()`` one payload (re-exported by the package)."""

from __future__ import annotations

import json
from typing import Any, Mapping

from gonka_conformance.catalogue.loader import Catalogue, load_catalogue
from gonka_conformance.catalogue.choices import check_profile, check_revision
from gonka_conformance.common.errors import UsageError
from gonka_conformance.engine.types import Limits

from .findings import Finding, sort_key
from .inputs import InputError, Record
from .runner import Options, lint_record


class PayloadError(ValueError):
    """The payload is not a request body that can be linted (invalid JSON, not an object…)."""


def lint(
    payload: bytes | str | Mapping[str, Any],
    *,
    model: str | None = None,
    revision: str | None = None,
    profile: str | None = None,
    limits: Limits | None = None,
    admin: bool = False,
    catalogue: Catalogue | None = None,
) -> list[Finding]:
    """Every finding for one request body (bytes, text, or an already-decoded mapping).

    ``model`` is the routed model when the body names none; ``revision`` and ``profile`` pick
    the contract revision (default: the newest) and a broker overlay. Raises
    :class:`PayloadError` for input that is not a JSON object, and :class:`ValueError` for an
    unknown revision or profile.
    """
    if isinstance(payload, Mapping):
        try:
            raw = json.dumps(payload, ensure_ascii=False).encode("utf-8", errors="surrogatepass")
        except (TypeError, ValueError) as exc:
            raise PayloadError(f"payload is not JSON-serializable: {exc}") from None
    elif isinstance(payload, str):
        raw = payload.encode("utf-8", errors="surrogatepass")
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
    else:
        raise TypeError(f"payload must be bytes, str or a mapping, not {type(payload).__name__}")
    catalogue = catalogue or load_catalogue()
    check_target(catalogue, revision, profile)
    options = Options(catalogue, model=model, revision=revision, profile=profile, limits=limits, admin=admin)
    outcome = lint_record(Record("<payload>", None, raw), options)
    if outcome.error is not None:
        raise PayloadError(_describe(outcome.error))
    return sorted((_detach(finding) for finding in outcome.findings), key=sort_key)


def check_target(catalogue: Catalogue, revision: str | None, profile: str | None) -> None:
    """Raise ``ValueError`` (one line) for an unknown revision or broker profile."""
    try:
        check_revision(catalogue, revision)
        check_profile(catalogue, profile)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def _describe(error: InputError) -> str:
    if error.line is not None:
        return f"line {error.line}, column {error.column}: {error.message}"
    return error.message


def _detach(finding: Finding) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, file=None)
