"""Run live cases against a target: discovery, concurrency, budget, repeats, verdicts."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import httpx

from ..catalogue.loader import Catalogue
from ..engine.pipeline import family_of
from .cases import LiveCase, LiveRequest, build_request, live_cases
from .judge import Expectation, expect, judge
from .observe import Observation, Target, endpoint, send
from .redact import Redactor


class TargetUnreachable(Exception):
    """The target could not be reached at all (discovery failed)."""


@dataclass
class RunConfig:
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str = "GONKA_API_KEY"
    profile: str | None = None
    revision: str | None = None
    models: list[str] | None = None
    tier: str = "cheap"
    budget_tokens: int | None = None
    concurrency: int = 4
    timeout: float = 60.0
    retries: int = 2
    repeat: int = 1
    baseline: dict[str, str] = field(default_factory=dict)  # "case[model]" -> reason


@dataclass
class CaseResult:
    key: str  # "<case-id>[<test id>]": the pytest name, made of safe characters only
    case_id: str
    rule: str
    anchor: str | None
    severity: str
    model: str  # the model id as the target named it (redacted, printable)
    family: str | None
    outcome: str
    expected: str
    observed: str
    problems: list[str]
    request: str  # redacted excerpt
    response: str  # redacted excerpt
    curl: str
    tokens: int
    elapsed: float
    divergence: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: Limits of what a report keeps of each text (applied after redaction, by ``Redactor.clip``).
EXCERPT_CHARS = 2000
OBSERVED_CHARS = 600
PROBLEM_CHARS = 600
SERVER_ERROR_CHARS = 200
CURL_CHARS = 8192  # a body up to 4 KiB is inlined
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._/:-]")
MAX_ID_CHARS = 80


def item_key(case: LiveCase, model_id: str) -> str:
    return f"{case.id}[{model_id}]"


def safe_model_id(model: str, redactor: Redactor) -> str:
    """The model's part of a pytest name: the id itself when it is made of safe characters,
    else its redacted text with every other character replaced and a short hash of the real
    id, so distinct ids stay distinct and the same id always maps to the same name. pytest
    prints names to terminals and pytest-html renders them as HTML: neither may see broker
    markup, escapes or secrets."""
    if not _UNSAFE_ID.search(model) and len(model) <= MAX_ID_CHARS and redactor.text(model) == model:
        return model
    shown = _UNSAFE_ID.sub("_", redactor.text(model))[:MAX_ID_CHARS]
    return f"{shown}-{hashlib.sha256(model.encode('utf-8', 'replace')).hexdigest()[:8]}"


def discover_models(client: httpx.Client, target: Target) -> list[str]:
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    try:
        response = client.get(endpoint(target.base_url, "/models"), headers=headers, timeout=min(target.timeout, 30.0))
    except httpx.InvalidURL as exc:
        raise TargetUnreachable(f"invalid base URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"cannot reach {target.base_url}: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise TargetUnreachable(f"GET /models answered HTTP {response.status_code}")
    try:
        data = response.json()
        ids = [entry["id"] for entry in data["data"] if isinstance(entry.get("id"), str)]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TargetUnreachable("GET /models did not return an OpenAI model list") from None
    return ids


class LiveRun:
    """One run: the selected (case, model) items, their observations and verdicts."""

    def __init__(self, catalogue: Catalogue, config: RunConfig, target: Target, redactor: Redactor,
                 whitebox: Callable[[str, str | None], Any] | None = None) -> None:
        self.catalogue = catalogue
        self.config = config
        self.target = target
        self.redactor = redactor
        self.whitebox = whitebox
        self.revision = catalogue.revision(config.revision).id
        self.models: list[str] = []
        self.tokens_spent = 0
        self._lock = threading.Lock()
        self.results: dict[str, CaseResult] = {}
        self.observations: dict[str, list[tuple[LiveRequest, Observation]]] = {}
        self._forwarded_cache: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None

    # -- selection ----------------------------------------------------------------------------

    def items(self) -> list[tuple[LiveCase, str]]:
        cases = live_cases(self.catalogue, self.config.tier)
        return [(case, model) for case in cases for model in self.models
                if case.applies_to(self.catalogue, model, self.revision)]

    def shown_models(self) -> list[str]:
        """The models as reports show them (the same text as each result's ``model``)."""
        return [self.redactor.clip(model, OBSERVED_CHARS) for model in self.models]

    def key(self, case: LiveCase, model: str) -> str:
        return item_key(case, safe_model_id(model, self.redactor))

    # -- execution ----------------------------------------------------------------------------

    def execute(self, items: Iterable[tuple[LiveCase, str]]) -> None:
        """Run every item now, concurrently, and wait for all of them."""
        futures = [self.submit(case, model) for case, model in items]
        wait(futures)
        self.shutdown()

    def submit(self, case: LiveCase, model: str) -> Future[CaseResult]:
        """Queue one item on the run's pool (opened on first use); its result is also kept in
        ``results`` when it is done."""
        with self._lock:
            if self._pool is None:
                self._client = httpx.Client(http2=False, follow_redirects=False)
                self._pool = ThreadPoolExecutor(max_workers=max(1, self.config.concurrency), thread_name_prefix="gonka-live")
            return self._pool.submit(self._run_item_safely, self._client, case, model)

    def shutdown(self) -> None:
        """Stop sending: queued items are cancelled, running ones finish (they are bounded)."""
        with self._lock:
            pool, client, self._pool, self._client = self._pool, self._client, None, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()

    def _run_item_safely(self, client: httpx.Client, case: LiveCase, model: str) -> CaseResult:
        try:
            result = self._run_item(client, case, model)
        except Exception as exc:  # broker data the judge did not expect: this case's error, never the run's
            result = self._harness_error(case, model, f"internal error while judging the answer: {type(exc).__name__}: {exc}")
        self.results[result.key] = result
        return result

    def _harness_error(self, case: LiveCase, model: str, message: str) -> CaseResult:
        text = self.redactor.clip(message, PROBLEM_CHARS)
        return CaseResult(
            key=self.key(case, model), case_id=case.id, rule=case.rule.id, anchor=case.rule.anchor,
            severity=case.rule.severity, model=self.redactor.clip(model, OBSERVED_CHARS), family=family_of(self.catalogue, model),
            outcome="error", expected="", observed=f"error: {text}", problems=[text], request="", response="", curl="",
            tokens=0, elapsed=0.0,
        )

    def _run_item(self, client: httpx.Client, case: LiveCase, model: str) -> CaseResult:
        key = self.key(case, model)
        runs: list[tuple[LiveRequest, Observation]] = []
        for _ in range(max(1, self.config.repeat)):
            request = build_request(case, model)
            if self._budget_exhausted():
                obs = Observation(error=f"token budget of {self.config.budget_tokens} exhausted: not sent")
            else:
                obs = send(client, self.target, request)
                with self._lock:
                    self.tokens_spent += obs.tokens
            runs.append((request, obs))
        self.observations[key] = runs
        return self._verdict(case, model, runs)

    def _budget_exhausted(self) -> bool:
        budget = self.config.budget_tokens
        with self._lock:
            return budget is not None and self.tokens_spent >= budget

    # -- verdicts -----------------------------------------------------------------------------

    def _verdict(self, case: LiveCase, model: str, runs: list[tuple[LiveRequest, Observation]]) -> CaseResult:
        verdicts = [self._single(case, model, request, obs) for request, obs in runs]
        outcome, problems, divergence, _ = verdicts[0]
        if len({v[0] for v in verdicts}) > 1 or len({(o.status, o.error_message) for _, o in runs}) > 1:
            if any(v[0] == "error" for v in verdicts):
                outcome = "error"
            else:
                outcome = "fail"
            seen = ", ".join(f"HTTP {o.status}" + (f" {o.error_message!r}" if o.error_message else "") for _, o in runs)
            problems = [f"inconsistent across {len(runs)} repeats: {seen}"] + problems
        request, obs = runs[-1]
        key = self.key(case, model)
        baseline_reason = self.config.baseline.get(key)
        if baseline_reason is not None:
            if outcome in ("fail", "error"):
                outcome = "xfail"
            elif outcome == "pass":
                outcome = "xpass"
                problems = [f"stale baseline entry: this case now passes (baseline said: {baseline_reason})"]
        expectation = verdicts[-1][3]  # the last request's, as the observation shown
        clip = self.redactor.clip  # every text below is broker- or user-derived: redacted, then cut
        return CaseResult(
            key=key, case_id=case.id, rule=case.rule.id, anchor=case.rule.anchor,
            severity=case.rule.severity, model=clip(model, OBSERVED_CHARS), family=family_of(self.catalogue, model),
            outcome=outcome, expected=clip(expectation.describe(), OBSERVED_CHARS),
            observed=clip(self._describe(obs), OBSERVED_CHARS), problems=[clip(p, PROBLEM_CHARS) for p in problems],
            request=clip(request.body.decode("utf-8", "replace"), EXCERPT_CHARS, keep_newlines=True),
            response=clip(obs.text or (json.dumps(obs.chunks[:6]) if obs.chunks else ""), EXCERPT_CHARS, keep_newlines=True),
            curl=clip(curl_command(self.target, request), CURL_CHARS),
            tokens=sum(o.tokens for _, o in runs), elapsed=round(sum(o.elapsed for _, o in runs), 4),
            divergence=divergence,
        )

    def _single(self, case: LiveCase, model: str, request: LiveRequest,
                obs: Observation) -> tuple[str, list[str], str | None, Expectation]:
        """(outcome, problems, divergence note, the upstream expectation) of one request."""
        upstream = expect(self.catalogue, case, request, model, self.revision)
        if obs.error:
            return "error", [obs.error], None, upstream
        if obs.status is not None and obs.status >= 500:
            said = self.redactor.clip(obs.error_message or obs.text, SERVER_ERROR_CHARS)
            return "error", [f"HTTP {obs.status} from the target: {said}"], None, upstream
        forwarded = None
        if case.observable == "reference-only":
            forwarded = self._forwarded(request, obs)
            if forwarded is None and obs.status == upstream.status:
                # The status agrees; the silent change itself cannot be seen from outside.
                return "unobservable", ["reference-only rule: a black-box target cannot show it"], None, upstream
        problems = judge(case, upstream, obs, forwarded)
        if not problems:
            return "pass", [], None, upstream
        if self.config.profile:
            overlay = expect(self.catalogue, case, request, model, self.revision, profile=self.config.profile)
            if not judge(case, overlay, obs, forwarded):
                return "divergent", problems, self._divergence_note(case), upstream
        return "fail", problems, None, upstream

    def _forwarded(self, request: LiveRequest, obs: Observation) -> Any:
        if not self.whitebox or not request.nonce:
            return None
        if request.nonce not in self._forwarded_cache:  # the white-box view is asked once per request
            self._forwarded_cache[request.nonce] = self.whitebox(request.nonce, obs.headers.get("x-request-id"))
        return self._forwarded_cache[request.nonce]

    def _divergence_note(self, case: LiveCase) -> str:
        broker = self.catalogue.broker(self.config.profile or "")
        notes = [f"{d.behaviour} ({d.source}, observed {d.observed})" for d in broker.divergences if d.rule == case.rule.id]
        return f"documented by the {broker.id} profile" + (": " + "; ".join(notes) if notes else " (limits)")

    @staticmethod
    def _describe(obs: Observation) -> str:
        if obs.error:
            return f"error: {obs.error}"
        text = f"HTTP {obs.status}"
        if obs.error_message:
            text += f" {obs.error_message!r}"
        elif obs.chunks:
            text += f", {len(obs.chunks)} stream events" + (", [DONE]" if obs.done else "")
        return text

    # -- fingerprint --------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        """Which revision and broker profile best explain the observations (fingerprint.py)."""
        from .fingerprint import fingerprint

        return fingerprint(self)


def curl_command(target: Target, request: LiveRequest) -> str:
    """A copy-paste reproducer; the key is referenced through the environment, never inlined."""
    parts = ["curl", "-sS", shlex.quote(target.chat_url), "-H", shlex.quote("Content-Type: application/json")]
    if not request.remove_auth:
        parts += ["-H", '"Authorization: Bearer $GONKA_API_KEY"']
    for name, value in request.headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = request.body.decode("utf-8", "replace")
    if len(body) > 4096:
        parts += ["--data-binary", "@request.json", f"# body of {len(request.body)} bytes not inlined"]
    else:
        parts += ["--data-binary", shlex.quote(body)]
    return " ".join(parts)


def resolve_api_key(config: RunConfig) -> str | None:
    return config.api_key if config.api_key is not None else os.environ.get(config.api_key_env)
