"""Every golden recorded from the upstream pipeline (2026-05) is reproduced exactly:
the forwarded bytes for accepted requests, status and message for rejected ones."""

from __future__ import annotations

import pytest

from goldens import ROOT, SHARED, load_goldens
from gonka_conformance.engine.pipeline import forwarded_bytes, normalize
from gonka_conformance.engine.types import Limits

GOLDENS = load_goldens()


def test_corpus_is_complete() -> None:
    # The shared corpus holds 118 paired cases; a shrinking corpus must not pass silently.
    assert len(GOLDENS) == 118


def test_vendored_copy_matches_shared_goldens() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/goldens is not beside this checkout (the vendored copy is used)")
    for path in sorted(SHARED.rglob("*")):
        if path.is_file():
            copy = ROOT / path.relative_to(SHARED)
            assert copy.read_bytes() == path.read_bytes(), f"{copy} differs from {path}"


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_golden(golden) -> None:
    result = normalize(
        golden.body, model=golden.routed_model, revision="2026-05",
        limits=Limits(golden.default_max_tokens, golden.max_tokens_cap), admin=golden.admin,
    )
    if golden.status == "ok":
        assert result.outcome == "accepted", f"rejected: {getattr(result, 'message', '')}"
        assert forwarded_bytes(result).decode() == golden.forwarded.decode()
    else:
        assert result.outcome == "rejected", f"accepted: {forwarded_bytes(result)[:200]!r}"
        assert (result.status, result.message) == (golden.http_status, golden.message)
