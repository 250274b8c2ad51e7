"""Every vendored upstream unit-test case (tests/data/upstream) against the engine, in the
revision it pins; a case that cannot apply is skipped with the reason written beside it."""

from __future__ import annotations

import json

import pytest

from gonka_conformance.engine.pipeline import forwarded_bytes, normalize
from gonka_conformance.engine.types import Limits
from upstream_cases import UpstreamCase, at, is_absent, load_cases, same

CASES = load_cases()


def _param(case: UpstreamCase):
    marks = [pytest.mark.skip(reason=case.skip)] if case.skip else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_upstream_case(case: UpstreamCase) -> None:
    limits = Limits(**case.limits) if case.limits else None
    result = normalize(case.payload, model=case.routed_model, revision=case.revision, limits=limits, admin=case.admin)
    expect = case.expect
    where = f"{case.path} @{case.commit[:8]} {case.test}"
    if expect["outcome"] == "rejected":
        assert result.outcome == "rejected", f"{where}: accepted, expected a {expect['status']}"
        assert result.status == expect["status"], (where, result.message)
        for text in expect["contains"]:
            assert text in result.message, (where, result.message)
        return
    assert result.outcome == "accepted", f"{where}: rejected with {result.message!r}"
    raw = forwarded_bytes(result).decode("utf-8", errors="surrogatepass")
    body = json.loads(raw)
    for pointer, want in expect.get("fields", {}).items():
        assert same(at(body, pointer), want), (where, pointer, at(body, pointer), want)
    for pointer in expect.get("absent", []):
        assert is_absent(body, pointer), (where, pointer, "present")
    for text in expect.get("bytes_contain", []):
        assert text in raw, (where, text)
    for text in expect.get("bytes_lack", []):
        assert text not in raw, (where, text)


def test_every_file_names_its_upstream_source() -> None:
    assert CASES, "no vendored upstream cases"
    for case in CASES:
        assert len(case.commit) == 40 and case.path.endswith("_test.go") and case.test.startswith("Test"), case.id


def test_the_coverage_record_matches_the_vendored_data() -> None:
    """cases/coverage.yaml's upstream_tests (rendered into docs/coverage.md) counts this data."""
    from gonka_conformance.catalogue.coverage import load_upstream_tests
    from gonka_conformance.catalogue.loader import load_catalogue

    record = load_upstream_tests(load_catalogue())
    counted: dict[tuple[str, str], list[int]] = {}
    for case in CASES:
        entry = counted.setdefault((case.path, case.commit), [0, 0])
        entry[0] += 1
        entry[1] += bool(case.skip)
    assert {(f["path"], f["commit"]): [f["cases"], f["skipped"]] for f in record["files"]} == counted
    assert sorted((s["file"], s["test"], s["reason"]) for s in record["skipped"]) == \
        sorted((c.path.rsplit("/", 1)[1], c.test, c.skip) for c in CASES if c.skip)
