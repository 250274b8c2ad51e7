"""Is a successful answer shaped like a chat completion at all?

Wrong types in a broker's answer (``"choices": 5``, ``"index": [0]``, ``"id": ["x"]``) must
neither crash the suite nor let a case pass that only looked for something to be absent: a
case whose own checks find nothing wrong with such an answer is an ``error``."""

from __future__ import annotations

from typing import Any

_TEXT_FIELDS = ("id", "object", "model", "system_fingerprint")


def completion_problems(document: Any) -> list[str]:
    """What is wrong with the shape of a non-streamed answer (empty = plausible)."""
    if not isinstance(document, dict):
        return [f"the answer is {_kind(document)}, not an object"]
    problems = _envelope_problems(document, "")
    choices = document.get("choices")
    if not isinstance(choices, list):
        problems.append(f"choices is {_kind(choices)}, not a list")
    elif not choices:
        problems.append("choices is empty")
    else:
        for n, choice in enumerate(choices):
            problems += _choice_problems(choice, f"choices.{n}", "message")
    return problems


def stream_problems(events: list[Any]) -> list[str]:
    """What is wrong with the shape of a stream's data events (empty = plausible)."""
    problems: list[str] = []
    for e, event in enumerate(events):
        where = f"event {e + 1}: "
        if not isinstance(event, dict):
            problems.append(f"{where}{_kind(event)}, not an object")
            continue
        problems += _envelope_problems(event, where)
        choices = event.get("choices")
        if choices is None:
            continue  # usage-only chunks and stream resets carry no choices
        if not isinstance(choices, list):
            problems.append(f"{where}choices is {_kind(choices)}, not a list")
            continue
        for n, choice in enumerate(choices):
            problems += _choice_problems(choice, f"{where}choices.{n}", "delta")
        if len(problems) >= 5:
            break
    if not problems and not any(isinstance(e, dict) and isinstance(e.get("choices"), list) and e["choices"] for e in events):
        problems.append("no event carries a choice")
    return problems[:5]


def _envelope_problems(document: dict[str, Any], where: str) -> list[str]:
    problems = [f"{where}{name} is {_kind(document[name])}, not a string"
                for name in _TEXT_FIELDS if document.get(name) is not None and not isinstance(document[name], str)]
    created = document.get("created")
    if created is not None and (isinstance(created, bool) or not isinstance(created, (int, float))):
        problems.append(f"{where}created is {_kind(created)}, not a number")
    usage = document.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            problems.append(f"{where}usage is {_kind(usage)}, not an object")
        else:
            problems += [f"{where}usage.{name} is {_kind(value)}, not an integer" for name, value in usage.items()
                         if name.endswith("_tokens") and value is not None and not _is_int(value)]
    return problems


def _choice_problems(choice: Any, where: str, body: str) -> list[str]:
    if not isinstance(choice, dict):
        return [f"{where} is {_kind(choice)}, not an object"]
    problems = []
    if not _is_int(choice.get("index")):
        problems.append(f"{where}.index is {_kind(choice.get('index'))}, not an integer")
    if choice.get("finish_reason") is not None and not isinstance(choice["finish_reason"], str):
        problems.append(f"{where}.finish_reason is {_kind(choice['finish_reason'])}, not a string")
    message = choice.get(body)
    if message is not None and not isinstance(message, dict):
        problems.append(f"{where}.{body} is {_kind(message)}, not an object")
    elif isinstance(message, dict) and not isinstance(message.get("content"), (str, list, type(None))):
        problems.append(f"{where}.{body}.content is {_kind(message['content'])}, not a string")
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """A JSON type name — never the value itself, which is broker text."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)
