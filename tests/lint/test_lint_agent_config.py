"""Agent-config linting: each client's real-shaped config reports exactly the problems the
gateway would cause, at the config line, with the fix in the client's words; clean ones are
clean; bad files are one-line errors; secrets in a config never reach the output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gonka_conformance.lint import agentconfig
from gonka_conformance.lint.cli import main

DATA = Path(__file__).parent.parent / "data" / "agents"
SECRETS = ("sk-ant-api03-NOT-A-REAL-KEY", "gp-NOT-A-REAL-KEY", "GONKA_API_KEY-value")

EXPECTED = {
    "opencode.json": {
        (12, "strip-prompt_cache_key", "set the provider's `options.setCacheKey` to false"),
        (15, "cap-max-tokens", "set `limit.output` to 4096"),
        (15, "kimi-default-budget-tool-heavy", None),
        (20, "strip-store", "remove `options.store` from the model"),
    },
    ".kilo/kilo.jsonc": {
        (15, "model-id-case-sensitive", 'set `id` to "moonshotai/kimi-k2.6"'),
        (15, "reject-unknown-model", None),  # GonkaGate matches ids exactly: the gateway's 400
        (18, "cap-max-tokens", "set `limit.output` to 3072"),
        (18, "kimi-default-budget-tool-heavy", None),
        (20, "coerce-n-when-temperature-zero", "remove `options.n` from the model"),
        (20, "coerce-tool-choice-required", None),
    },
    ".hermes/config.yaml": {
        (5, "model-id-case-sensitive", 'set `model.default` to "moonshotai/kimi-k2.6"'),
        (5, "reject-unknown-model", None),
        (14, "kimi-default-budget-tool-heavy", "add `thinking_token_budget: 0` under the provider's `extra_body`"),
        (16, "strip-service_tier", "remove `extra_body.service_tier` from the provider"),
        (17, "reject-tags", "remove `extra_body.tags` from the provider"),
        (18, "translate-reasoning", "use `extra_body.reasoning_effort` instead of `extra_body.reasoning`"),
    },
    ".env": {
        (4, "model-id-case-sensitive", 'set `OPENAI_MODEL` to "moonshotai/kimi-k2.6"'),
        (4, "reject-unknown-model", None),
        (5, "cap-max-tokens", "set `OPENAI_MAX_TOKENS` to 3072"),
    },
    "litellm_config.yaml": {  # the gpt-4o entry is another provider's: not linted
        (8, "cap-max-tokens", "set `litellm_params.max_tokens` to 3072"),
        (10, "strip-service_tier", "remove `litellm_params.extra_body.service_tier`"),
    },
    "openclaw.json": {
        (9, "strip-store", "set `compat.supportsStore` to false on the model (pi-ai then leaves out `store`)"),
        (15, "cap-max-tokens", "set `maxTokens` to 3072"),
        (15, "kimi-default-budget-tool-heavy", None),
        (17, "strip-store", "set `compat.supportsStore` to false on the model (pi-ai then leaves out `store`)"),
        (23, "cap-max-tokens", "set `maxTokens` to 3072"),
    },
}


def _json_report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--format", "json", "--isolated", "--no-ignore-file"])
    out = capsys.readouterr()
    return code, json.loads(out.out)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_problematic_config_reports_exactly_the_gateways_problems(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json_report(capsys, "--agent-config", str(DATA / "problematic" / name))
    got = {(f["line"], f["rule"], f["fix"]["description"]) for f in report["findings"]}
    wanted = EXPECTED[name]
    assert {(line, rule) for line, rule, _ in got} == {(line, rule) for line, rule, _ in wanted}
    for line, rule, fix in wanted:
        if fix is not None:
            assert (line, rule, fix) in got
    errors = any(f["severity"] == "error" for f in report["findings"])
    assert code == (1 if errors else 0)


@pytest.mark.parametrize("name", ["opencode.json", ".kilo/kilo.jsonc", ".hermes/config.yaml", "openclaw.json", ".env",
                                  "litellm_config.yaml"])
def test_clean_config_is_clean(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json_report(capsys, "--agent-config", str(DATA / "clean" / name))
    assert code == 0 and report["findings"] == [] and report["errors"] == []


def test_directory_finds_every_agent_config_and_lints_none_as_a_payload(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json_report(capsys, str(DATA / "problematic"))
    files = {Path(f["file"]).relative_to(DATA / "problematic").as_posix() for f in report["findings"]}
    assert files == set(EXPECTED)
    assert not any(f["rule"] in ("require-messages", "reject-unknown-param") for f in report["findings"])
    assert code == 1
    code, report = _json_report(capsys, str(DATA / "clean"))
    assert code == 0 and report["findings"] == []


def test_agent_config_directory_lints_the_known_configs_in_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, by_path = _json_report(capsys, str(DATA / "problematic"))
    code_dir, by_option = _json_report(capsys, "--agent-config", str(DATA / "problematic"))
    assert code_dir == code == 1 and by_option["errors"] == []
    assert by_option["findings"] == by_path["findings"]
    files = {Path(f["file"]).relative_to(DATA / "problematic").as_posix() for f in by_option["findings"]}
    assert files == set(EXPECTED)
    # the directory named both ways (and a config in it named too) is linted once
    _, twice = _json_report(capsys, "--agent-config", str(DATA / "problematic"), str(DATA / "problematic"),
                            "--agent-config", str(DATA / "problematic" / "opencode.json"))
    assert twice["findings"] == by_path["findings"]
    code, report = _json_report(capsys, "--agent-config", str(DATA / "clean"))
    assert code == 0 and report["findings"] == [] and report["errors"] == []


def test_agent_config_directory_without_a_known_config_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.json").write_text('{"model": "x"}')
    code = main(["--agent-config", str(tmp_path), "--isolated", "--no-ignore-file"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"gonka-lint: --agent-config {tmp_path}: no known agent config file in this directory")
    assert "opencode.json" in line and "not a file" not in line


def test_fix_in_client_vocabulary_and_message_names_the_client(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--agent-config", str(DATA / "problematic" / "opencode.json"), "--isolated", "--no-ignore-file"])
    out = capsys.readouterr().out
    assert "OpenCode sends max_tokens 32000 (no `limit.output` set) for moonshotai/Kimi-K2.6" in out
    assert "set `limit.output` to 4096" in out


def test_concise_lines_point_at_config_lines(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "problematic" / "openclaw.json"
    main(["--agent-config", str(path), "--format", "concise", "--isolated", "--no-ignore-file"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(str(path))]
    assert f"{path}:15:13: cap-max-tokens OpenClaw sends max_completion_tokens from `maxTokens` for " \
           "moonshotai/kimi-k2.6: max_completion_tokens capped at 3072" in lines
    assert len(lines) == len(EXPECTED["openclaw.json"])


def test_profile_follows_the_base_url_and_an_explicit_profile_wins(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "problematic" / "openclaw.json")
    _, report = _json_report(capsys, "--agent-config", path)
    assert {f["message"].rsplit(" ", 1)[-1] for f in report["findings"] if f["rule"] == "cap-max-tokens"} == {"3072"}
    _, report = _json_report(capsys, "--agent-config", path, "--profile", "hyperfusion.io")
    caps = {f["message"] for f in report["findings"] if f["rule"] == "cap-max-tokens"}
    assert caps and not any(m.endswith("3072") for m in caps)


def test_secrets_in_configs_never_reach_any_output(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("text", "concise", "json", "sarif", "github", "junit"):
        main([str(DATA / "problematic"), str(DATA / "clean"), "--format", fmt, "--isolated", "--no-ignore-file"])
        out = capsys.readouterr()
        for secret in SECRETS:
            assert secret not in out.out and secret not in out.err


@pytest.mark.parametrize("content, name, message", [
    ('{"provider": {', "opencode.json", "invalid JSON"),
    ("model: [unclosed\n", "config.yaml", "not a config of a known agent"),
    ("[1, 2]", "openclaw.json", "not a JSON object"),
    ("\udcff", "kilo.json", None),
])
def test_broken_configs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                             name: str, message: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", errors="surrogateescape"))
    code = main(["--agent-config", str(path), "--isolated", "--no-ignore-file"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and str(path) in err
    assert message is None or message in err


def test_missing_and_oversized_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--agent-config", str(tmp_path / "nope.json"), "--isolated"]) == 2
    assert "no such file" in capsys.readouterr().err
    big = tmp_path / "opencode.json"
    big.write_bytes(b'{"provider": {}, "x": "' + b"a" * (agentconfig.MAX_CONFIG_BYTES + 10) + b'"}')
    assert main(["--agent-config", str(big), "--isolated"]) == 2
    assert "larger than" in capsys.readouterr().err


def test_yaml_config_named_config_yaml_elsewhere_is_hermes_only_by_its_keys(tmp_path: Path) -> None:
    other = tmp_path / "config.yaml"
    other.write_text("database:\n  url: postgres://x\n")
    assert agentconfig.detect(other) is None
    shutil.copy(DATA / "clean" / ".hermes" / "config.yaml", other)
    assert agentconfig.detect(other) == "hermes"


def test_every_mapping_is_valid_and_cites_its_sources() -> None:
    specs = agentconfig.clients()
    assert {"opencode", "kilo", "hermes", "openclaw"} <= set(specs)
    for spec in specs.values():
        assert spec["sources"] and spec["checked"]
        assert spec["targets"] and spec["fields"]


def test_another_providers_models_are_not_linted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "opencode.json"
    path.write_text(json.dumps({"provider": {"openai": {"options": {"baseURL": "https://api.openai.com/v1"},
                                                         "models": {"gpt-4o": {"options": {"store": True}}}}}}))
    code, report = _json_report(capsys, "--agent-config", str(path))
    assert code == 0 and report["findings"] == []


HOSTILE = {
    "billion-laughs": ("config.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                                 f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                                 f"*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
                       + "model: {default: moonshotai/Kimi-K2.6, base_url: https://api.gonkagate.com/v1}\n"
                       + "providers:\n  g:\n    base_url: https://api.gonkagate.com/v1\n"
                       + "    models: {moonshotai/kimi-k2.6: {}}\n    extra_body: {metadata: *i}\n"),
    "deep-json": ("opencode.json", '{"provider": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "deep-yaml": ("config.yaml", "model: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    "nul": ("openclaw.json", '{"models": {}}\x00'),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_configs_are_bounded_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     name: str) -> None:
    import time

    file, content = HOSTILE[name]
    folder = tmp_path / ".hermes" if file == "config.yaml" else tmp_path
    folder.mkdir(exist_ok=True)
    path = folder / file
    path.write_text(content)
    started = time.monotonic()
    code = main(["--agent-config", str(path), "--isolated", "--no-ignore-file"])
    assert time.monotonic() - started < 30  # a generous safety bound, not a timing test
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2 and str(path) in err


# --- OpenClaw's thinking level (agents.defaults.thinkingDefault) ------------------------------------

def _openclaw_payloads(text: str, tmp_path: Path) -> dict[str, dict]:
    from gonka_conformance.catalogue.loader import load_catalogue
    from gonka_conformance.lint.runner import Options

    path = tmp_path / "openclaw.json"
    path.write_text(text, encoding="utf-8")
    spec = agentconfig.clients()["openclaw"]
    document = agentconfig.read_config(path, spec["format"])
    return {t.model: t.payload for t in agentconfig.targets(spec, document, Options(load_catalogue()))}


def test_openclaw_thinking_level_reaches_the_payload_as_reasoning_effort(tmp_path: Path) -> None:
    text = (DATA / "thinking" / "openclaw.json").read_text(encoding="utf-8")
    payloads = _openclaw_payloads(text, tmp_path)
    assert payloads["moonshotai/kimi-k2.6"]["reasoning_effort"] == "medium"  # adaptive falls back to medium
    assert "reasoning_effort" not in payloads["minimaxai/minimax-m2.7"]       # `reasoning: false`: not sent
    off = _openclaw_payloads(text.replace('"adaptive"', '"off"'), tmp_path)
    assert "reasoning_effort" not in off["moonshotai/kimi-k2.6"]
    high = _openclaw_payloads(text.replace('"adaptive"', '"high"'), tmp_path)
    assert high["moonshotai/kimi-k2.6"]["reasoning_effort"] == "high"
    unset = _openclaw_payloads(text.replace(',\n      "thinkingDefault": "adaptive"', ""), tmp_path)
    assert unset["moonshotai/kimi-k2.6"]["reasoning_effort"] == "low"         # OpenClaw's fallback


def test_openclaw_kimi_budget_finding_points_at_the_thinking_level(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "thinking" / "openclaw.json")
    _, report = _json_report(capsys, "--agent-config", path)
    got = {(f["line"], f["rule"], f["fix"]["description"]) for f in report["findings"]}
    assert got == {(34, "kimi-default-budget-tool-heavy",
                    "the thinking level reaches Kimi as `reasoning_effort`, which leaves the gateway's hidden budget "
                    "in place; OpenClaw cannot send `thinking_token_budget`, so keep `maxTokens` at 4096 or less")}
    _, report = _json_report(capsys, "--agent-config", path, "--revision", "2026-05")
    got = {(f["line"], f["rule"], f["fix"]["description"]) for f in report["findings"]}
    assert (34, "strip-reasoning_effort",
            'set `agents.defaults.thinkingDefault` to "off" (pi-ai then leaves out `reasoning_effort`)') in got


# --- OpenAI-SDK .env files and LiteLLM configs --------------------------------------------------------

def test_dotenv_reading_and_detection(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\n\nexport OPENAI_MODEL='moonshotai/kimi-k2.6'\nOPENAI_MAX_TOKENS = 9000 # note\n"
                   'OPENAI_BASE_URL="https://api.gonkagate.com/v1"\n', encoding="utf-8")
    document = agentconfig.read_config(env, "dotenv")
    assert document.data == {"OPENAI_MODEL": "moonshotai/kimi-k2.6", "OPENAI_MAX_TOKENS": "9000",
                             "OPENAI_BASE_URL": "https://api.gonkagate.com/v1"}
    assert document.locate("/OPENAI_MAX_TOKENS") == (4, 1) and document.locate("/OPENAI_MODEL") == (3, 8)
    assert agentconfig.detect(env) == "dotenv"
    unrelated = tmp_path / "other" / ".env"
    unrelated.parent.mkdir()
    unrelated.write_text("DATABASE_URL=postgres://localhost/db\n", encoding="utf-8")
    assert agentconfig.detect(unrelated) is None  # a .env with no OpenAI variable is not an app's LLM config
    named = tmp_path / "app.env"
    named.write_text(env.read_text(encoding="utf-8"), encoding="utf-8")
    assert agentconfig.guess(named) == "dotenv"
    assert agentconfig.guess(DATA / "problematic" / "openclaw.json") == "openclaw"  # JSON is never a .env


def test_dotenv_value_the_app_cannot_parse_is_not_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text("OPENAI_BASE_URL=https://api.gonkagate.com/v1\nOPENAI_MODEL=minimaxai/minimax-m2.7\n"
                   "OPENAI_MAX_TOKENS=lots\n", encoding="utf-8")
    code, report = _json_report(capsys, "--agent-config", str(env))
    assert code == 0 and report["findings"] == []


def test_litellm_config_yaml_is_litellm_and_hermes_stays_hermes(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(DATA / "problematic" / "litellm_config.yaml", config)
    assert agentconfig.detect(config) == "litellm"
    assert agentconfig.detect(DATA / "problematic" / ".hermes" / "config.yaml") == "hermes"


def test_api_key_in_a_dotenv_never_reaches_any_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Built from parts: no key-shaped literal in the tree.
    key = "sk-" + "proj-" + "Zq81" * 10 + "T3BlbkFJ" + "x9Wm" * 5
    env = tmp_path / ".env"
    env.write_text(f"OPENAI_API_KEY={key}\nOPENAI_BASE_URL=https://api.gonkagate.com/v1\n"
                   f"OPENAI_MODEL=moonshotai/Kimi-K2.6\nOPENAI_MAX_TOKENS=32000\nOPENAI_MODEL_NAME={key}\n",
                   encoding="utf-8")
    broken = tmp_path / "broken" / ".env"
    broken.parent.mkdir()
    broken.write_text(f"OPENAI_MODEL=moonshotai/kimi-k2.6\n{key}\n", encoding="utf-8")
    misplaced = tmp_path / "misplaced" / ".env"  # the key pasted as the model: the gateway's 400 quotes it
    misplaced.parent.mkdir()
    misplaced.write_text(f"OPENAI_BASE_URL=https://api.gonkagate.com/v1\nOPENAI_MODEL={key}\n", encoding="utf-8")
    for fmt in ("text", "concise", "json", "sarif", "github", "junit"):
        main(["--agent-config", str(env), "--agent-config", str(broken), "--agent-config", str(misplaced),
              "--format", fmt, "--isolated", "--no-ignore-file"])
        out = capsys.readouterr()
        assert "cap-max-tokens" in out.out and "reject-unknown-model" in out.out
        assert key not in out.out and key not in out.err and key[:12] not in out.out + out.err
