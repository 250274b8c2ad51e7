"""Schema-bounded parameters: tools, tool_choice, response_format, structured_outputs, metadata,
chat_template_kwargs (cases/rules/30-schemas.yaml; contract.md §2.3-§2.6, row 39)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldens import ROOT, load_goldens
from gonka_conformance.goemu import json as gojson
from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.check_schemas import Bounds, go_regexp_error, marshaled_size, walk_schema
from gonka_conformance.engine.transform_schemas import Vocabulary
from gonka_conformance.engine.pipeline import analyse, normalize, rule_applies
from gonka_conformance.engine.types import Accepted, Rejected
from models import KIMI, MINIMAX, NEW, OLD, QWEN


BOTH = pytest.mark.parametrize("revision", [OLD, NEW])
MY_FIELDS = ("tools", "tool_choice", "response_format", "structured_outputs", "metadata", "chat_template_kwargs")
MY_FILES = ("30-schemas.yaml",)


def body(**fields: Any) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def run(revision: str = OLD, model: str = MINIMAX, **fields: Any) -> Accepted | Rejected:
    # MiniMax is routed in both revisions and has no route-specific rules on these fields (2026-09).
    return normalize(body(**fields), model=model, revision=revision)


def rejected(result: Accepted | Rejected, message: str, rule: str | None = None) -> None:
    assert isinstance(result, Rejected), f"accepted, expected {message!r}"
    assert (result.status, result.message) == (400, message)
    if rule is not None:
        assert result.rule == rule


def accepted(result: Accepted | Rejected) -> dict[str, Any]:
    assert isinstance(result, Accepted), f"rejected: {result.message} ({result.rule})"
    return json.loads(gojson.dumps(result.body))


def rules_of(result: Accepted | Rejected) -> list[str]:
    return [e.rule for e in result.events]


def tool(parameters: Any = None, name: Any = "f", **function: Any) -> dict[str, Any]:
    fn = {"name": name, **function}
    if parameters is not None:
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


def nest(depth: int, key: str = "items", leaf: Any = None) -> dict[str, Any]:
    """A schema of ``depth`` nested objects (the root is depth 1)."""
    node: dict[str, Any] = leaf if leaf is not None else {"type": "string"}
    for _ in range(depth - 1):
        node = {key: node}
    return node


def props(count: int) -> dict[str, Any]:
    return {"type": "object", "properties": {f"k{i}": {} for i in range(count)}}


# --- the legacy goldens (2026-05) --------------------------------------------------------------

GOLDENS = [g for g in load_goldens() if g.name.startswith(("schema_", "arrays_metadata_"))]


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda g: g.name)
def test_golden(golden) -> None:
    result = normalize(golden.body, model=golden.routed_model, revision=OLD)
    if golden.status == "rejected":
        rejected(result, golden.message)
        return
    expected = golden.forwarded_json()
    got = accepted(result)
    for name in MY_FIELDS:
        assert got.get(name) == expected.get(name), name


def test_goldens_cover_every_schema_case() -> None:
    assert len(GOLDENS) == 28


def test_unpaired_kimi_structured_outputs_message() -> None:
    expected = json.loads((ROOT / "unpaired/goldens/profile_kimi_structured_outputs_rejected.json").read_text())
    for revision in (OLD, NEW):
        result = run(revision, KIMI, structured_outputs={"json_object": True})
        rejected(result, expected["message"], "reject-structured_outputs-kimi")


@BOTH
def test_unpaired_tool_choice_required_coerced(revision: str) -> None:
    case = json.loads((ROOT / "unpaired/corpus/schema_tools_tool_choice_required_coerced_to_auto.json").read_text())
    result = normalize(json.dumps(case["body"]), model=case["routed_model"], revision=revision)
    got = accepted(result)
    assert got["tool_choice"] == "auto"
    assert got["tools"] == case["body"]["tools"]
    assert "coerce-tool-choice-required" in rules_of(result)


# --- catalogue ----------------------------------------------------------------------------------

def _my_rules():
    return [r for r in load_catalogue().rules if r.source_file.endswith(MY_FILES)]


def test_required_rule_ids_present() -> None:
    ids = {r.id: r for r in _my_rules()}
    for rule_id in (
        "coerce-tool-choice-required", "reject-structured_outputs-with-response_format", "reject-structured_outputs-kimi",
        "accept-structured_outputs-minimax", "reject-structured_outputs-minimax", "reject-whitespace-names",
        "schema-tools", "schema-depth-tools", "schema-nodes-tools", "strip-tools-strict", "strip-empty-tools",
        "default-tool-choice-auto", "schema-tool-choice", "schema-response-format", "schema-depth-response-format",
        "schema-nodes-response-format", "reject-schema-ref", "inline-schema-ref", "schema-structured-outputs",
        "limit-metadata", "schema-chat-template-kwargs", "reject-chat-template-kwargs-forbidden-key",
    ):
        assert rule_id in ids, rule_id
    assert ids["accept-structured_outputs-minimax"].kind == "accept"
    assert ids["accept-structured_outputs-minimax"].revisions.start == NEW  # 2026-05: the disputed rule's default side
    assert ids["reject-structured_outputs-minimax"].revisions.until == OLD
    assert ids["reject-whitespace-names"].revisions.start == NEW
    assert ids["inline-schema-ref"].kind == "translate"
    assert ids["coerce-tool-choice-required"].anchor.endswith("troubleshooting.md#coerce-tool-choice-required")
    assert "minimax-m2.7.md" in ids["reject-structured_outputs-minimax"].anchor


def test_duplicated_yaml_data_stays_in_sync() -> None:
    """YAML anchors share the schema vocabulary and the blank-name messages (written once)."""
    by_id = load_catalogue().by_id
    vocab = [by_id[r].targets[-1].options["schema"] for r in ("schema-tools", "schema-response-format", "schema-structured-outputs")]
    assert vocab[0] == vocab[1] == vocab[2]
    blank = by_id["reject-whitespace-names"].messages
    assert blank["blank-tool-name"] == by_id["schema-tools"].messages["name"]
    assert blank["blank-tool-choice-name"] == by_id["schema-tool-choice"].messages["name"]
    assert blank["blank-schema-name"] == by_id["schema-response-format"].messages["name"]


def _model_for(example: dict[str, Any], rule, revision) -> str | None:
    cat = load_catalogue()
    families = example.get("families") or rule.families
    if not families:
        return revision.default_model
    for family in families:
        for fam in cat.families:
            if fam.id == family:
                for model in fam.models:
                    if model in revision.routes:
                        return model
    return None


def _live_cases():
    """Only the (example, revision) pairs where the rule is in force: nothing to skip."""
    from gonka_conformance.engine.pipeline import family_of

    cat = load_catalogue()
    for rule in _my_rules():
        for example in rule.live:
            for revision in cat.revisions:
                model = _model_for(example, rule, revision)
                if model is not None and rule_applies(cat, rule, revision.id, family_of(cat, model)):
                    yield pytest.param(rule, example, revision, id=f"{rule.id}:{example['name']}:{revision.id}")


@pytest.mark.parametrize("rule, example, revision", list(_live_cases()))
def test_live_examples_agree_with_engine(rule, example, revision) -> None:
    """Each live example is what the engine says in every revision where its rule applies."""
    model = _model_for(example, rule, revision)
    request = {"model": model, "messages": [{"role": "user", "content": "hi"}], **example["request"]}
    result = normalize(json.dumps(request), model=model, revision=revision.id)
    expect = example["expect"]
    if expect.get("status") == 400:
        assert isinstance(result, Rejected), result
        assert result.rule == rule.id
    else:
        assert isinstance(result, Accepted), f"{result.message} ({result.rule})"
        if expect.get("forwarded") and rule.kind not in ("reject", "accept"):
            assert rule.id in rules_of(result)  # the silent change is visible in the events


# --- tools ------------------------------------------------------------------------------------

@BOTH
def test_tools_shape_errors(revision: str) -> None:
    rejected(run(revision, tools={"type": "function"}), "tools: invalid array shape: must be an array", "schema-tools")
    rejected(run(revision, tools=None), "tools: invalid array shape: must be an array")
    rejected(run(revision, tools=[tool(), "x"]), "tools[i]: invalid tool shape: tools[1] must be an object")
    rejected(run(revision, tools=[{"type": "fn", "function": {"name": "f"}}]), 'tools[i].type: must be "function" (tools[0])')
    rejected(run(revision, tools=[{"function": {"name": "f"}}]), 'tools[i].type: must be "function" (tools[0])')
    rejected(run(revision, tools=[{"type": "function", "function": "f"}]),
             "tools[i].function: invalid wrapper shape: tools[0].function must be an object")
    rejected(run(revision, tools=[tool(name="")]), "tools[i].function.name: must be a non-empty string (tools[0])")
    rejected(run(revision, tools=[tool(name=7)]), "tools[i].function.name: must be a non-empty string (tools[0])")


@BOTH
def test_tools_without_parameters_and_non_object_parameters_pass(revision: str) -> None:
    got = accepted(run(revision, tools=[tool(), {"type": "function", "function": {"name": "g", "parameters": "x"}}]))
    assert got["tools"][1]["function"]["parameters"] == "x"
    assert got["tool_choice"] == "auto"


@BOTH
def test_empty_tools_drop_tools_and_any_tool_choice(revision: str) -> None:
    result = run(revision, tools=[], tool_choice={"bogus": True})
    got = accepted(result)
    assert "tools" not in got and "tool_choice" not in got
    assert rules_of(result).count("strip-empty-tools") == 2
    got = accepted(run(revision, tools=[], tool_choice="required"))
    assert "tool_choice" not in got


@BOTH
def test_strict_stripped_on_every_tool(revision: str) -> None:
    result = run(revision, tools=[tool({"type": "object"}, strict=True), tool(name="g", strict=False)])
    got = accepted(result)
    assert all("strict" not in t["function"] for t in got["tools"])
    assert rules_of(result).count("strip-tools-strict") == 2


@BOTH
def test_tools_depth_boundary(revision: str) -> None:
    assert accepted(run(revision, tools=[tool(nest(16))]))
    rejected(run(revision, tools=[tool(nest(17))]), "tools[0].function.parameters: nesting depth exceeded: limit 16", "schema-depth-tools")


def test_properties_wrapper_is_not_a_level() -> None:
    # The raw pre-scan (depth 32) stops deep bodies before the walker, so test the walker directly too.
    vocab = Vocabulary.from_options(load_catalogue().by_id["schema-response-format"].targets[0].options["schema"])
    bounds = Bounds(max_depth=16, max_nodes=128, max_size=16384, max_branch=16, max_enum=256, max_pattern_len=512)
    for key in ("properties", "patternProperties", "dependentSchemas"):
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(15):
            schema = {"type": "object", key: {"a": schema}}
        assert walk_schema(schema, bounds, vocab) is None
        problem = walk_schema({key: {"a": schema}}, bounds, vocab)
        assert problem is not None and problem.code == "depth"
        assert problem.path == (key, "a") * 16


@BOTH
def test_properties_wrapper_is_not_a_level_in_the_pipeline(revision: str) -> None:
    # 9 levels through properties maps + 7 through items = 16 (25 if the wrappers counted).
    def schema(items_depth: int) -> dict[str, Any]:
        node = nest(items_depth)
        for _ in range(9):
            node = {"type": "object", "properties": {"a": node}}
        return node

    assert accepted(run(revision, tools=[tool(schema(7))]))
    rejected(run(revision, tools=[tool(schema(8))]), "tools[0].function.parameters: nesting depth exceeded: limit 16")


@BOTH
def test_array_elements_add_a_level_and_scalars_are_depth_checked(revision: str) -> None:
    assert accepted(run(revision, tools=[tool(nest(15, leaf={"anyOf": [{"type": "string"}]}))]))
    rejected(run(revision, tools=[tool(nest(16, leaf={"anyOf": [{"type": "string"}]}))]),
             "tools[0].function.parameters: nesting depth exceeded: limit 16")
    # A scalar array element at depth 17 fails too (Go depth-checks every walked value).
    rejected(run(revision, tools=[tool(nest(16, leaf={"type": ["string", "null"]}))]),
             "tools[0].function.parameters: nesting depth exceeded: limit 16")


@BOTH
def test_data_keywords_are_not_walked(revision: str) -> None:
    deep = nest(20, key="x", leaf={"$ref": "#/nowhere", "type": "bogus"})
    schema = {"type": "object", "default": deep, "examples": [deep], "const": deep, "enum": [deep],
              "required": ["a"], "dependentRequired": {"a": ["b"]}}
    assert accepted(run(revision, tools=[tool(schema)]))


@BOTH
def test_tools_nodes_boundary(revision: str) -> None:
    assert accepted(run(revision, tools=[tool(props(255))]))
    rejected(run(revision, tools=[tool(props(256))]), "tools[0].function.parameters: node count exceeded: limit 256", "schema-nodes-tools")


@BOTH
def test_tools_size_boundary(revision: str) -> None:
    base = {"type": "object", "description": ""}
    pad = 16384 - marshaled_size(base)
    at_limit = {"type": "object", "description": "a" * pad}
    assert marshaled_size(at_limit) == 16384 == len(gojson.dumps(at_limit))
    assert accepted(run(revision, tools=[tool(at_limit)]))
    over = {"type": "object", "description": "a" * (pad + 1)}
    rejected(run(revision, tools=[tool(over)]), "tools[0].function.parameters: serialized size exceeded: limit 16384 bytes", "schema-tools")


def test_size_counts_go_escapes() -> None:
    value = {"k": "<&>\u2028é\n", "n": gojson.decode_object(b'{"x":1.50}')["x"], "b": [True, None, 0]}
    assert marshaled_size(value) == len(gojson.dumps(value).encode())
    assert marshaled_size({"k": "x" * 100}, limit=10) > 10


@BOTH
def test_second_tool_is_checked_and_index_reported(revision: str) -> None:
    rejected(run(revision, tools=[tool(), tool(nest(17), name="g")]), "tools[1].function.parameters: nesting depth exceeded: limit 16")


@BOTH
def test_schema_keywords(revision: str) -> None:
    prefix = "tools[0].function.parameters: "
    cases = [
        ({"anyOf": [{}] * 16}, None),
        ({"anyOf": [{}] * 17}, "schema branch arms exceeded: anyOf limit 16"),
        ({"oneOf": [{}] * 17}, "schema branch arms exceeded: oneOf limit 16"),
        ({"allOf": [{}] * 17}, "schema branch arms exceeded: allOf limit 16"),
        ({"enum": list(range(256))}, None),
        ({"enum": list(range(257))}, "enum size exceeded: limit 256"),
        ({"type": "something"}, 'schema type is not a valid JSON-Schema primitive: "something"'),
        ({"type": ["string", "date"]}, 'schema type is not a valid JSON-Schema primitive: "date"'),
        ({"type": ["string", 1]}, "schema type is not a valid JSON-Schema primitive: array elements must be strings"),
        ({"type": None}, "schema type is not a valid JSON-Schema primitive: must be a string or array of strings"),
        ({"type": ["null", "integer", "number", "boolean", "array", "object", "string"]}, None),
        ({"pattern": "a" * 512}, None),
        ({"pattern": "a" * 513}, "schema pattern is not a valid regular expression: length 513 exceeds limit 512"),
        ({"pattern": 5}, "schema pattern is not a valid regular expression: must be a string"),
        ({"pattern": "(?=x)"}, "schema pattern is not a valid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        ({"properties": {"a": {"pattern": "[z-a]"}}}, "schema pattern is not a valid regular expression: error parsing regexp: invalid character class range: `z-a`"),
    ]
    for schema, message in cases:
        result = run(revision, tools=[tool(schema)])
        if message is None:
            assert accepted(result), schema
        else:
            rejected(result, prefix + message, "schema-keywords")


@BOTH
def test_walker_checks_in_upstream_order(revision: str) -> None:
    # Per node: nodes, forbidden keywords, enum, type, pattern, branches; then children.
    schema = {"type": "x", "pattern": "(", "anyOf": [{}] * 17, "enum": list(range(300))}
    rejected(run(revision, tools=[tool(schema)]), "tools[0].function.parameters: enum size exceeded: limit 256")
    rejected(run(revision, tools=[tool({"type": "x", "pattern": "("})]),
             'tools[0].function.parameters: schema type is not a valid JSON-Schema primitive: "x"')


# --- $ref ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("keyword", ["$ref", "$defs", "definitions"])
def test_ref_keywords_forbidden_in_2026_05(keyword: str) -> None:
    schema = {"type": "object", keyword: "#/x" if keyword == "$ref" else {"x": {}}}
    message = f'tools[0].function.parameters: schema reference keyword is forbidden: "{keyword}" is not allowed'
    rejected(run(OLD, tools=[tool(schema)]), message, "reject-schema-ref")
    rejected(run(OLD, response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}),
             message.replace("tools[0].function.parameters", "response_format.json_schema.schema"))


def test_local_refs_inlined_in_2026_09() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/A", "description": "sibling ignored"},
            "b": {"$ref": "#/definitions/B"},
            "c": {"type": "array", "items": {"$ref": "#/$defs/A/properties/x"}},
            "d": {"$ref": "#/$defs/we~1ird%20name"},
        },
        "$defs": {"A": {"type": "object", "description": "A", "properties": {"x": {"type": "integer"}}},
                  "we/ird name": {"type": "boolean"}},
        "definitions": {"B": {"$ref": "#/$defs/A"}},
    }
    result = run(NEW, tools=[tool(schema)])
    got = accepted(result)
    a = {"type": "object", "description": "A", "properties": {"x": {"type": "integer"}}}
    assert got["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "a": a,  # keywords beside $ref are ignored (schema_refs.go f2e93446)
            "b": a,
            "c": {"type": "array", "items": {"type": "integer"}},
            "d": {"type": "boolean"},
        },
    }
    assert "inline-schema-ref" in rules_of(result)
    rf = accepted(run(NEW, response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}))
    assert rf["response_format"]["json_schema"]["schema"] == got["tools"][0]["function"]["parameters"]


def test_definition_containers_removed_without_refs_in_2026_09() -> None:
    got = accepted(run(NEW, tools=[tool({"type": "object", "$defs": {"unused": {}}, "properties": {"$defs": {"type": "string"}}})]))
    assert got["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {"$defs": {"type": "string"}}}


@pytest.mark.parametrize("schema, suffix", [
    ({"properties": {"a": {"$ref": "#"}}}, 'recursive reference "#"'),
    ({"properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"items": {"$ref": "#/$defs/A"}}}}, 'recursive reference "#/$defs/A"'),
    ({"properties": {"a": {"$ref": "#/$defs/B"}}}, 'unresolved reference "#/$defs/B"'),
    ({"properties": {"a": {"$ref": "#/properties/a/items/9"}}}, 'unresolved reference "#/properties/a/items/9"'),
    ({"properties": {"a": {"$ref": "other.json#/x"}}}, 'only local JSON Pointer references are supported: "other.json#/x"'),
    ({"properties": {"a": {"$ref": "#/%zz"}}}, 'invalid reference "#/%zz": invalid URL escape "%zz"'),
    ({"properties": {"a": {"$ref": 5}}}, "$ref must be a non-empty string"),
    ({"properties": {"a": {"$ref": "#/$defs/S"}}, "$defs": {"S": "justastring"}}, "reference target must resolve to an object or boolean schema"),
    ({"properties": {"a": {"$ref": "#/$defs/L"}}, "$defs": {"L": [{"type": "string"}]}}, "reference target must resolve to an object or boolean schema"),
    ({"$ref": "#/$defs/T", "$defs": {"T": True}}, "root reference must resolve to an object"),
])
def test_refs_that_cannot_be_inlined(schema: dict[str, Any], suffix: str) -> None:
    message = "tools[0].function.parameters: schema reference keyword is forbidden: " + suffix
    rejected(run(NEW, tools=[tool(schema)]), message, "reject-schema-ref")


def test_inlined_nodes_count_against_the_limit() -> None:
    # 4 refs to a 40-node definition: 161 nodes once inlined (limit 128 for response_format).
    defn = props(39)
    schema = {"type": "object", "properties": {f"p{i}": {"$ref": "#/$defs/D"} for i in range(4)}, "$defs": {"D": defn}}
    rf = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    rejected(run(NEW, response_format=rf), "response_format.json_schema.schema: node count exceeded: limit 128", "schema-nodes-response-format")
    schema3 = {**schema, "properties": {f"p{i}": {"$ref": "#/$defs/D"} for i in range(3)}}
    assert accepted(run(NEW, response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema3}}))


def test_long_ref_chain_does_not_recurse() -> None:
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(3000)}
    defs["d3000"] = {"type": "string"}
    got = accepted(run(NEW, tools=[tool({"type": "object", "properties": {"a": {"$ref": "#/$defs/d0"}}, "$defs": defs})]))
    assert got["tools"][0]["function"]["parameters"]["properties"]["a"] == {"type": "string"}


@pytest.mark.parametrize("wrap", [lambda ref: {"properties": {"x": ref}}, lambda ref: {"items": [[[ref]]]}])
def test_deep_expansion_hits_the_node_cap_without_recursing(wrap) -> None:
    # 400 definitions each nesting the next one level deeper: inlining them nests 400 levels.
    defs = {f"A{i}": wrap({"$ref": f"#/$defs/A{i + 1}"}) for i in range(400)}
    defs["A400"] = {"type": "string"}
    schema = {"properties": {"a": {"$ref": "#/$defs/A0"}}, "$defs": defs}
    rejected(run(NEW, tools=[tool(schema)]), "tools[0].function.parameters: node count exceeded: limit 256", "schema-nodes-tools")
    analysis = analyse(body(tools=[tool(schema)]), model=MINIMAX, revision=NEW)
    assert "$defs" in analysis.body["tools"][0]["function"]["parameters"]  # the rejected copy is not kept


def test_deep_but_small_expansion_fails_on_depth() -> None:
    defs = {f"A{i}": {"properties": {"x": {"$ref": f"#/$defs/A{i + 1}"}}} for i in range(40)}
    defs["A40"] = {"type": "string"}
    schema = {"properties": {"a": {"$ref": "#/$defs/A0"}}, "$defs": defs}
    rejected(run(NEW, tools=[tool(schema)]), "tools[0].function.parameters: nesting depth exceeded: limit 16", "schema-depth-tools")


def test_structured_outputs_json_inlines_only_in_2026_09() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"type": "string"}}}
    rejected(run(OLD, QWEN, structured_outputs={"json": schema}),
             'structured_outputs.json: schema reference keyword is forbidden: "$defs" is not allowed', "reject-schema-ref")
    got = accepted(run(NEW, MINIMAX, structured_outputs={"json": schema}))
    assert got["structured_outputs"]["json"] == {"type": "object", "properties": {"a": {"type": "string"}}}


# --- whitespace names ----------------------------------------------------------------------------

def test_whitespace_names_2026_09() -> None:
    rule = "reject-whitespace-names"
    rejected(run(NEW, tools=[tool(name=" \t")]), "tools[i].function.name: must be a non-empty string (tools[0])", rule)
    rejected(run(NEW, tool_choice={"type": "function", "function": {"name": "\u3000"}}),
             "tool_choice.function: invalid shape: function.name must be a non-empty string", rule)
    rejected(run(NEW, response_format={"type": "json_schema", "json_schema": {"name": "  ", "schema": {}}}),
             "response_format.json_schema.name: invalid: must be a non-empty string", rule)


def test_whitespace_names_2026_05() -> None:
    assert accepted(run(OLD, tools=[tool(name=" \t")]))
    assert accepted(run(OLD, tool_choice={"type": "function", "function": {"name": " "}}))
    rejected(run(OLD, response_format={"type": "json_schema", "json_schema": {"name": "  ", "schema": {}}}),
             "response_format.json_schema.name: invalid: must match ^[A-Za-z0-9_.-]+$", "schema-response-format")


def test_go_trims_only_go_white_space() -> None:
    # U+001C is white space to Python's str.strip but not to Go's strings.TrimSpace.
    assert accepted(run(NEW, tools=[tool(name="\x1c")]))


# --- tool_choice ---------------------------------------------------------------------------------

@BOTH
@pytest.mark.parametrize("choice, message", [
    ("auto", None),
    ("none", None),
    ({"type": "function", "function": {"name": "x" * 64}}, None),
    ("banana", 'tool_choice: invalid value: must be "auto", "none", or a function object'),
    (5, 'tool_choice: invalid value: must be "auto", "none", or a function object'),
    (None, 'tool_choice: invalid value: must be "auto", "none", or a function object'),
    (["auto"], 'tool_choice: invalid value: must be "auto", "none", or a function object'),
    ({"type": "tool", "function": {"name": "f"}}, 'tool_choice.function: invalid shape: type must be "function"'),
    ({"function": {"name": "f"}}, 'tool_choice.function: invalid shape: type must be "function"'),
    ({"type": "function"}, "tool_choice.function: invalid shape: function must be an object"),
    ({"type": "function", "function": {}}, "tool_choice.function: invalid shape: function.name must be a non-empty string"),
    ({"type": "function", "function": {"name": "x" * 65}}, "tool_choice.function: invalid shape: function.name length 65 exceeds limit 64"),
    ({"type": "function", "function": {"name": "é" * 33}}, "tool_choice.function: invalid shape: function.name length 66 exceeds limit 64"),
])
def test_tool_choice(revision: str, choice: Any, message: str | None) -> None:
    result = run(revision, tools=[tool()], tool_choice=choice)
    if message is None:
        assert accepted(result)["tool_choice"] == choice
    else:
        rejected(result, message, "schema-tool-choice")


@BOTH
def test_tool_choice_required_becomes_auto_even_without_tools(revision: str) -> None:
    result = run(revision, tool_choice="required")
    got = accepted(result)
    assert got["tool_choice"] == "auto" and "tools" not in got
    assert [e.rule for e in result.events if "tool" in e.rule] == ["coerce-tool-choice-required"]


@BOTH
def test_tool_choice_default_and_none_kept(revision: str) -> None:
    result = run(revision, tools=[tool()])
    assert accepted(result)["tool_choice"] == "auto"
    assert "default-tool-choice-auto" in rules_of(result)
    result = run(revision, tools=[tool()], tool_choice="none")
    assert accepted(result)["tool_choice"] == "none"
    assert "default-tool-choice-auto" not in rules_of(result)
    assert "tool_choice" not in accepted(run(revision))


# --- response_format ------------------------------------------------------------------------------

@BOTH
@pytest.mark.parametrize("rf, message", [
    ({"type": "text"}, None),
    ({"type": "json_object"}, None),
    ("json", "response_format: invalid wrapper shape: must be an object"),
    (None, "response_format: invalid wrapper shape: must be an object"),
    ({}, "response_format.type: missing or unsupported: must be a non-empty string"),
    ({"type": " "}, "response_format.type: missing or unsupported: must be a non-empty string"),
    ({"type": 1}, "response_format.type: missing or unsupported: must be a non-empty string"),
    ({"type": "banana"}, 'response_format.type: missing or unsupported: "banana" is not supported (allowed: text, json_object, json_schema)'),
    ({"type": "json_schema"}, "response_format.json_schema: invalid wrapper shape: must be an object"),
    ({"type": "json_schema", "json_schema": {"schema": {}}}, "response_format.json_schema.name: invalid: must be a non-empty string"),
    ({"type": "json_schema", "json_schema": {"name": "a" * 64, "schema": {}}}, None),
    ({"type": "json_schema", "json_schema": {"name": "a" * 65, "schema": {}}}, "response_format.json_schema.name: invalid: must be 64 characters or fewer"),
    ({"type": "json_schema", "json_schema": {"name": "abc\n", "schema": {}}}, "response_format.json_schema.name: invalid: must match ^[A-Za-z0-9_.-]+$"),
    ({"type": "json_schema", "json_schema": {"name": "r"}}, "response_format.json_schema.schema: invalid shape: must be an object"),
    ({"type": "json_schema", "json_schema": {"name": "r", "schema": [], "strict": "yes"}}, "response_format.json_schema.schema: invalid shape: must be an object"),
    ({"type": "json_schema", "json_schema": {"name": "r", "schema": {}, "strict": "yes"}}, None),
])
def test_response_format(revision: str, rf: Any, message: str | None) -> None:
    result = run(revision, response_format=rf)
    if message is None:
        assert accepted(result)["response_format"] == rf
    else:
        rejected(result, message, "schema-response-format")


@BOTH
def test_response_format_bounds(revision: str) -> None:
    def rf(schema: Any) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}

    assert accepted(run(revision, response_format=rf(nest(16, key="if"))))
    rejected(run(revision, response_format=rf(nest(17, key="if"))),
             "response_format.json_schema.schema: nesting depth exceeded: limit 16", "schema-depth-response-format")
    assert accepted(run(revision, response_format=rf(props(127))))
    rejected(run(revision, response_format=rf(props(128))),
             "response_format.json_schema.schema: node count exceeded: limit 128", "schema-nodes-response-format")


# --- structured_outputs ---------------------------------------------------------------------------

SO = "structured_outputs"


@BOTH
@pytest.mark.parametrize("value, message", [
    ({"json_object": True}, None),
    ({"json": {"type": "object"}, "whitespace_pattern": "[ ]*", "disable_any_whitespace": True, "disable_additional_properties": False}, None),
    ({"regex": "[a-z]+", "json": None, "choice": None}, None),
    ({"choice": ["a", "b"]}, None),
    ({"grammar": "root ::= \"a\""}, None),
    ("x", "structured_outputs: invalid wrapper shape: must be an object"),
    (None, "structured_outputs: invalid wrapper shape: must be an object"),
    ({"json_object": True, "guided": 1}, 'structured_outputs: invalid wrapper shape: unknown sub-field "guided"'),
    ({}, "structured_outputs: exactly one of json/regex/choice/grammar/json_object/structural_tag must be set (got 0)"),
    ({"json": {}, "regex": "a"}, "structured_outputs: exactly one of json/regex/choice/grammar/json_object/structural_tag must be set (got 2: json, regex)"),
    ({"json": "{}"}, "structured_outputs.json: must be an object (string-encoded schemas are not accepted)"),
    ({"json": props(128)}, "structured_outputs.json: node count exceeded: limit 128"),
    ({"json": nest(17)}, "structured_outputs.json: nesting depth exceeded: limit 16"),
    ({"json": {"description": "a" * 16384}}, "structured_outputs.json: serialized size exceeded: limit 16384 bytes"),
    ({"regex": 5}, "structured_outputs.regex: invalid shape: must be a string"),
    ({"regex": "a" * 512}, None),
    ({"regex": "a" * 513}, "structured_outputs.regex: length exceeded: 513 > 512"),
    ({"regex": "(a"}, "structured_outputs.regex: must compile as a regex: error parsing regexp: missing closing ): `(a`"),
    ({"json_object": True, "whitespace_pattern": "\\1"}, "structured_outputs.whitespace_pattern: must compile as a regex: error parsing regexp: invalid escape sequence: `\\1`"),
    ({"choice": []}, "structured_outputs.choice: must be a non-empty string array"),
    ({"choice": "a"}, "structured_outputs.choice: must be a non-empty string array"),
    ({"choice": ["a", 1]}, "structured_outputs.choice: must be a non-empty string array: choice[1] must be a string"),
    ({"choice": ["a"] * 257}, "structured_outputs.choice: exceeded size limits: 257 entries > 256"),
    ({"choice": ["a", "b" * 1025]}, "structured_outputs.choice: exceeded size limits: choice[1] length 1025 > 1024"),
    ({"choice": ["c" * 1024] * 17}, "structured_outputs.choice: exceeded size limits: total length 17408 > 16384"),
    ({"grammar": 1}, "structured_outputs.grammar: invalid shape: must be a string"),
    ({"grammar": "a" * 8193}, "structured_outputs.grammar: length exceeded: 8193 > 8192"),
    ({"grammar": "(" * 200 + ")" * 200 + "[{" * 100}, None),
    ({"grammar": "([{" * 67}, "structured_outputs.grammar: nesting depth exceeded: 201 > 200"),
    ({"json_object": "yes"}, "structured_outputs.json_object: must be a boolean"),
    ({"json_object": True, "disable_any_whitespace": 1}, "structured_outputs: flag must be a boolean: disable_any_whitespace"),
])
def test_structured_outputs(revision: str, value: Any, message: str | None) -> None:
    result = run(revision, MINIMAX if revision == NEW else QWEN, structured_outputs=value)
    if message is None:
        assert accepted(result)[SO] == value
    else:
        rejected(result, message)


@pytest.mark.parametrize("revision, value, message", [
    (NEW, {"structural_tag": {"type": "structural_tag", "structures": [], "triggers": []}}, None),
    (NEW, {"structural_tag": "{}"}, "structured_outputs.structural_tag: invalid shape: must be an object (a JSON-encoded string crashes the engine)"),
    (NEW, {"structural_tag": {"x": "a" * 4089}}, "structured_outputs.structural_tag: length exceeded: 4097 > 4096"),
    (NEW, {"structural_tag": {"x": "a" * 4088}}, None),
    (OLD, {"structural_tag": "{}"}, None),
    (OLD, {"structural_tag": {}}, "structured_outputs.structural_tag: invalid shape: must be a string"),
    (OLD, {"structural_tag": "a" * 4097}, "structured_outputs.structural_tag: length exceeded: 4097 > 4096"),
])
def test_structural_tag_by_revision(revision: str, value: Any, message: str | None) -> None:
    result = run(revision, MINIMAX if revision == NEW else QWEN, structured_outputs=value)
    if message is None:
        assert accepted(result)[SO] == value
    else:
        rejected(result, message, "schema-structured-outputs")


@BOTH
def test_structured_outputs_private_keys_stripped(revision: str) -> None:
    result = run(revision, QWEN if revision == OLD else MINIMAX,
                 structured_outputs={"json_object": True, "_backend": "xgrammar", "_backend_was_auto": True})
    assert accepted(result)[SO] == {"json_object": True}
    assert rules_of(result).count("strip-structured-outputs-private-keys") == 2


@BOTH
def test_structured_outputs_order(revision: str) -> None:
    model = QWEN if revision == OLD else MINIMAX
    # wrapper shape before the conflict; the conflict before sub-keys and the exactly-one rule
    rejected(run(revision, model, structured_outputs="x", response_format={"type": "text"}),
             "structured_outputs: invalid wrapper shape: must be an object", "schema-structured-outputs")
    rejected(run(revision, model, structured_outputs={"bogus": 1}, response_format={"type": "text"}),
             "structured_outputs: cannot be combined with response_format", "reject-structured_outputs-with-response_format")
    # the route gate comes first on Kimi, whatever the value
    rejected(run(revision, KIMI, structured_outputs="x", response_format={"type": "text"}),
             "structured_outputs: not supported on this model — use response_format instead", "reject-structured_outputs-kimi")


def test_structured_outputs_minimax_by_revision() -> None:
    # 2026-05 is disputed: the engine follows the newer README (accepted); fad1002c's 400 is the other side.
    assert accepted(run(OLD, MINIMAX, structured_outputs={"json_object": True}))
    other = normalize({"messages": [{"role": "user", "content": "hi"}], "structured_outputs": {"json_object": True}},
                      model=MINIMAX, revision=OLD, evidence={"reject-structured_outputs-minimax": "rejected"})
    rejected(other, "structured_outputs: not supported on this model — use response_format instead", "reject-structured_outputs-minimax")
    assert accepted(run(NEW, MINIMAX, structured_outputs={"json_object": True}))
    assert accepted(run(OLD, QWEN, structured_outputs={"json_object": True}))


# --- metadata -----------------------------------------------------------------------------------

@BOTH
@pytest.mark.parametrize("value, message", [
    ({}, None),
    ({f"k{i}": "v" for i in range(16)}, None),
    ({f"k{i}": "v" for i in range(17)}, "metadata: key count exceeded: 17 > 16"),
    ({"k" * 64: "v"}, None),
    ({"k" * 65: "v"}, "metadata: key invalid: key length 65 > 64"),
    ({"é" * 33: "v"}, "metadata: key invalid: key length 66 > 64"),
    ({"k": "v" * 512}, None),
    ({"k": "v" * 513}, 'metadata: value invalid: value for "k" length 513 > 512'),
    ({"k": None}, 'metadata: value invalid: value for "k" must be a string'),
    ({"a": "ok", 'q"k': {"x": 1}}, 'metadata: value invalid: value for "q\\"k" must be a string'),
    (None, "metadata: invalid wrapper shape: must be an object"),
    (["k"], "metadata: invalid wrapper shape: must be an object"),
])
def test_metadata(revision: str, value: Any, message: str | None) -> None:
    result = run(revision, metadata=value)
    if message is None:
        assert accepted(result)["metadata"] == value
    else:
        rejected(result, message, "limit-metadata")


# --- chat_template_kwargs -------------------------------------------------------------------------

FORBIDDEN = ["chat_template", "tokenize", "tools", "documents", "conversation", "continue_final_message",
             "padding", "truncation", "max_length", "return_tensors", "return_dict"]


@BOTH
@pytest.mark.parametrize("key", FORBIDDEN)
def test_chat_template_kwargs_forbidden_keys(revision: str, key: str) -> None:
    rejected(run(revision, chat_template_kwargs={"add_generation_prompt": True, key: 1}),
             f'chat_template_kwargs: forbidden key (overrides apply_hf_chat_template positional argument): "{key}"',
             "reject-chat-template-kwargs-forbidden-key")


@BOTH
def test_chat_template_kwargs_bounds(revision: str) -> None:
    ok = {"add_generation_prompt": True, "nested": {"tools": [1], "chat_template": "x"}}
    assert accepted(run(revision, chat_template_kwargs=ok))["chat_template_kwargs"] == ok
    assert accepted(run(revision, chat_template_kwargs=nest(16, key="x", leaf={})))
    rejected(run(revision, chat_template_kwargs=nest(17, key="x", leaf={})), "chat_template_kwargs: nesting depth exceeded: limit 16")
    # Not a schema: a scalar at depth 17 fails too, and arrays add levels.
    rejected(run(revision, chat_template_kwargs=nest(16, key="x", leaf={"x": 1})), "chat_template_kwargs: nesting depth exceeded: limit 16")
    rejected(run(revision, chat_template_kwargs=nest(15, key="x", leaf={"x": [[1]]})), "chat_template_kwargs: nesting depth exceeded: limit 16")
    assert accepted(run(revision, chat_template_kwargs={f"k{i}": {} for i in range(127)}))
    rejected(run(revision, chat_template_kwargs={f"k{i}": {} for i in range(128)}), "chat_template_kwargs: node count exceeded: limit 128")
    rejected(run(revision, chat_template_kwargs={"a": "x" * 16380}), "chat_template_kwargs: serialized size exceeded: limit 16384 bytes")
    assert accepted(run(revision, chat_template_kwargs={"a": "x" * 16376}))
    rejected(run(revision, chat_template_kwargs=None), "chat_template_kwargs: invalid wrapper shape: must be an object", "schema-chat-template-kwargs")


# --- Go regexp emulation -------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, error", [
    ("(", "missing closing ): `(`"),
    ("a(b|c", "missing closing ): `a(b|c`"),
    ("a)", "unexpected ): `a)`"),
    ("|)", "unexpected ): `|)`"),
    ("x[ab", "missing closing ]: `[ab`"),
    ("[]", "missing closing ]: `[]`"),
    ("[z-a]", "invalid character class range: `z-a`"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
    ("\\p{Klingon}", "invalid character class range: `\\p{Klingon}`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("a+?+", "invalid nested repetition operator: `+?+`"),
    ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
    ("*a", "missing argument to repetition operator: `*`"),
    ("(+)", "missing argument to repetition operator: `+`"),
    ("a|?", "missing argument to repetition operator: `?`"),
    ("{2}", "missing argument to repetition operator: `{2}`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("a{3,2}", "invalid repeat count: `{3,2}`"),
    ("(a{40}){40}", "invalid repeat count: `{40}`"),
    ("(?=x)", "invalid or unsupported Perl syntax: `(?=`"),
    ("(?!x)", "invalid or unsupported Perl syntax: `(?!`"),
    ("(?z)", "invalid or unsupported Perl syntax: `(?z`"),
    ("(?<=x)", "invalid named capture: `(?<=x)`"),
    ("(?P<a-b>x)", "invalid named capture: `(?P<a-b>`"),
    ("\\1", "invalid escape sequence: `\\1`"),
    ("\\C", "invalid escape sequence: `\\C`"),
    ("\\q", "invalid escape sequence: `\\q`"),
    ("\\x4", "invalid escape sequence: `\\x4`"),
    ("a\\", "trailing backslash at end of expression: ``"),
])
def test_go_regexp_errors(pattern: str, error: str) -> None:
    assert go_regexp_error(pattern) == "error parsing regexp: " + error


@pytest.mark.parametrize("pattern", [
    "^[A-Za-z0-9_.-]+$", "\\d{3}-\\d{4}", "(?i)abc", "(?P<name>x)(?<n2>y)", "(?:a|b)+?", "a{,5}", "{", "[]a]",
    "[^]a-]", "\\pL\\p{Greek}\\P{^Han}\\p{Letter}", "[[:alpha:][:^digit:]]", "\\Q*+?\\E*", "\\x{1F600}\\x41\\101",
    "^*", "\\b\\B\\A\\z", "a{2,}b{0,1000}", "(a{10}){100}", "[\\d-z]", "(?s-i:.)", "", "é+",
])
def test_go_regexp_accepts(pattern: str) -> None:
    assert go_regexp_error(pattern) is None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="()[]{}|*+?^$.\\-:<>=!,PpQEdxz0123456789aAé_ ", max_size=24))
def test_go_regexp_parser_never_raises(pattern: str) -> None:
    error = go_regexp_error(pattern)
    assert error is None or error.startswith("error parsing regexp: ")


# --- robustness and speed ---------------------------------------------------------------------------

SCHEMA_KEYS = ["$ref", "$defs", "definitions", "properties", "items", "type", "pattern", "enum", "anyOf", "oneOf",
               "required", "default", "patternProperties", "name", "function", "json", "choice", "grammar", "regex",
               "structural_tag", "json_object", "_backend", "x"]
scalars = (st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from(["#", "#/$defs/a", "#/properties/x", "#/%zz", "object", "string", "(", "a*", " ", "", "function", "auto", "required"])
           | st.text(max_size=6))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(SCHEMA_KEYS) | st.text(max_size=4), inner, max_size=5),
    max_leaves=25,
)
tools_values = st.lists(st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": st.sampled_from(["f", " ", ""]) | scalars}, optional={"parameters": json_values, "strict": scalars})}) | json_values, max_size=3)
fields = st.fixed_dictionaries({}, optional={
    "tools": tools_values | json_values,
    "tool_choice": json_values | st.sampled_from(["auto", "none", "required"]),
    "response_format": st.fixed_dictionaries({"type": st.sampled_from(["json_schema", "text", "x"]), "json_schema": st.fixed_dictionaries(
        {"name": st.sampled_from(["r", " ", "bad name"]), "schema": json_values})}) | json_values,
    "structured_outputs": json_values,
    "metadata": json_values,
    "chat_template_kwargs": json_values,
})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields, st.sampled_from([QWEN, KIMI, MINIMAX]), st.sampled_from([OLD, NEW]))
def test_functions_never_raise_on_arbitrary_json(extra: dict[str, Any], model: str, revision: str) -> None:
    raw = body(**extra)
    analysis = analyse(raw, model=model, revision=revision)
    assert analysis.parsed
    result = normalize(raw, model=model, revision=revision)
    if isinstance(result, Rejected):
        assert analysis.rejections and analysis.rejections[0].message == result.message
    else:
        assert not analysis.rejections
        gojson.dumps(result.body)  # the forwarded body is always encodable


def test_lint_reports_every_tool_and_every_field() -> None:
    raw = body(tools=[tool(nest(17)), tool(name=""), tool({"type": "x"}, name="g")], metadata={"k": 1},
               chat_template_kwargs={"tokenize": True, "chat_template": "x"})
    messages = [r.message for r in analyse(raw, model=MINIMAX, revision=NEW).rejections]
    assert messages == [
        "tools[0].function.parameters: nesting depth exceeded: limit 16",
        "tools[i].function.name: must be a non-empty string (tools[1])",
        'tools[2].function.parameters: schema type is not a valid JSON-Schema primitive: "x"',
        'metadata: value invalid: value for "k" must be a string',
        'chat_template_kwargs: forbidden key (overrides apply_hf_chat_template positional argument): "tokenize"',
        'chat_template_kwargs: forbidden key (overrides apply_hf_chat_template positional argument): "chat_template"',
    ]


def test_big_request_lints_fast() -> None:
    big_schema = {"type": "object", "properties": {f"p{i}": {"type": "string", "description": "d" * 40,
                                                              "enum": [f"v{j}" for j in range(5)]} for i in range(250)}}
    tools = [tool(big_schema, name=f"t{i}") for i in range(40)]
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": "x" * 4400} for i in range(2048)]
    raw = json.dumps({"messages": messages, "tools": tools, "metadata": {"a": "b"},
                      "chat_template_kwargs": {"enable_thinking": False}}).encode()
    assert 9_000_000 < len(raw) < 10_485_760
    start = time.perf_counter()
    analysis = analyse(raw, model=MINIMAX, revision=NEW)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, elapsed
    assert [r.message for r in analysis.rejections] == [f"tools[{i}].function.parameters: serialized size exceeded: limit 16384 bytes" for i in range(40)]
