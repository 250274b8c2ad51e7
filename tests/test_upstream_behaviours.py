"""Behaviours pinned by upstream's own unit tests (issue 10), per rule and per revision."""

from __future__ import annotations

import json

import pytest

from gonka_conformance.engine.pipeline import forwarded_bytes, normalize

KIMI, QWEN, MINIMAX = "moonshotai/Kimi-K2.6", "Qwen/Qwen3-235B-A22B-Instruct-2507-FP8", "MiniMaxAI/MiniMax-M2.7"
OLD, NEW = "2026-05", "2026-09"
HI = [{"role": "user", "content": "hi"}]
BOTH = pytest.mark.parametrize("revision", [OLD, NEW])


def forwarded(body: dict, model: str = QWEN, revision: str = NEW) -> dict:
    result = normalize({"messages": HI, **body}, model=model, revision=revision)
    assert result.outcome == "accepted", result.message
    return json.loads(forwarded_bytes(result))


def refused(body: dict, model: str = QWEN, revision: str = NEW):
    result = normalize({"messages": HI, **body}, model=model, revision=revision)
    assert result.outcome == "rejected", f"accepted: {result.body}"
    return result


# --- 3 and 8: string lists emptied by sanitising; Go's white space ---------------------------


@BOTH
@pytest.mark.parametrize("words", [[], [""], ["", "\t", "\n"], ["\u3000", "\u00a0"], ["\u000b", "\u000c"]])
def test_emptied_bad_words_is_dropped(revision: str, words: list) -> None:
    assert "bad_words" not in forwarded({"bad_words": words}, revision=revision)


@BOTH
@pytest.mark.parametrize("kept", ["\u001c", "\u001d", "\u001e", "\u001f", "\u200b", "\ufeff", "\u0000"])
def test_go_keeps_what_python_would_strip(revision: str, kept: str) -> None:
    # str.strip() removes U+001C-U+001F; strings.TrimSpace does not.
    assert forwarded({"bad_words": [kept, " "]}, revision=revision)["bad_words"] == [kept]
