"""The vendored table cases of upstream's own Go unit tests (tests/data/upstream/*.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gonka_conformance.common.pointers import split_pointer, value_at

ROOT = Path(__file__).resolve().parent / "data" / "upstream"
#: Upstream's tests route "" to no model-specific handler at all: a family-less id does that here
#: (``normalize`` would otherwise pick the revision's default route).
NO_ROUTE = "upstream-test/no-model-route"


@dataclass(frozen=True)
class UpstreamCase:
    file: str
    path: str
    commit: str
    test: str
    revision: str
    payload: Any  # bytes (raw) or a JSON object
    routed_model: str
    admin: bool
    limits: dict[str, int] | None
    expect: dict[str, Any]
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.file}::{self.test}"


def load_cases() -> list[UpstreamCase]:
    cases = []
    for file in sorted(ROOT.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        source = data["source"]
        for case in data["cases"]:
            payload = case["raw"].encode() if "raw" in case else case["body"]
            cases.append(UpstreamCase(
                file.stem, source["path"], source["commit"], case["test"], case.get("revision", data["revision"]),
                payload, case["routed_model"] or NO_ROUTE, bool(case.get("admin")), case.get("limits"),
                case["expect"], case.get("skip"),
            ))
    return cases


_ABSENT = object()


def at(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 pointer, or ``_ABSENT``."""
    return value_at(document, split_pointer(pointer), _ABSENT)


def same(got: Any, want: Any) -> bool:
    """JSON equality as Go's EqualValues sees decoded JSON: numbers by value, booleans apart."""
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(got) == float(want)
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    return got == want


def is_absent(document: Any, pointer: str) -> bool:
    return at(document, pointer) is _ABSENT
