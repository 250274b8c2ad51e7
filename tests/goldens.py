"""Access to the upstream golden corpus (the May-2026 revision)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A verbatim copy of ../shared/goldens (see its README for provenance), so a fresh clone
# can run the suite; test_goldens checks the copy against ../shared when that exists.
ROOT = Path(__file__).resolve().parent / "data" / "goldens"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "goldens"


@dataclass(frozen=True)
class Golden:
    name: str
    body: bytes
    routed_model: str
    admin: bool
    default_max_tokens: int
    max_tokens_cap: int
    status: str  # "ok" | "rejected"
    forwarded: bytes | None
    http_status: int | None
    message: str | None

    def forwarded_json(self) -> Any:
        return json.loads(self.forwarded) if self.forwarded is not None else None


def load_goldens() -> list[Golden]:
    index = json.loads((ROOT / "index.json").read_text())
    goldens = []
    for entry in index:
        case = json.loads((ROOT / entry["input"]).read_text())
        expected = json.loads((ROOT / entry["expected"]).read_text())
        goldens.append(Golden(
            name=entry["name"],
            body=json.dumps(case["body"], ensure_ascii=False).encode(),
            routed_model=case["routed_model"], admin=case["admin"],
            default_max_tokens=case["default_max_tokens"], max_tokens_cap=case["max_tokens_cap"],
            status=expected["status"],
            forwarded=base64.b64decode(expected["body_base64"]) if expected["status"] == "ok" else None,
            http_status=expected.get("http_status"), message=expected.get("message"),
        ))
    return goldens
