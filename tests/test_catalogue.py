"""The catalogue loads, validates, reports bad YAML as file:line, and covers the research."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gonka_conformance.catalogue.coverage import load_coverage, load_upstream_tests, render_markdown
from gonka_conformance.catalogue.loader import CatalogueError, default_root, load_catalogue
from gonka_conformance.cli import main

REPO = Path(__file__).resolve().parents[1]

# ecosystem.md §1: the anchors that exist in a stored troubleshooting.md (TS-A/TS-B).
TROUBLESHOOTING_ANCHORS = [
    "strip-cache_key", "strip-prompt_cache_key", "strip-service_tier", "strip-store", "strip-provider",
    "strip-plugins", "strip-extra_headers", "strip-thinking_config", "strip-think", "strip-display-thinking-sibling",
    "strip-safety_identifier", "strip-thinking-minimax", "strip-enable_thinking-minimax", "strip-reasoning_effort",
    "translate-enable_thinking", "translate-reasoning", "coerce-tool-choice-required", "coerce-n-when-temperature-zero",
    "unwrap-extra_body", "reject-unknown-param", "reject-duplicate-tool-call-id", "reject-tags", "reject-guided-decoding",
    "reject-enforced_tokens", "reject-vllm-internals", "reject-structured_outputs-with-response_format",
    "reject-structured_outputs-kimi", "accept-structured_outputs-minimax", "reject-whitespace-names",
    "accept-tool-message-minimax-shape", "reject-out-of-range-sampling", "reject-nonpositive-max-tokens",
    "reject-malformed-param-types", "kimi-empty-content-think-burn",
]


@pytest.fixture()
def cases_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cases"
    shutil.copytree(default_root(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def test_packaged_catalogue_loads_with_both_revisions() -> None:
    catalogue = load_catalogue()
    assert [r.id for r in catalogue.revisions] == ["2026-05", "2026-09"]
    assert catalogue.default_revision.id == "2026-09"
    assert len(catalogue.rules) >= 100
    assert {"gonka-api.org", "gonkagate.com"} <= set(catalogue.brokers)


@pytest.mark.parametrize("anchor", TROUBLESHOOTING_ANCHORS)
def test_every_troubleshooting_anchor_is_a_rule_id(anchor: str) -> None:
    rule = load_catalogue().by_id.get(anchor)
    assert rule is not None, f"no rule {anchor}"
    assert rule.anchor == f"https://github.com/gonka-ai/gonka/blob/main/docs/chat-api/troubleshooting.md#{anchor}"


def test_every_rule_names_sources_and_a_known_severity() -> None:
    for rule in load_catalogue().rules:
        assert rule.docs["sources"], rule.id
        assert rule.severity in ("error", "warning", "info"), rule.id
        if rule.kind == "reject":
            assert rule.status and rule.messages, f"{rule.id}: a reject needs its status and message"


def test_coverage_has_no_gap_and_no_unknown_key() -> None:
    items, unknown = load_coverage(load_catalogue())
    assert unknown == []
    assert [item.key for item in items if not item.covered] == []


def test_coverage_document_is_up_to_date() -> None:
    catalogue = load_catalogue()
    items, _ = load_coverage(catalogue)
    assert (REPO / "docs" / "coverage.md").read_text(encoding="utf-8") == render_markdown(items, load_upstream_tests(catalogue)), \
        "regenerate with: gonka-conformance coverage > docs/coverage.md"


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(root)
    return info.value.problems


def test_invalid_yaml_is_reported_with_file_and_line(cases_copy: Path) -> None:
    path = cases_copy / "rules" / "10-params.yaml"
    lines = path.read_text().splitlines()
    lines[6] = lines[6] + " ]["  # breaks a flow mapping
    path.write_text("\n".join(lines))
    problems = _problems(cases_copy)
    assert len(problems) == 1 and problems[0].startswith("cases/rules/10-params.yaml:")
    assert "invalid YAML" in problems[0]


def test_schema_violation_names_the_line_and_path(cases_copy: Path) -> None:
    path = cases_copy / "rules" / "10-params.yaml"
    text = path.read_text().replace("    kind: clamp\n", "    kind: clampz\n", 1)
    path.write_text(text)
    (problem,) = _problems(cases_copy)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "kind: clampz" in l)
    assert problem.startswith(f"cases/rules/10-params.yaml:{line}: rules/")
    assert "clampz" in problem


def test_duplicate_ids_unknown_functions_and_revisions_are_caught(cases_copy: Path) -> None:
    path = cases_copy / "rules" / "11-strips.yaml"
    text = path.read_text()
    text = text.replace("id: strip-store", "id: strip-service_tier", 1)
    text = text.replace("transform: strip}", "transform: no-such-transform}", 1)
    text = text.replace("order: 321", "order: 321\n    applies: {revisions: {from: \"2031-01\"}}", 1)
    path.write_text(text)
    problems = "\n".join(_problems(cases_copy))
    assert "duplicate rule id 'strip-service_tier'" in problems
    assert "unknown transform 'no-such-transform'" in problems
    assert "unknown revision '2031-01'" in problems


def test_duplicate_yaml_keys_are_rejected(cases_copy: Path) -> None:
    path = cases_copy / "profiles" / "families.yaml"
    path.write_text(path.read_text().replace("kind: families", "kind: families\nkind: families"))
    (problem,) = _problems(cases_copy)
    assert problem.startswith("cases/profiles/families.yaml:") and "duplicate key 'kind'" in problem


def test_cli_reports_an_invalid_catalogue_with_exit_2(cases_copy: Path, capsys) -> None:
    (cases_copy / "rules" / "99-bad.yaml").write_text("version: 1\nfamily: bad\nrules: {}\n")
    code = main(["--catalogue", str(cases_copy), "rules"])
    err = capsys.readouterr().err
    assert code == 2
    assert "invalid catalogue" in err and "cases/rules/99-bad.yaml:3: rules:" in err
    assert "Traceback" not in err


def _break(cases: Path, relative: str, old: str, new: str) -> None:
    path = cases / relative
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("relative, old, new, expected", [
    ("rules/11-strips.yaml", "    kind: strip\n", "    kind: strip\n    <<: {x: 1}\n", "invalid YAML"),
    ("rules/11-strips.yaml", "    kind: strip\n", "    kind: !!python/name:os.system strip\n", "invalid YAML"),
    ("rules/11-strips.yaml", "rules:\n", "loop: &self [*self]\nrules:\n", "an alias refers to the node that contains it"),
    ("profiles/families.yaml", 'pattern: "kimi"', 'pattern: "kimi("', "is not a regular expression"),
    ("rules/10-params.yaml", '"{field}: must be greater than 0"', '"{field: must be greater than 0"', "is not a valid template"),
    ("profiles/gonkagate.com.yaml", "    status: 400\n    message: Plugin config is invalid\n", "", "'message' is a required property"),
    ("profiles/hyperfusion.io.yaml", "id: hyperfusion.io", "id: gonkagate.com", "duplicate broker profile 'gonkagate.com'"),
])
def test_catalogue_problems_are_file_line_errors_not_tracebacks(cases_copy: Path, relative, old, new, expected) -> None:
    _break(cases_copy, relative, old, new)
    problems = "\n".join(_problems(cases_copy))
    assert expected in problems and ("cases/" + relative.split("/")[0]) in problems


def test_unquoted_dates_stay_strings(cases_copy: Path) -> None:
    _break(cases_copy, "rules/11-strips.yaml", "request: {store: true}", "request: {store: 2026-01-01}")
    catalogue = load_catalogue(cases_copy)
    assert catalogue.by_id["strip-store"].live[0]["request"]["store"] == "2026-01-01"


def test_when_paths_must_be_json_pointers(cases_copy: Path) -> None:
    _break(cases_copy, "rules/11-strips.yaml", "    order: 540\n", "    order: 540\n    applies: {when: [{path: store, present: true}]}\n")
    assert any("does not match" in p for p in _problems(cases_copy))


def test_the_catalogue_is_validated_against_the_packaged_schema(cases_copy: Path) -> None:
    shutil.rmtree(cases_copy / "schema")
    assert load_catalogue(cases_copy).by_id["strip-store"]  # a catalogue does not bring its own format


def test_limits_come_from_the_catalogue_alone() -> None:
    from gonka_conformance.engine.pipeline import limits_for
    from gonka_conformance.engine.types import Limits

    catalogue = load_catalogue()
    assert limits_for(catalogue) == Limits(3072, 4096)  # contract.md §4: the compiled defaults
    with pytest.raises(TypeError):
        Limits()  # type: ignore[call-arg]  # no number lives in Python
    assert limits_for(catalogue, "gonka-api.org", default_max_tokens=100) == Limits(100, 3072)


# --- verb options and match-less rules (checked at load time, file:line) -----------------------


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_misspelled_verb_option_fails_at_load_with_its_line(cases_copy: Path, capsys) -> None:
    path = cases_copy / "rules" / "10-params.yaml"
    _break(cases_copy, "rules/10-params.yaml", "check: list-bounds, with: {max_entries: 16, max_length: 256}}",
           "check: list-bounds, with: {max_entries: 16, max_lenght: 256}}")
    (problem,) = _problems(cases_copy)
    line = _line_of(path, "max_lenght")
    assert problem.startswith(f"cases/rules/10-params.yaml:{line}: limit-stop: check 'list-bounds': unknown option 'max_lenght'")
    assert "max_length" in problem  # names the options the verb takes
    assert main(["--catalogue", str(cases_copy), "rules"]) == 2
    err = capsys.readouterr().err
    assert f"10-params.yaml:{line}: limit-stop:" in err and "Traceback" not in err


@pytest.mark.parametrize("old, new, expected", [
    ("with: {max_entries: 16, max_length: 256}}", "with: {max_entries: 16, max_length: \"256\"}}", "option max_length: '256' is not of type 'integer'"),
    ("check: bounded-string, with: {max_length: 512}", "check: bounded-string, with: {}", "'max_length' is a required property"),
])
def test_verb_option_types_and_required_options_are_checked(cases_copy: Path, old: str, new: str, expected: str) -> None:
    _break(cases_copy, "rules/10-params.yaml", old, new)
    problems = _problems(cases_copy)
    assert len(problems) == 1 and expected in problems[0] and problems[0].startswith("cases/rules/10-params.yaml:")


def test_evidence_overrides_are_checked_against_the_verb_options(cases_copy: Path) -> None:
    _break(cases_copy, "rules/30-schemas.yaml", "schema-tools: {ref_siblings: merge}", "schema-tools: {ref_sibling: merge}")
    problems = "\n".join(_problems(cases_copy))
    assert "inline-schema-ref: side 'merge-siblings' overrides schema-tools: no verb of that rule takes option 'ref_sibling'" in problems


def test_an_override_value_outside_the_option_enum_is_rejected(cases_copy: Path) -> None:
    _break(cases_copy, "rules/30-schemas.yaml", "schema-tools: {ref_siblings: merge}", "schema-tools: {ref_siblings: mergee}")
    assert any("overrides schema-tools: option ref_siblings: 'mergee' is not one of" in p for p in _problems(cases_copy))


def test_a_matchless_rule_nothing_delegates_to_fails_at_load(cases_copy: Path) -> None:
    """A new reject rule without its second edit in reject-unknown-param's delegate map."""
    path = cases_copy / "rules" / "00-request.yaml"
    _break(cases_copy, "rules/00-request.yaml", "          tags: reject-tags\n", "")
    (problem,) = _problems(cases_copy)
    assert problem.startswith(f"cases/rules/00-request.yaml:{_line_of(path, 'id: reject-tags')}: reject-tags: ")
    assert "must be named in another rule's delegate map" in problem


def test_a_matchless_undelegated_route_rule_fails_at_load(cases_copy: Path) -> None:
    """Route and response rules name their verb like any other rule: no stage exemption."""
    path = cases_copy / "rules" / "70-gateway.yaml"
    _break(cases_copy, "rules/70-gateway.yaml", "    match: {path: /model, route: served-model}\n", "")
    (problem,) = _problems(cases_copy)
    assert problem.startswith(f"cases/rules/70-gateway.yaml:{_line_of(path, 'id: reject-unknown-model')}: reject-unknown-model: ")
    assert "must be named in another rule's delegate map" in problem and "a route rule names its verb in match" in problem


def test_no_verb_on_a_rule_with_a_match_fails_at_load(cases_copy: Path) -> None:
    path = cases_copy / "rules" / "70-gateway.yaml"
    _break(cases_copy, "rules/70-gateway.yaml", "    match: {path: /model, route: served-model}\n",
           "    match: {path: /model, route: served-model}\n    no_verb: \"said by mistake, it has a verb\"\n")
    (problem,) = _problems(cases_copy)
    assert problem == (f"cases/rules/70-gateway.yaml:{_line_of(path, 'id: reject-unknown-model')}: reject-unknown-model: "
                       "no_verb says no verb runs this rule, but it has a match")


def test_a_route_verb_in_a_pipeline_stage_fails_at_load(cases_copy: Path) -> None:
    """A gateway verb in a stage normalize runs (or a check in the route stage) would never run."""
    path = cases_copy / "rules" / "70-gateway.yaml"
    _break(cases_copy, "rules/70-gateway.yaml", "    match: {path: /model, route: served-model}\n",
           "    match: {path: /model, check: present}\n")
    problems = _problems(cases_copy)
    assert any(p.startswith(f"cases/rules/70-gateway.yaml:{_line_of(path, 'id: reject-unknown-model')}: reject-unknown-model: ")
               and "a check verb cannot run in stage 'route'" in p for p in problems)


def test_a_misspelled_gateway_verb_option_fails_at_load(cases_copy: Path) -> None:
    path = cases_copy / "rules" / "70-gateway.yaml"
    _break(cases_copy, "rules/70-gateway.yaml", "with: {bytes_per_token: 4}", "with: {bytes_per_tokens: 4}")
    problems = _problems(cases_copy)
    assert f"cases/rules/70-gateway.yaml:{_line_of(path, 'bytes_per_tokens')}: reject-over-capacity: route 'admission': " \
        "unknown option 'bytes_per_tokens' (options: bytes_per_token)" in problems
    assert any("'bytes_per_token' is a required property" in p for p in problems)


def test_a_live_example_rejected_by_an_unknown_rule_fails_at_load(cases_copy: Path) -> None:
    _break(cases_copy, "rules/00-request.yaml", "rejected_by: reject-tags}", "rejected_by: reject-tagz}")
    assert any("unwrap-extra_body: live example 'lifted-tags-rejected' is rejected_by unknown rule 'reject-tagz'" in p
               for p in _problems(cases_copy))


def test_every_verb_declares_a_closed_valid_options_schema() -> None:
    import jsonschema

    from gonka_conformance.engine.builtins import option_schemas

    schemas = option_schemas()
    assert len(schemas) >= 60
    for (kind, name), schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False, f"{kind} {name}"


def test_verbs_document_is_up_to_date(capsys) -> None:
    assert main(["rules", "--verbs"]) == 0
    text = capsys.readouterr().out
    assert "### `list-bounds`" in text and "| `max_entries?` | integer |" in text and "Used by: `limit-stop`" in text
    assert (REPO / "docs" / "verbs.md").read_text(encoding="utf-8") == text, \
        "regenerate with: gonka-conformance rules --verbs > docs/verbs.md"


def test_the_admission_estimate_and_the_large_prompt_advice_use_one_ratio() -> None:
    """Both state upstream's estimatePromptTokens (body bytes / 4): the two options must agree."""
    from gonka_conformance.engine.lookup import verb_option

    catalogue = load_catalogue()
    assert verb_option(catalogue, "route", "admission", "bytes_per_token") == \
        verb_option(catalogue, "check", "large-prompt", "bytes_per_token") == 4


def test_a_verb_option_stated_twice_differently_is_an_error() -> None:
    """Faces look numbers up by verb and option; two rules disagreeing is a catalogue bug."""
    import dataclasses

    from gonka_conformance.engine.lookup import CatalogueOptionError, verb_option

    catalogue = load_catalogue()
    rule = catalogue.by_id["limit-body-size"]
    twin = dataclasses.replace(rule, id="limit-body-size-twin", targets=tuple(
        dataclasses.replace(t, options={**t.options, "limit": 1}) for t in rule.targets))
    broken = dataclasses.replace(catalogue, rules=(*catalogue.rules, twin))
    with pytest.raises(CatalogueOptionError, match="disagree on option 'limit'"):
        verb_option(broken, "check", "body-size", "limit")
    with pytest.raises(CatalogueOptionError, match="no rule's check 'body-size' has option 'nothing'"):
        verb_option(catalogue, "check", "body-size", "nothing")
