"""Every output format of gonka-lint: text, json (against its shipped schema), sarif (against
the official SARIF 2.1.0 schema, vendored in tests/data), github annotations and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from gonka_conformance.lint.cli import main
from gonka_conformance.reports.lint.github import annotation, escape_data, escape_property
from models import KIMI, PLAIN

# The official schema, vendored with its provenance (tests/data/README.md).
OFFICIAL_SARIF_SCHEMA = Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture()
def corpus(tmp_path: Path) -> dict[str, Path]:
    files = {
        "hermes.json": {"model": KIMI, "messages": [{"role": "user", "content": "hi"}], "tags": ["a,b:c"],
                        "cache_key": "k", "max_tokens": 100, "temperature": 5},
        "clean.json": {"model": PLAIN, "messages": [{"role": "user", "content": "hi"}]},
        "weird name %,:.json": {"model": PLAIN, "messages": [{"role": "user", "content": "100% <b>&\x01"}],
                                "think": True},
    }
    paths = {}
    for name, body in files.items():
        paths[name] = tmp_path / name
        paths[name].write_text(json.dumps(body, indent=2))
    log = tmp_path / "requests.jsonl"
    log.write_text(json.dumps(files["clean.json"]) + "\n" + json.dumps({**files["clean.json"], "store": True}) + "\n")
    paths["requests.jsonl"] = log
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    paths["bad.json"] = bad
    return paths


def lint_output(capsys, paths, *args: str) -> tuple[int, str, str]:
    code = main(["--isolated", "--no-ignore-file", *map(str, paths), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_text_is_grouped_per_file_with_a_summary(corpus, capsys) -> None:
    code, out, err = lint_output(capsys, corpus.values())
    assert code == 2  # bad.json is unreadable
    assert "\x1b[" not in out  # no colour when not on a terminal
    lines = out.splitlines()
    assert str(corpus["hermes.json"]) in lines
    tags = next(line for line in lines if "reject-tags" in line)
    assert tags.split()[:2] == ["9:3", "error"] and tags.endswith("[*]")
    assert any("at /tags — Remove `tags`" in line for line in lines)
    assert any(line.strip().endswith("troubleshooting.md#reject-tags") for line in lines)
    assert any("#2" in line and "strip-store" in line for line in lines)  # the JSONL record number
    assert lines[-2].startswith("Found ") and "in 5 files" in lines[-2]
    assert "fixable with --fix" in lines[-1] and "could not be linted" in lines[-1]
    assert f"{corpus['bad.json']}:1:1: a JSON array" in err
    code, colored, _ = lint_output(capsys, [corpus["hermes.json"]], "--color", "always")
    assert "\x1b[" in colored


def test_text_all_clean(corpus, capsys) -> None:
    code, out, err = lint_output(capsys, [corpus["clean.json"]])
    assert code == 0 and out.strip() == "All checks passed: 1 request body in 1 file."


def test_json_report_validates_against_the_shipped_schema(corpus, capsys) -> None:
    schema = json.loads(resources.files("gonka_conformance.lint").joinpath("lint-report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    code, out, err = lint_output(capsys, corpus.values(), "--format", "json", "--show-normalized")
    report = json.loads(out)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(report)
    assert report["version"] == 1 and report["tool"]["name"] == "gonka-lint"
    assert report["summary"]["errors"] == sum(1 for f in report["findings"] if f["severity"] == "error")
    assert {f["rule"] for f in report["findings"]} >= {"reject-tags", "strip-cache_key", "strip-think", "strip-store"}
    assert len(report["normalized"]) == report["summary"]["records"] - report["summary"]["input_errors"]
    hermes = next(n for n in report["normalized"] if n["file"].endswith("hermes.json"))
    assert hermes["result"]["outcome"] == "rejected" and hermes["events"]
    clean = next(n for n in report["normalized"] if n["file"].endswith("clean.json"))
    assert clean["result"]["outcome"] == "accepted" and clean["result"]["body"]["return_token_ids"] is True
    assert any(e["rule"] == "force-return-token-ids" for e in clean["events"])  # shown here, not as findings


def _sarif(capsys, corpus) -> dict:
    code, out, err = lint_output(capsys, corpus.values(), "--format", "sarif")
    return json.loads(out)


def test_sarif_validates_against_the_official_schema(corpus, capsys) -> None:
    schema = json.loads(OFFICIAL_SARIF_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(_sarif(capsys, corpus))


def test_sarif_structure_rules_and_locations(corpus, capsys) -> None:
    sarif = _sarif(capsys, corpus)
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert rule["shortDescription"]["text"] and rule["help"]["markdown"]
    tags_rule = next(r for r in rules if r["id"] == "reject-tags")
    assert tags_rule["helpUri"].endswith("#reject-tags") and tags_rule["defaultConfiguration"]["level"] == "error"
    tags = next(r for r in run["results"] if r["ruleId"] == "reject-tags")
    location = tags["locations"][0]
    assert location["physicalLocation"]["region"] == {"startLine": 9, "startColumn": 3}
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "/tags"
    weird = next(r for r in run["results"] if r["ruleId"] == "strip-think")
    assert "%25" in weird["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]  # percent-encoded
    assert run["invocations"][0]["executionSuccessful"] is False  # bad.json
    fingerprints = [r["partialFingerprints"]["gonkaLint/v1"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_github_annotations(corpus, capsys) -> None:
    code, out, err = lint_output(capsys, corpus.values(), "--format", "github")
    lines = out.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    tags = next(line for line in lines if "reject-tags" in line)
    assert tags.startswith(f"::error file={escape_property(str(corpus['hermes.json']))},line=9,col=3,"
                           "title=gonka-lint reject-tags::")
    assert "%0Aat /tags%0AFix: " in tags
    think = next(line for line in lines if "strip-think" in line)
    assert "weird name %25%2C%3A.json" in think and think.startswith("::warning ")
    assert any(line.startswith("::error file=") and "unreadable input" in line for line in lines)
    code, strict, _ = lint_output(capsys, [corpus["requests.jsonl"]], "--format", "github", "--strict")
    assert strict.startswith("::error ") and "[record 2]" in strict


def test_github_escaping() -> None:
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert escape_property("x:y,z%") == "x%3Ay%2Cz%25"
    assert annotation("notice", "f", None, None, "t", "m") == "::notice file=f,title=t::m"


def test_junit_xml(corpus, capsys) -> None:
    code, out, err = lint_output(capsys, corpus.values(), "--format", "junit")
    root = ET.fromstring(out)
    assert root.tag == "testsuites" and root.get("name") == "gonka-lint"
    suites = {Path(s.get("name")).name: s for s in root.findall("testsuite")}
    assert set(suites) == {"hermes.json", "clean.json", "weird name %,:.json", "requests.jsonl", "bad.json"}
    assert [c.get("name") for c in suites["clean.json"].findall("testcase")] == ["clean"]
    hermes = suites["hermes.json"]
    failures = hermes.findall("testcase/failure")
    assert int(hermes.get("failures")) == len(failures) >= 3
    assert any(f.get("type") == "error" and "tags" in f.get("message") for f in failures)
    assert suites["bad.json"].find("testcase/error") is not None and root.get("errors") == "1"
    assert int(root.get("failures")) == sum(int(s.get("failures")) for s in suites.values())
    assert "\x01" not in out  # not representable in XML 1.0


def test_output_file(corpus, capsys, tmp_path: Path) -> None:
    target = tmp_path / "report.sarif"
    code, out, err = lint_output(capsys, [corpus["hermes.json"]], "--format", "sarif", "-o", str(target))
    assert out == "" and json.loads(target.read_text())["version"] == "2.1.0"


# --- the format registry: one list, every name has a renderer -------------------------------


def test_every_listed_format_has_a_renderer_and_is_a_cli_choice(corpus: dict[str, Path], capsys) -> None:
    from gonka_conformance.lint import cli
    from gonka_conformance.reports.lint import FORMATS, RENDERER_MODULES, renderer

    assert cli.FORMATS is FORMATS and FORMATS == tuple(RENDERER_MODULES)
    for name in FORMATS:
        assert callable(renderer(name))
        main(["--format", name, "--no-ignore-file", str(corpus["clean.json"])])
        assert "Traceback" not in capsys.readouterr().err


def test_a_format_listed_without_a_renderer_fails_with_a_clear_error() -> None:
    from gonka_conformance.reports import lint as formats

    package_dir = Path(formats.__file__).parent
    with pytest.raises(formats.FormatRegistryError, match=r"listed without a renderer: 'yaml' \(no lint/yaml_report.py\)"):
        formats.check_registry({**formats.RENDERER_MODULES, "yaml": "yaml_report"}, package_dir)
    with pytest.raises(formats.FormatRegistryError, match="unknown lint output format 'yaml'"):
        formats.renderer("yaml")


# --- the fast indented JSON writer (reports/lint/indented.py) --------------------------------

from decimal import Decimal  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gonka_conformance.goemu.json import Num  # noqa: E402
from gonka_conformance.reports.lint import indented  # noqa: E402

_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
            | st.text() | st.builds(Num, st.sampled_from(["1.50", "-0", "1e400", "2.0E-3"]))
            | st.builds(Decimal, st.sampled_from(["1.5", "-0.00"])))  # default=str
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_indented_writer_gives_json_dumps_text(value) -> None:
    assert indented.dumps(value) == json.dumps(value, ensure_ascii=False, indent=2, default=str)


def test_indented_writer_refuses_what_it_does_not_reproduce() -> None:
    with pytest.raises(indented.Unsupported):
        indented.dumps({"a": {1: "x"}})


def test_pyproject_format_is_checked_against_the_renderer_registry(corpus: dict[str, Path], tmp_path: Path, capsys) -> None:
    # The config module may not import reports/: the command module hands it the registry's names.
    from gonka_conformance.reports.lint import FORMATS

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.gonka-lint]\nformat = "yaml"\n')
    code = main(["--config", str(pyproject), "--no-ignore-file", str(corpus["clean.json"])])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"format must be one of {', '.join(FORMATS)}" in err
    pyproject.write_text('[tool.gonka-lint]\nformat = "github"\n')
    assert main(["--config", str(pyproject), "--no-ignore-file", str(corpus["clean.json"])]) == 0
    assert "Traceback" not in capsys.readouterr().err
