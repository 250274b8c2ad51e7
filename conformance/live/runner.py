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
from ..engine import family_of, limits_for
from .outcomes import Outcome
from . import disputed
from .cases import LiveCase, LiveRequest, build_packed_request, build_request, live_cases
from .judge import Expectation, expect, judge
from .observe import Observation, Target, send
from .options import DEFAULTS
from .packing import PLAN_NONCE, Pack, Planner, packable, token_shares
from ..common.redact import Redactor
from .transport import bounded_client


@dataclass
class RunConfig:
    """The runner's settings; each default is the live option's (options.py), never restated."""

    base_url: str | None = DEFAULTS.base_url
    api_key: str | None = None  # given directly (tests, library use); the options name only its variable
    api_key_env: str = DEFAULTS.api_key_env
    profile: str | None = DEFAULTS.profile
    revision: str | None = DEFAULTS.revision
    models: list[str] | None = None  # --models, split (None: GET /models)
    tier: str = DEFAULTS.tier
    budget_tokens: int | None = DEFAULTS.budget_tokens
    concurrency: int = DEFAULTS.concurrency
    timeout: float = DEFAULTS.timeout
    retries: int = DEFAULTS.retries
    repeat: int = DEFAULTS.repeat
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
    packed: int = 1  # how many cases shared the request this verdict was judged on (0: not sent)
    tokens_alone: int | None = None  # estimated tokens had the case been sent by itself

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
        self._packs: dict[str, Pack] = {}  # item key -> the pack it is sent in
        self._pack_futures: dict[int, Future[None]] = {}
        self._expectations: dict[tuple[str, bytes, str, str, str | None], Expectation] = {}
        self._engine_views: dict[str | None, tuple[Any, ...]] = {}
        self._members: dict[str, list[LiveCase]] = {}  # nonce of a shared request -> its cases

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
        selected = list(items)
        self.plan(selected)
        futures = [self.submit(case, model) for case, model in selected]
        wait(futures)
        self.shutdown()

    def plan(self, items: Iterable[tuple[LiveCase, str]]) -> None:
        """Pack the selected items that may share a request (``packing``); call before
        submitting them. An item submitted without a plan is sent by itself."""
        profiles = (None, self.config.profile) if self.config.profile else (None,)
        planner = Planner(self.catalogue, self.revision, profiles)
        self._packs = {self.key(case, pack.model): pack
                       for pack in planner.plan(items, whitebox=self.whitebox is not None) for case in pack.cases}

    def submit(self, case: LiveCase, model: str) -> Future[CaseResult]:
        """Queue one item on the run's pool (opened on first use); its result is also kept in
        ``results`` when it is done. A packed item queues its pack (once) and waits for it."""
        key = self.key(case, model)
        with self._lock:
            client = self._client
            if self._pool is None or client is None:  # the two are opened and closed together
                self._client = client = bounded_client(self.target.base_url)
                self._pool = ThreadPoolExecutor(max_workers=max(1, self.config.concurrency), thread_name_prefix="gonka-live")
            pack = self._packs.get(key)
            if pack is None:
                return self._pool.submit(self._run_item_safely, client, case, model)
            if id(pack) not in self._pack_futures:
                self._pack_futures[id(pack)] = self._pool.submit(self._run_pack_safely, client, pack)
            return self._member(self._pack_futures[id(pack)], key)

    def _member(self, pack_future: Future[None], key: str) -> Future[CaseResult]:
        member: Future[CaseResult] = Future()

        def settle(done: Future[None]) -> None:
            if done.cancelled():
                member.cancel()
            elif done.exception() is not None:
                member.set_exception(done.exception())
            else:
                member.set_result(self.results[key])

        pack_future.add_done_callback(settle)
        return member

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
            result = self.harness_error(case, model, f"internal error while judging the answer: {type(exc).__name__}: {exc}")
        self.results[result.key] = result
        return result

    def harness_error(self, case: LiveCase, model: str, message: str) -> CaseResult:
        text = self.redactor.clip(message, PROBLEM_CHARS)
        return CaseResult(
            key=self.key(case, model), case_id=case.id, rule=case.rule.id, anchor=case.rule.anchor,
            severity=case.rule.severity, model=self.redactor.clip(model, OBSERVED_CHARS), family=family_of(self.catalogue, model),
            outcome=Outcome.ERROR, expected="", observed=f"error: {text}", problems=[text], request="", response="", curl="",
            tokens=0, elapsed=0.0,
        )

    def _run_item(self, client: httpx.Client, case: LiveCase, model: str) -> CaseResult:
        key = self.key(case, model)
        unseen = self._unobservable_unsent(case, model)
        if unseen is not None:
            return unseen
        runs = self._send_runs(client, lambda: build_request(case, model))
        self.observations[key] = runs
        try:
            result = self._verdict(case, model, runs)
        except Exception as exc:  # a harness bug on one case's data is that case's error, not the run's end
            result = self._broken(case, model, runs, exc)
        result.tokens_alone = result.tokens
        return result

    def _send_runs(self, client: httpx.Client, build: Callable[[], LiveRequest]) -> list[tuple[LiveRequest, Observation]]:
        runs: list[tuple[LiveRequest, Observation]] = []
        for _ in range(max(1, self.config.repeat)):
            request = build()
            if self._budget_exhausted():
                obs = Observation(error=f"token budget of {self.config.budget_tokens} exhausted: not sent")
            else:
                obs = send(client, self.target, request)
                with self._lock:
                    self.tokens_spent += obs.tokens
            runs.append((request, obs))
        return runs

    def _unobservable_unsent(self, case: LiveCase, model: str) -> CaseResult | None:
        """A reference-only case on a black-box target whose request the gateway accepts: its
        only expectation is the silent change, which no response shows. It is not sent."""
        if self.whitebox is not None or case.observable != "reference-only" or not set(case.expect) <= {"status", "forwarded"}:
            return None
        request = build_request(case, model)
        upstream = expect(self.catalogue, case, request, model, self.revision)
        if upstream.status != 200:
            return None  # its rejection is observable: sent
        for revision in self.catalogue.revisions:  # a revision or a broker documented to answer
            for profile in (None, *self.catalogue.brokers):  # otherwise makes the answer tell
                if expect(self.catalogue, case, request, model, revision.id, profile=profile).status != 200:
                    return None
        reason = "not sent: reference-only rule, its change is invisible to a black-box target (no --whitebox-url)"
        result = self.harness_error(case, model, reason)
        result.outcome, result.observed, result.expected, result.packed = Outcome.UNOBSERVABLE, reason, upstream.describe(), 0
        return result

    # -- packs --------------------------------------------------------------------------------

    def _run_pack_safely(self, client: httpx.Client, pack: Pack) -> None:
        try:
            self._run_pack(client, pack.model, list(pack.cases), {})
        except Exception as exc:  # as for one item: the pack's cases error, the run goes on
            for case in pack.cases:
                result = self.harness_error(case, pack.model, f"internal error while judging a packed answer: {type(exc).__name__}: {exc}")
                self.results.setdefault(result.key, result)

    def _run_pack(self, client: httpx.Client, model: str, cases: list[LiveCase], inherited: dict[str, int]) -> None:
        """Send ``cases`` in one request and judge each; a pack that deviates is bisected, so
        every deviation ends up with its own request and evidence. ``inherited`` carries each
        case's share of the tokens its enclosing packs spent."""
        if len(cases) == 1:
            result = self._run_item_safely(client, cases[0], model)
            result.tokens += inherited.get(result.key, 0)
            return
        runs = self._send_runs(client, lambda: build_packed_request(cases, model))
        results = [self._verdict(case, model, runs) for case in cases]
        sizes = [len(build_request(case, model, PLAN_NONCE).body) for case in cases]
        spent = sum(obs.tokens for _, obs in runs)
        shares = token_shares(spent, sizes)
        if all(r.outcome == Outcome.ERROR for r in results) or all(r.outcome in (Outcome.PASS, Outcome.UNOBSERVABLE) for r in results):
            # Agreement, or nothing observed at all (bisecting a failing target only spends more).
            packed_len = len(runs[-1][0].body)
            self._members.update({request.nonce: cases for request, _ in runs})
            for case, result, share, size in zip(cases, results, shares, sizes):
                result.tokens = share + inherited.get(result.key, 0)
                result.tokens_alone = sum(_alone_estimate(obs, size, packed_len) for _, obs in runs)
                result.packed = len(cases)
                self.observations[result.key] = runs
                self.results[result.key] = result
            return
        for result, share in zip(results, shares):
            inherited[result.key] = inherited.get(result.key, 0) + share
        middle = len(cases) // 2
        self._run_pack(client, model, cases[:middle], inherited)
        self._run_pack(client, model, cases[middle:], inherited)

    def _budget_exhausted(self) -> bool:
        budget = self.config.budget_tokens
        with self._lock:
            return budget is not None and self.tokens_spent >= budget

    # -- verdicts -----------------------------------------------------------------------------

    def _verdict(self, case: LiveCase, model: str, runs: list[tuple[LiveRequest, Observation]]) -> CaseResult:
        verdicts = [self._single(case, model, request, obs) for request, obs in runs]
        outcome, problems, divergence, _ = verdicts[0]
        if len({v[0] for v in verdicts}) > 1 or len({(o.status, o.error_message) for _, o in runs}) > 1:
            if any(v[0] == Outcome.ERROR for v in verdicts):
                outcome = Outcome.ERROR
            else:
                outcome = Outcome.FAIL
            seen = ", ".join(f"HTTP {o.status}" + (f" {o.error_message!r}" if o.error_message else "") for _, o in runs)
            problems = [f"inconsistent across {len(runs)} repeats: {seen}"] + problems
        request, obs = runs[-1]
        key = self.key(case, model)
        baseline_reason = self.config.baseline.get(key)
        if baseline_reason is not None:
            if outcome in (Outcome.FAIL, Outcome.ERROR):
                outcome = Outcome.XFAIL
            elif outcome == Outcome.PASS:
                outcome = Outcome.XPASS
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

    def _broken(self, case: LiveCase, model: str, runs: list[tuple[LiveRequest, Observation]], exc: Exception) -> CaseResult:
        return CaseResult(
            key=item_key(case, model), case_id=case.id, rule=case.rule.id, anchor=case.rule.anchor,
            severity=case.rule.severity, model=model, family=family_of(self.catalogue, model), outcome=Outcome.ERROR,
            expected="", observed="error: the answer could not be judged",
            problems=[f"harness error while judging this case: {type(exc).__name__}"], request="", response="",
            curl=self.redactor.text(curl_command(self.target, runs[-1][0])), tokens=sum(o.tokens for _, o in runs),
            elapsed=round(sum(o.elapsed for _, o in runs), 4),
        )

    def _single(self, case: LiveCase, model: str, request: LiveRequest,
                obs: Observation) -> tuple[str, list[str], str | None, Expectation]:
        """(outcome, problems, divergence note, the upstream expectation) of one request."""
        upstream = self._expect(case, request, model, self.revision)
        if obs.error:
            return Outcome.ERROR, [obs.error], None, upstream
        if obs.status is not None and obs.status >= 500:
            said = self.redactor.clip(obs.error_message or obs.text, SERVER_ERROR_CHARS)
            return Outcome.ERROR, [f"HTTP {obs.status} from the target: {said}"], None, upstream
        forwarded = None
        if case.observable == "reference-only":
            forwarded = self._forwarded(request, obs)
            if forwarded is None and obs.status == upstream.status:
                # The status agrees; the silent change itself cannot be seen from outside.
                return Outcome.UNOBSERVABLE, ["reference-only rule: a black-box target cannot show it"], None, upstream
        problems = judge(case, upstream, obs, forwarded, self.target.bounds.reject_latency)
        if not problems and obs.malformed:  # broken data this case does not look at: nothing to pass
            return Outcome.ERROR, ["malformed answer: " + "; ".join(obs.malformed)], None, upstream
        if not problems:
            return Outcome.PASS, [], disputed.default_note(case.rule), upstream
        other = disputed.other_side(self.catalogue, case, request, model, self.revision, obs, forwarded)
        if other is not None:
            return Outcome.PASS, [], other, upstream
        if self.config.profile:
            overlay = self._expect(case, request, model, self.revision, self.config.profile)
            if not judge(case, overlay, obs, forwarded):
                return Outcome.DIVERGENT, problems, self._divergence_note(case), upstream
        return Outcome.FAIL, problems, None, upstream

    def _expect(self, case: LiveCase, request: LiveRequest, model: str, revision: str,
                profile: str | None = None) -> Expectation:
        """The engine's expectation, computed once per (request, candidate) and remembered:
        the verdict and the fingerprint ask for the same ones. Packable cases share it per
        request, since theirs depends on the request alone (no route rule, no error text of
        their own), so the cases of a pack share it; any other is remembered per case."""
        owner = "" if packable(case, whitebox=True) else case.id
        key = (owner, request.body, model, revision, profile)
        found = self._expectations.get(key)
        if found is None:
            if profile is not None:  # a profile that changes nothing this request met predicts what upstream does
                upstream = self._expect(case, request, model, revision)
                divergences, limits = self._engine_view(profile)
                if limits == self._engine_view(None)[1] and not upstream.rules & {rule for rule, *_ in divergences}:
                    found = upstream
            if found is None:
                found = expect(self.catalogue, case, request, model, revision, profile=profile)
            self._expectations[key] = found
        return found

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

    def _contradicts(self, case: LiveCase, request: LiveRequest, obs: Observation, forwarded: Any,
                     model: str, revision: str, profile: str | None) -> bool:
        """Whether the observation contradicts a candidate (revision, profile) for this case.
        A case that passed in a shared request is compared as if it had been sent alone: the
        pack showed the target doing what the engine predicts for its own request (the planner
        checked its rule changes the same there), so the candidate is judged against that."""
        if request.nonce not in self._members:
            return bool(judge(case, self._expect(case, request, model, revision, profile), obs, forwarded))
        alone = build_request(case, model, request.nonce)
        seen = self._expect(case, alone, model, self.revision)
        candidate = self._expect(case, alone, model, revision, profile)
        if candidate.status != seen.status:
            return True
        return bool(judge(case, candidate, obs, seen.forwarded if forwarded is not None else None))

    def _engine_view(self, profile: str | None) -> tuple[Any, ...]:
        """What the engine takes from a broker profile when it normalizes: the divergences that
        change the plan (inactive, reject) and the output-token limits (ARCHITECTURE.md §2).
        Profiles with the same view get the same verdicts."""
        if profile not in self._engine_views:
            broker = self.catalogue.broker(profile) if profile else None
            divergences = tuple(sorted((d.rule, d.behaviour, d.status or 0, d.message or "") for d in broker.divergences
                                       if d.behaviour in ("inactive", "reject"))) if broker else ()
            self._engine_views[profile] = (divergences, limits_for(self.catalogue, profile))
        return self._engine_views[profile]

    def fingerprint(self) -> dict[str, Any]:
        """Which revision and broker profile best explain the observations (fingerprint.py)."""
        from .fingerprint import fingerprint

        return fingerprint(self)


_ABSENT = object()


def _alone_estimate(obs: Observation, alone_bytes: int, packed_bytes: int) -> int:
    """What one packed case would have cost by itself: the same completion (the floor makes it
    about constant), and the prompt in proportion to the case's own request size."""
    usage = obs.usage if isinstance(obs.usage, dict) else {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not (isinstance(prompt, int) and isinstance(completion, int)) or packed_bytes <= 0:
        return obs.tokens
    return completion + -(-prompt * alone_bytes // packed_bytes)


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
