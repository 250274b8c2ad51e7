"""Every number of the simulated model lives in simulation.yaml: the per-family styles and the
thinking lengths the answers show are the file's, and every catalogue family has a style. The
vocabulary it reads instructions with (number words, the length, long-form, tool and quote
patterns) and the word lists it writes from are the file's too: simulate.py holds none of them."""

from __future__ import annotations

import ast
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.pipeline import normalize
from gonka_conformance.gateway import simulate as simulate_module
from gonka_conformance.gateway.instances import parameters
from gonka_conformance.gateway.simulate import STYLES, answer_length, simulate, vocabulary
from models import KIMI


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


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]


def _first(prompt: str, **body):
    sim = _sim(KIMI, {"messages": [{"role": "user", "content": prompt}], "max_tokens": 2000,
                      "thinking_token_budget": 0, **body})
    return sim.choices[0]


def test_the_instruction_vocabulary_is_the_yaml_one():
    p = parameters()
    assert {"single_word", "number_words", "explicit_length", "long_form", "asks_for_tool", "quoted"} <= set(p["instructions"])
    assert simulate_module.VOCABULARY == vocabulary(p["instructions"])
    assert simulate_module._ANSWER_WORDS == p["corpus"]["word_lists"]["answer"].split()
    assert simulate_module._THINK_WORDS == p["corpus"]["word_lists"]["think"].split()
    assert answer_length("in fifty words") == ("words", p["instructions"]["number_words"]["fifty"])
    assert answer_length("a hundred tokens") == ("tokens", p["instructions"]["number_words"]["a hundred"])


def test_an_edited_copy_of_the_yaml_changes_what_the_model_understands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """One entry changed in a temporary copy of simulation.yaml, compiled as the module compiles
    the shipped file, changes the answers: the vocabulary is data, not code."""
    shipped = resources.files("gonka_conformance.gateway").joinpath("simulation.yaml").read_text(encoding="utf-8")
    copy = tmp_path / "simulation.yaml"
    edited = (shipped.replace("    twenty: 20\n", "    twenty: 20\n    seventeen: 17\n", 1)
              .replace("(essay|", "(sonnet|essay|", 1)
              .replace("(tools?|functions?|call|invoke)", "(tools?|functions?|call|invoke|ring)", 1))
    assert edited.count("seventeen") == 1 and edited.count("sonnet|") == 1 and edited.count("|ring)") == 1
    copy.write_text(edited, encoding="utf-8")
    short, long_form = parameters()["answer"]["short_answer_words"], parameters()["answer"]["long_form_words"]

    # the shipped vocabulary: no such number word, no such long form, no such tool request
    assert answer_length("answer in seventeen words") == ("words", short)
    assert answer_length("write a sonnet") == ("words", short)
    assert _first("ring the office", tools=TOOLS).tool_calls == []

    monkeypatch.setattr(simulate_module, "VOCABULARY", vocabulary(yaml.safe_load(copy.read_text(encoding="utf-8"))["instructions"]))
    assert answer_length("answer in seventeen words") == ("words", 17)
    assert answer_length("write a sonnet") == ("words", long_form)
    assert [call.name for call in _first("ring the office", tools=TOOLS).tool_calls] == ["lookup"]


def test_simulate_py_holds_no_vocabulary():
    """No word list, number-word table or instruction pattern is written in simulate.py: the only
    literal pattern is how JSON text is cut into tokens (_JSON_PIECES), not vocabulary."""
    tree = ast.parse(Path(simulate_module.__file__).read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    keys = {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}
    pattern_literals = {part.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                        and ast.unparse(node.func) == "re.compile" and node.args
                        for part in ast.walk(node.args[0])
                        if isinstance(part, ast.Constant) and isinstance(part.value, str) and id(part) not in keys}
    assert pattern_literals == {r"[A-Za-z]+|\d+|\s+|.", "{number_words}"}  # _JSON_PIECES; explicit_length's placeholder
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            assert len(node.value.split()) <= 1, f"line {node.lineno}: {node.value!r}"  # no phrase, no word list
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            assert sum(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts) <= 8, f"line {node.lineno}"
        if isinstance(node, ast.Dict):
            assert sum(isinstance(v, ast.Constant) and isinstance(v.value, int) for v in node.values) <= 2, f"line {node.lineno}"
