"""Cost-aware probing: the cheap tier's token budget, packed requests, bisection and the
unsent cases of a black-box target — with no loss of detection against deviant gateways."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.catalogue.model import Rule
from gonka_conformance.live.cases import live_cases
from gonka_conformance.live.packing import Planner, token_shares
from gonka_conformance.reports.model import schema
from models import KIMI, MINIMAX
from test_live_suite import altered_catalogue, by_outcome, gateway, run_suite

#: The cheap tier on the embedded gateway's four models spent 23,287 tokens before packing.
CHEAP_TIER_BUDGET = 8000


def test_the_cheap_tier_on_the_embedded_gateway_stays_within_its_token_budget(monkeypatch, tmp_path) -> None:
    session = run_suite(None, monkeypatch, models=None, report_dir=str(tmp_path))
    assert len(session.run.models) == 4 and session.embedded
    assert {r.outcome for r in session.results()} == {"pass"}, [(r.key, r.problems) for r in session.results() if r.outcome != "pass"]
    spent = session.run.tokens_spent
    assert 0 < spent <= CHEAP_TIER_BUDGET
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, schema())
    tokens = report["tokens"]
    assert tokens["spent"] == spent == sum(tokens["by_model"].values()) == sum(c["tokens"] for c in report["cases"])
    assert set(tokens["by_model"]) == set(report["target"]["models"])
    assert tokens["naive_estimate"] > 2 * spent and tokens["saved_estimate"] == tokens["naive_estimate"] - spent
    assert tokens["requests_shared"] > 100 and tokens["not_sent"] == 0  # the white-box view sees every case
    # the fingerprint still names single cases: a pack's siblings are not blamed for one member's rule
    older = next(c for c in report["fingerprint"]["candidates"] if c["revision"] == "2026-05" and c["profile"] is None)
    blamed = {key.split("[")[0] for key in older["contradictions"]}
    assert "strip-stream-options:not-streaming" in blamed and "strip-store" not in blamed
    assert report["fingerprint"]["best"]["revision"] == "2026-09" and report["fingerprint"]["best"]["contradictions"] == []


def test_a_black_box_target_is_not_sent_what_it_cannot_show(monkeypatch) -> None:
    with gateway() as gw:
        white = run_suite(gw, monkeypatch, models=[MINIMAX])
        black = run_suite(gw, monkeypatch, models=[MINIMAX], whitebox=False)
    unsent = [r for r in black.results() if r.packed == 0]
    assert unsent and all(r.outcome == "unobservable" and r.tokens == 0 and "not sent" in r.problems[0] for r in unsent)
    assert {r.outcome for r in black.results()} == {"pass", "unobservable"}
    # a reference-only case whose request is rejected is still sent: its status is observable
    rejected = [r for r in black.results() if r.rule == "reject-tags"]
    assert rejected and all(r.outcome == "pass" and r.packed == 1 for r in rejected)
    assert black.run.tokens_spent < white.run.tokens_spent


def test_packs_join_only_cases_the_engine_predicts_together() -> None:
    catalogue = load_catalogue()
    revision = catalogue.revision(None).id
    items = [(case, MINIMAX) for case in live_cases(catalogue) if case.applies_to(catalogue, MINIMAX, revision)]
    packs = Planner(catalogue, revision).plan(items, whitebox=True)
    packed = [case for pack in packs for case in pack.cases]
    assert len(packed) == len({case.id for case in packed})  # a case is in one pack at most
    for case in packed:
        assert case.rule.stage != "route" and "raw_body" not in case.spec and "headers" not in case.spec
        assert case.expect.get("status", 200) == 200 and not (case.spec.get("request") or {}).get("stream")
    strips = {case.rule.id for case in packed if case.rule.kind == "strip"}
    assert {"strip-store", "strip-provider"} <= strips
    # without the white-box view a reference-only case is never packed (it is not sent at all)
    assert all(case.observable == "black-box" for pack in Planner(catalogue, revision).plan(items, whitebox=False) for case in pack.cases)


def test_token_shares_add_up() -> None:
    assert token_shares(10, [1, 1, 1]) == [4, 3, 3]
    assert token_shares(7, [100, 300]) == [2, 5]
    assert sum(token_shares(1001, [5, 0, 7, 9])) == 1001
    assert token_shares(5, [0, 0]) == [3, 2] and token_shares(0, []) == []


# --- no lost detection: one alteration per rule kind and stage, each caught by the cheap tier ---

DEVIANTS = {
    "reject-message": ("10-params.yaml", '"{field}: must be greater than 0"', '"{field}: must be positive"', "reject-nonpositive-max-tokens"),
    "reject-limit": ("10-params.yaml", "with: {max_entries: 16, max_length: 256}", "with: {max_entries: 20, max_length: 256}", "limit-stop"),
    "strip": ("11-strips.yaml", "match: {path: /store, transform: strip}", "match: {path: /store_never, transform: strip}", "strip-store"),
    "clamp": ("10-params.yaml", "transform: sanitize-float, with: {min: 0, max: 2}}", "transform: sanitize-float, with: {min: 0, max: 3}}", "clamp-temperature"),
    "coerce": ("10-params.yaml", "transform: force-value, with: {value: 1, only_uint: true}", "transform: force-value, with: {value: 2, only_uint: true}", "coerce-n-when-temperature-zero"),
    "default": ("30-schemas.yaml", "transform: default-with-sibling, with: {sibling: tools, value: auto}", "transform: default-with-sibling, with: {sibling: tools, value: none}", "default-tool-choice-auto"),
    "translation": ("40-thinking.yaml", '{path: /reasoning, transform: translate-reasoning, with: {enabled_false_effort: none}, revisions: {from: "2026-09"}}',
                    '{path: /reasoning_never, transform: translate-reasoning, with: {enabled_false_effort: none}, revisions: {from: "2026-09"}}', "translate-reasoning"),
    # force: a force-* transform (pre, Kimi) and a forced zero of the post stage (Kimi, max_tokens < 256)
    "force": ("10-params.yaml", "{path: /frequency_penalty, transform: force-value, with: {value: 0.0}}",
              "{path: /frequency_penalty, transform: force-value, with: {value: 0.1}}", "force-kimi-penalties-zero"),
    "force-post": ("40-thinking.yaml", "force_zero_below: 256", "force_zero_below: 100", "kimi-empty-content-think-burn"),
    "unwrap": ("00-request.yaml", "{path: /extra_body, transform: unwrap-extra-body}", "{path: /extra_body_never, transform: unwrap-extra-body}", "unwrap-extra_body"),
    # an accept rule has no verb of its own: its deviant is a gateway refusing what it accepts, here
    # the disputed 2026-05 reject of structured_outputs on MiniMax taken as its side in 2026-09
    "accept": ("30-schemas.yaml", 'applies: {families: [minimax], revisions: {until: "2026-05"}}\n    match: {path: /structured_outputs, check: present}\n'
               '    action: {reject: {status: 400, message: *not_supported}}\n    evidence:\n      status: disputed\n      default: accepted',
               'applies: {families: [minimax]}\n    match: {path: /structured_outputs, check: present}\n'
               '    action: {reject: {status: 400, message: *not_supported}}\n    evidence:\n      status: disputed\n      default: rejected',
               "accept-structured_outputs-minimax"),
    "messages": ("20-messages.yaml", 'with: {sentinel: "<empty tool result>"}', 'with: {sentinel: "<no tool result>"}', "normalize-empty-tool-content"),
    # the stages around the parameter rules: read, scan, parse, typed
    "read": ("00-request.yaml", "with: {limit: 10485760}", "with: {limit: 10485762}", "limit-body-size"),
    "scan": ("00-request.yaml", "with: {limit: 32}", "with: {limit: 33}", "limit-nesting-depth"),
    "parse": ("00-request.yaml", 'message: "parse request: {error}"', 'message: "decode request: {error}"', "reject-malformed-json"),
    "typed": ("10-params.yaml", 'integer: "parse request: {field} must be a non-negative integer"', 'integer: "parse request: {field} must be an integer"', "reject-typed-fields"),
    # route rules (answered around normalize, never packed)
    "route-model": ("70-gateway.yaml", 'message: "unsupported model {model:q}; supported models: {models}"',
                    'message: "unknown model {model:q}; supported models: {models}"', "reject-unknown-model"),
    "route-access": ("70-gateway.yaml", 'status: 401, message: "model {model:q} requires an API key"',
                     'status: 403, message: "model {model:q} requires an API key"', "require-api-key"),
    # response rules, one per respond verb (stream-end: test_a_stream_without_its_end_event_…)
    "response-set-id": ("70-gateway.yaml", 'template: "devshard-{escrow}-{inference}"', 'template: "chatcmpl-{escrow}-{inference}"', "response-id-format"),
    "response-strip-fields": ("70-gateway.yaml", "with: {fields: [token_ids, prompt_token_ids, prompt_logprobs]}",
                              "with: {fields: [prompt_token_ids, prompt_logprobs]}", "strip-response-token-ids"),
    "response-strip-stream-fields": ("70-gateway.yaml", "unless_true: [/stream_options/include_usage]", "unless_true: [/stream_options/include_usage_never]",
                                     "strip-stream-usage-unless-asked"),
}


#: Respond verbs whose deviant has a test of its own: an altered end event leaves every other
#: stream case unjudgeable (an error), so the outcome set differs from the common test's.
OWN_TEST_VERBS = {"stream-end"}


def test_the_deviants_cover_every_kind_stage_and_respond_verb_with_a_cheap_live_example() -> None:
    catalogue = load_catalogue()
    rules = {rule.id: rule for rule in catalogue.rules}
    deviant = [rules[rule] for _file, _old, _new, rule in DEVIANTS.values()]
    cheap = list({case.rule.id: case.rule for case in live_cases(catalogue)}.values())
    assert {r.kind for r in cheap} == {r.kind for r in deviant}
    assert {r.stage for r in cheap} == {r.stage for r in deviant}

    def verbs(of: list[Rule]) -> set[str]:
        return {target.respond for rule in of for target in rule.targets if target.respond}

    assert verbs(cheap) - OWN_TEST_VERBS == verbs(deviant) and OWN_TEST_VERBS <= verbs(cheap)


@pytest.mark.parametrize("kind", sorted(DEVIANTS))
def test_a_deviant_rule_of_every_kind_is_still_caught_by_the_cheap_tier(kind, monkeypatch, tmp_path) -> None:
    file, old, new, rule = DEVIANTS[kind]
    deviant = altered_catalogue(tmp_path, file, old, new)
    with gateway(catalogue=deviant) as gw:
        session = run_suite(gw, monkeypatch, models=[KIMI, MINIMAX])
    failing = [r for r in session.results() if r.outcome == "fail"]
    assert rule in {r.rule for r in failing}, by_outcome(session)
    assert set(by_outcome(session)) <= {"pass", "fail"} and session.exit_code() == 1
    # bisected: every deviation is judged on a request of its own, with its own reproducer
    for result in failing:
        assert result.packed == 1 and result.problems and result.curl
    # the requests spent on packs and on bisecting them are all accounted to cases
    assert sum(r.tokens for r in session.results()) == session.run.tokens_spent
    outcomes = Counter(r.outcome for r in session.results())
    assert outcomes["pass"] > 100  # the rest of every pack it was in still passes


def test_a_stream_without_its_end_event_fails_the_end_event_rule(monkeypatch, tmp_path) -> None:
    """A gateway whose complete (chunked) streams end without ``data: [DONE]``: the rule about
    the end event fails (with any other case that expects the end event); no other stream case
    passes on such an answer (each is an error)."""
    deviant = altered_catalogue(tmp_path, "70-gateway.yaml", 'respond: stream-end, with: {event: "[DONE]"}',
                                'respond: stream-end, with: {event: "{}"}')
    with gateway(catalogue=deviant) as gw:
        session = run_suite(gw, monkeypatch, models=[KIMI, MINIMAX])
    results = session.results()
    failing = {r.rule for r in results if r.outcome == "fail"}
    expects_the_end = {case.rule.id for case in live_cases(deviant) if case.expect.get("stream_done")}
    assert "stream-done-sentinel" in failing and failing <= expects_the_end, by_outcome(session)
    done_problem = next(r for r in results if r.rule == "stream-done-sentinel").problems
    assert any("[DONE]" in p for p in done_problem), done_problem
    # (today every cheap 200 stream case expects the end event; one that did not would be an error)
    errors = [r for r in results if r.outcome == "error"]
    assert all("without data: [DONE]" in " ".join(r.problems) for r in errors), errors
    assert {r.outcome for r in results} <= {"pass", "fail", "error"} and session.exit_code() == 1
