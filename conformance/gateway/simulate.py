"""The simulated model: a deterministic stand-in for the vLLM host behind the gateway.

It reads only the *forwarded* body (what the engine produced), so every token rule the engine
applies becomes observable in the answer: the resolved ``max_tokens`` ends the output with
``finish_reason: "length"``, Kimi spends the resolved ``thinking_token_budget`` first (and
shows the FAQ's think burn, ``content: null``, when nothing is left), ``min_tokens`` keeps the
model from stopping early (as vLLM does), ``n`` choices come out after coercion. The same
forwarded body always gives the same text, reasoning and tool calls.

Every number, word list and instruction pattern is a simulation parameter, not a gateway fact, and
lives in ``simulation.yaml``.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import math
import random
import re
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from ..common.decoded import get_as
from .hosterrors import prompt_tokens
from .instances import instance, is_valid, parameters

# --- simulation parameters (simulation.yaml) -------------------------------------------------

_P = parameters()
SHORT_ANSWER_WORDS: int = _P["answer"]["short_answer_words"]
LONG_FORM_WORDS: int = _P["answer"]["long_form_words"]
TOOL_RESULT_WORDS: int = _P["answer"]["tool_result_words"]
DEFAULT_MAX_TOKENS: int = _P["answer"]["default_max_tokens"]
MAX_TOP_LOGPROBS: int = _P["answer"]["max_top_logprobs"]
SPLIT_WORD_PROBABILITY: float = _P["corpus"]["split_word_probability"]
SPLIT_MIN_LENGTH: int = _P["corpus"]["split_min_length"]
SENTENCE_WORDS: tuple[int, int] = tuple(_P["corpus"]["sentence_words"])
CORPUS_WORDS: int = _P["corpus"]["words"]
THINKING: dict[str, Any] = _P["thinking"]
CHARS_PER_TOOL_CALL_TOKEN: int = _P["tokens"]["chars_per_tool_call_token"]
TOOL_CALL_OVERHEAD_TOKENS: int = _P["tokens"]["tool_call_overhead"]
VOCABULARY_SIZE: int = _P["corpus"]["vocabulary_size"]

_ANSWER_WORDS: list[str] = _P["corpus"]["word_lists"]["answer"].split()
_THINK_WORDS: list[str] = _P["corpus"]["word_lists"]["think"].split()
STRUCTURE = _P["structure"]


@dataclass(frozen=True)
class Vocabulary:
    """How the simulated model reads the user's instructions: simulation.yaml ``instructions``,
    compiled once."""

    number_words: dict[str, int]     # "fifty" -> 50
    explicit_length: re.Pattern[str]  # "in 200 words": (amount, unit)
    long_form: re.Pattern[str]        # "write an essay": answer.long_form_words
    asks_for_tool: re.Pattern[str]    # "use a tool": the first offered tool is called
    quoted: re.Pattern[str]           # a quoted phrase fills string tool arguments
    single_word: re.Pattern[str]      # "Reply with the single word OK": content "OK"


def vocabulary(instructions: dict[str, Any]) -> Vocabulary:
    """The :class:`Vocabulary` of a simulation.yaml ``instructions`` mapping."""
    numbers = {str(word).lower(): int(value) for word, value in instructions["number_words"].items()}  # matched lowered
    alternation = "|".join(re.escape(word) for word in sorted(numbers, key=len, reverse=True))
    return Vocabulary(
        number_words=numbers,
        explicit_length=re.compile(instructions["explicit_length"].replace("{number_words}", alternation)),
        long_form=re.compile(instructions["long_form"]),
        asks_for_tool=re.compile(instructions["asks_for_tool"]),
        quoted=re.compile(instructions["quoted"]),
        single_word=re.compile(instructions["single_word"]),
    )


VOCABULARY = vocabulary(_P["instructions"])


@dataclass(frozen=True)
class FamilyStyle:
    """How a family's deployment shapes output (seeds/002 FAQ model table)."""

    thinking: str        # budget | content-tags | always | effort | none
    tool_ids: str        # functions (Kimi's kimi_k2 parser) | chatcmpl-tool (vLLM's random ids)
    separate_reasoning: bool


STYLES: dict[str | None, FamilyStyle] = {
    (None if name == "default" else name): FamilyStyle(style["thinking"], style["tool_ids"], style["separate_reasoning"])
    for name, style in _P["styles"].items()
}


# --- a deterministic token corpus -----------------------------------------------------------


class _Corpus:
    """A long pre-generated token stream. A request reads a slice of it starting at a sentence
    boundary picked by its seed, so generation costs a slice, not a loop."""

    def __init__(self, words: list[str], seed: int) -> None:
        rng = random.Random(seed)
        tokens: list[str] = []
        word_ends: list[int] = []   # token index just after each word
        starts: list[int] = []      # token index of each sentence start
        left = 0
        for _ in range(CORPUS_WORDS):
            word = rng.choice(words)
            if left == 0:
                starts.append(len(tokens))
                word = word.capitalize()
                left = rng.randint(*SENTENCE_WORDS)
            left -= 1
            if left == 0:
                word += "."
            if len(word) >= SPLIT_MIN_LENGTH and rng.random() < SPLIT_WORD_PROBABILITY:
                cut = len(word) // 2
                tokens.extend((" " + word[:cut], word[cut:]))
            else:
                tokens.append(" " + word)
            word_ends.append(len(tokens))
        self.tokens = tokens
        self.word_ends = word_ends
        self.tokens_per_word = len(tokens) / len(word_ends)
        self.starts = starts[: max(1, len(starts) // 2)]  # at least half the corpus after any start

    def take(self, seed: int, count: int) -> list[str]:
        """``count`` tokens from a seed-chosen sentence start (the first token unspaced)."""
        if count <= 0:
            return []
        start = self.starts[seed % len(self.starts)]
        out: list[str] = []
        while len(out) < count:
            out.extend(self.tokens[start:start + count - len(out)])
            start = 0
        out[0] = out[0].lstrip()
        return out

    def tokens_for_words(self, seed: int, words: int) -> int:
        """How many tokens the next ``words`` words take from this seed's start."""
        start = self.starts[seed % len(self.starts)]
        first = bisect.bisect_right(self.word_ends, start)
        last = first + words - 1
        if last < len(self.word_ends):
            return self.word_ends[last] - start
        return math.ceil(words * self.tokens_per_word)


_corpora: dict[str, _Corpus] = {}
_corpora_lock = threading.Lock()


def _corpus(kind: str) -> _Corpus:
    corpus = _corpora.get(kind)
    if corpus is None:
        with _corpora_lock:
            corpus = _corpora.get(kind)
            if corpus is None:
                corpus = _Corpus(_ANSWER_WORDS if kind == "answer" else _THINK_WORDS, _P["corpus"]["seeds"][kind])
                _corpora[kind] = corpus
    return corpus


@functools.lru_cache(maxsize=8192)
def token_id(token: str) -> int:
    return zlib.crc32(token.encode("utf-8", errors="surrogatepass")) % VOCABULARY_SIZE


def canonical(body: dict[str, Any]) -> bytes:
    """A canonical encoding of a forwarded body (sorted keys): the model's seed and its prompt
    length. Cheaper than the exact Go encoding and just as deterministic."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8", errors="surrogatepass")


# --- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    tokens: int


@dataclass
class SimChoice:
    index: int
    reasoning: list[str]              # reasoning_content tokens (separate-reasoning families)
    content: list[str] | None         # None: the client sees content null
    tool_calls: list[ToolCall]
    finish_reason: str
    reasoning_tokens: int
    completion_tokens: int
    seed: int


@dataclass
class Simulation:
    model: str
    family: str | None
    style: FamilyStyle
    choices: list[SimChoice]
    prompt_tokens: int
    prompt_seed: int
    logprobs: bool                    # the forwarded body asks the host for logprobs
    top_logprobs: int
    return_token_ids: bool
    include_usage: bool               # the forwarded (upstream) stream asks for a usage chunk

    @functools.cached_property
    def usage(self) -> dict[str, Any]:
        completion = sum(c.completion_tokens for c in self.choices)
        return {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + completion,
            "completion_tokens": completion,
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": sum(c.reasoning_tokens for c in self.choices)},
        }


# --- the model --------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def answer_length(prompt: str) -> tuple[str, int]:
    """("words"|"tokens", amount) the prompt asks for."""
    match = VOCABULARY.explicit_length.search(prompt)
    if match:
        raw = match.group(1).lower().replace(",", "")
        amount = VOCABULARY.number_words.get(raw) or int(raw)
        return ("tokens" if match.group(2).lower().startswith("token") else "words"), max(1, amount)
    if VOCABULARY.long_form.search(prompt):
        return "words", LONG_FORM_WORDS
    return "words", SHORT_ANSWER_WORDS


def _thinking_target(style: FamilyStyle, body: dict[str, Any]) -> int:
    kwargs = get_as(body, "chat_template_kwargs", dict, {})
    if style.thinking == "budget":  # Kimi: the template hint, then the budget processor
        if kwargs.get("thinking") is False:
            return 0
        budget = _int(body.get("thinking_token_budget"))
        return max(budget, 0) if budget is not None else int(THINKING["budget_unbounded"])
    if style.thinking == "content-tags":
        return int(THINKING["content_tags"])
    if style.thinking == "always":
        return int(THINKING["always"])
    if style.thinking == "effort":
        levels, default = THINKING["effort"]["levels"], THINKING["effort"]["default"]
        effort = body.get("reasoning_effort")
        return int(levels.get(effort if isinstance(effort, str) else default, levels[default]))
    return 0


def _arguments(schema: Any, prompt: str, seed: int) -> dict[str, Any]:
    """Tool-call arguments valid against the tool's ``parameters`` (deterministic per seed); a
    quoted phrase of the prompt fills plain string arguments where the schema allows it."""
    if not isinstance(schema, dict):
        return {}
    value = instance(schema, seed)
    if not isinstance(value, dict):
        return {}
    quoted = VOCABULARY.quoted.search(prompt)
    props = get_as(schema, "properties", dict, {})
    for name in list(value):
        spec = props.get(name)
        if quoted and isinstance(spec, dict) and spec.get("type") == "string" and not (
                {"enum", "const", "pattern", "format"} & set(spec)):
            candidate = {**value, name: quoted.group(1)}
            if is_valid(schema, candidate):
                value = candidate
    return value


def _structured(body: dict[str, Any]) -> tuple[str, Any] | None:
    """What the answer must be: ("object", None) for json_object, ("schema", schema) for
    json_schema and structured_outputs.json; None for free text."""
    response_format = get_as(body, "response_format", dict, {})
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = get_as(response_format, "json_schema", dict, {})
        return "schema", spec.get("schema", {})
    if kind == "json_object":
        return "object", None
    outputs = get_as(body, "structured_outputs", dict, {})
    if "json" in outputs:
        schema = outputs["json"]
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                schema = {}
        return "schema", schema
    return None


_JSON_PIECES = re.compile(r"[A-Za-z]+|\d+|\s+|.", re.DOTALL)


def _exact_answer(structured: tuple[str, Any] | None, word: str | None, prompt: str, seed: int) -> list[str] | None:
    """The whole constrained (JSON) text, else the instructed single word; None for free text."""
    if structured is not None:
        return _structured_tokens(structured, prompt, seed)
    return [word] if word is not None else None


def _structured_tokens(structured: tuple[str, Any], prompt: str, seed: int) -> list[str]:
    kind, schema = structured
    if kind == "object":
        words = " ".join(_corpus("answer").take(seed, SHORT_ANSWER_WORDS)).strip()
        value: Any = {STRUCTURE["json_object_key"]: words}
    else:
        value = instance(schema, seed)
    return _JSON_PIECES.findall(json.dumps(value, ensure_ascii=False))


def _single_word(prompt: str) -> str | None:
    match = VOCABULARY.single_word.search(prompt)
    return match.group(1) if match else None


def _tool_plan(body: dict[str, Any], messages: list[Any], prompt: str) -> list[dict[str, Any]]:
    """The functions this turn calls: only when tools are offered and the user asks."""
    tools = [t["function"] for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)
             and isinstance(t["function"].get("name"), str)]
    choice = body.get("tool_choice")
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if not tools or choice == "none" or last.get("role") != "user":
        return []
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        chosen = [t for t in tools if t["name"] == wanted]
    else:
        lowered = prompt.lower()
        chosen = [t for t in tools if t["name"].lower() in lowered]
        if not chosen and (choice == "required" or VOCABULARY.asks_for_tool.search(prompt)):
            chosen = tools[:1]
    if body.get("parallel_tool_calls") is False:
        chosen = chosen[:1]
    return chosen


def _tool_calls(style: FamilyStyle, plan: list[dict[str, Any]], history: int, prompt: str, seed: int, choice: int) -> list[ToolCall]:
    calls = []
    for i, function in enumerate(plan):
        arguments = json.dumps(_arguments(function.get("parameters"), prompt, seed + i), ensure_ascii=False)
        if style.tool_ids == "functions":
            # kimi_k2 parser: functions.<name>:<global index>; with n > 1 every choice restarts
            # from the same history count, so choices share ids (FAQ Q5, vLLM PR #21259).
            call_id = f"functions.{function['name']}:{history + i}"
        else:
            call_id = "chatcmpl-tool-" + hashlib.sha256(f"{seed}:{choice}:{i}".encode()).hexdigest()[:32]
        tokens = math.ceil((len(function["name"]) + len(arguments)) / CHARS_PER_TOOL_CALL_TOKEN) + TOOL_CALL_OVERHEAD_TOKENS
        calls.append(ToolCall(call_id, function["name"], arguments, tokens))
    return calls


def _stop_strings(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str) and s]
    return []


def _apply_stop(tokens: list[str], stops: list[str], keep: int) -> list[str] | None:
    """Cut at the first stop string found after ``keep`` tokens (vLLM ignores stops before
    min_tokens); None when no stop string occurs."""
    if not stops:
        return None
    text = "".join(tokens)
    skip = len("".join(tokens[:keep]))
    hits = [i for i in (text.find(s, skip) for s in stops) if i >= 0]
    if not hits:
        return None
    cut = min(hits)
    out, length = [], 0
    for token in tokens:
        if length + len(token) > cut:
            if cut > length:
                out.append(token[: cut - length])
            break
        out.append(token)
        length += len(token)
    return out


def simulate(body: dict[str, Any], *, model: str, family: str | None, fingerprint: bytes | None = None) -> Simulation:
    """Run the simulated host on the forwarded body (``fingerprint``: its :func:`canonical`
    encoding, when the caller already has it)."""
    if fingerprint is None:
        fingerprint = canonical(body)
    style = STYLES.get(family, STYLES[None])
    messages = get_as(body, "messages", list, [])
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    prompt = _text(users[-1].get("content")) if users else ""
    last_role = messages[-1].get("role") if messages and isinstance(messages[-1], dict) else "user"
    history = sum(len(m.get("tool_calls") or ()) for m in messages if isinstance(m, dict) and m.get("role") == "assistant"
                  and isinstance(m.get("tool_calls"), list))
    max_tokens = _int(body.get("max_tokens")) or _int(body.get("max_completion_tokens")) or DEFAULT_MAX_TOKENS
    min_tokens = min(_int(body.get("min_tokens")) or 0, max_tokens)
    n = max(1, _int(body.get("n")) or 1)
    prompt_seed = int.from_bytes(hashlib.sha256(fingerprint).digest()[:8], "big")
    unit, amount = answer_length(prompt) if last_role != "tool" else ("words", TOOL_RESULT_WORDS)
    plan = _tool_plan(body, messages, prompt)
    structured = _structured(body) if last_role != "tool" or not plan else None
    word = _single_word(prompt) if last_role != "tool" else None
    think_target = _thinking_target(style, body)
    stops = _stop_strings(body)
    stream_options = get_as(body, "stream_options", dict, {})

    choices = []
    for index in range(n):
        seed = (prompt_seed + index * 0x9E3779B97F4A7C15) % (1 << 64)  # one seed per choice
        left = max_tokens
        thought = min(think_target, left)
        left -= thought
        think_tokens = _corpus("think").take(seed, thought)
        reasoning = think_tokens if style.separate_reasoning else []
        prefix: list[str] = []
        if style.thinking == "content-tags" and thought:
            prefix = ["<think>\n", *think_tokens] + (["\n</think>\n\n"] if thought == think_target else [])
        calls: list[ToolCall] = []
        content: list[str] | None
        if thought < think_target or left == 0:
            # The think burn: the whole budget went to thinking, the client sees no content.
            content, finish, used = (prefix or None), "length", max_tokens
        elif plan:
            calls = _tool_calls(style, plan, history, prompt, seed, index)
            need = sum(c.tokens for c in calls)
            if need > left:  # the budget ran out before the call was complete
                content, finish, used, calls = (prefix or None), "length", max_tokens, []
            else:
                content, finish, used = (prefix or None), "tool_calls", thought + need
        elif (answer := _exact_answer(structured, word, prompt, seed)) is not None:
            # Constrained output (JSON) or an exact instruction: the whole text, cut at the budget.
            finish = "stop" if len(answer) <= left else "length"
            answer = answer[:left]
            content = prefix + answer
            used = thought + len(answer)
        else:
            corpus = _corpus("answer")
            natural = amount if unit == "tokens" else corpus.tokens_for_words(seed, amount)
            natural = max(natural, min_tokens - thought)
            produced = min(natural, left)
            answer = corpus.take(seed, produced)
            finish = "stop" if natural <= left else "length"
            if finish == "stop" and answer and not answer[-1].endswith("."):
                answer[-1] += "."
            cut = _apply_stop(answer, stops, max(0, min_tokens - thought))
            if cut is not None:
                answer, finish = cut, "stop"
            content = prefix + answer
            used = thought + len(answer)
        choices.append(SimChoice(index, reasoning, content, calls, finish, thought, used, seed))

    return Simulation(
        model=model, family=family, style=style, choices=choices,
        prompt_tokens=prompt_tokens(fingerprint), prompt_seed=prompt_seed,
        logprobs=body.get("logprobs") is True or (_int(body.get("top_logprobs")) or 0) > 0,
        top_logprobs=min(_int(body.get("top_logprobs")) or 0, MAX_TOP_LOGPROBS),
        return_token_ids=body.get("return_token_ids") is True,
        include_usage=body.get("stream") is True and stream_options.get("include_usage") is True,
    )
