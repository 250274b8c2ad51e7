"""Every number of the simulated model lives in simulation.yaml: the per-family styles and the
thinking lengths the answers show are the file's, and every catalogue family has a style."""

from __future__ import annotations

import json

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.pipeline import normalize
from gonka_conformance.gateway.instances import parameters
from gonka_conformance.gateway.simulate import STYLES, simulate


def _sim(model: str, body: dict, revision: str = "2026-09"):
    result = normalize(json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], **body}).encode(),
                       revision=revision)
    assert result.outcome == "accepted", result.message
    return simulate(result.body, model=result.model, family=result.family)


def test_every_family_has_a_style_from_the_yaml():
    styles = parameters()["styles"]
    assert {f.id for f in load_catalogue().families} | {"default"} == set(styles)
    assert STYLES["kimi"].thinking == styles["kimi"]["thinking"] and STYLES[None].thinking == styles["default"]["thinking"]


def test_thinking_lengths_are_the_yaml_numbers():
    thinking = parameters()["thinking"]
    glm = _sim("zai-org/GLM-5.3-Flash", {"max_tokens": 2000})
    assert glm.choices[0].reasoning_tokens == thinking["always"]
    effort = thinking["effort"]
    for level in ("low", "high"):
        deepseek = _sim("deepseek-ai/DeepSeek-V4-Flash-0731", {"max_tokens": 2000, "reasoning_effort": level})
        assert deepseek.choices[0].reasoning_tokens == effort["levels"][level]
    minimax = _sim("MiniMaxAI/MiniMax-M2.7", {"max_tokens": 2000})
    assert minimax.choices[0].reasoning_tokens == thinking["content_tags"]
