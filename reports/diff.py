"""Compare two reports (two runs of one broker, two releases, or two brokers) case by case.

Cases are matched by case id and *canonical model*: a broker's spelling of a model
(``moonshotai/kimi-k2.6``, ``gonka/moonshotai/Kimi-K2.6``) resolves, through the catalogue's
families and the broker profiles' id maps, to the family's canonical id, so a release that
re-spells its ids still shows its real regressions instead of "new N, removed N".
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .model import FAILING, Outcome

GOOD = frozenset(set(Outcome) - FAILING)
BAD = FAILING
CLASSES = ("regressed", "fixed", "changed", "new", "removed", "unchanged")
NOTABLE = CLASSES[:3]  # what the default text output lists one by one


class ModelSpellings:
    """Maps any known spelling of a model id to its family's canonical id."""

    def __init__(self, spellings: Mapping[str, Iterable[str]]) -> None:
        # canonical id -> every spelling known for it (lowercased)
        self._known = {canonical: {s.lower() for s in (canonical, *others)} for canonical, others in spellings.items()}

    @classmethod
    def from_catalogue(cls, catalogue: Any) -> "ModelSpellings":
        spellings: dict[str, list[str]] = {}
        for family in catalogue.families:
            if family.models:
                spellings[family.models[0]] = [*family.models[1:]]
                spellings[family.models[0]] += [b.model_ids[family.id] for b in catalogue.brokers.values() if family.id in b.model_ids]
        return cls(spellings)

    def canonical(self, model: str) -> str:
        lowered = model.lower()
        for canonical, known in self._known.items():
            if any(lowered == s or lowered.endswith("/" + s) for s in known):
                return canonical
        return model


def diff_reports(before: dict[str, Any], after: dict[str, Any], spellings: ModelSpellings | None = None) -> dict[str, list[dict[str, Any]]]:
    old = _keyed(before["cases"], spellings)
    new = _keyed(after["cases"], spellings)
    result: dict[str, list[dict[str, Any]]] = {name: [] for name in CLASSES}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        entry = {"key": key, "before": a["outcome"] if a else None, "after": b["outcome"] if b else None}
        if a is None:
            result["new"].append(entry)
        elif b is None:
            result["removed"].append(entry)
        elif a["outcome"] == b["outcome"]:
            result["unchanged"].append(entry)
        elif a["outcome"] in GOOD and b["outcome"] in BAD:
            result["regressed"].append(entry)
        elif a["outcome"] in BAD and b["outcome"] in GOOD:
            result["fixed"].append(entry)
        else:
            result["changed"].append(entry)
    return result


def _keyed(cases: list[dict[str, Any]], spellings: ModelSpellings | None) -> dict[str, dict[str, Any]]:
    """Cases by ``case_id[canonical model]``; a report whose own ids would collide that way
    (two spellings of one model in one run) keeps its exact keys instead."""
    if spellings is None:
        return {c["key"]: c for c in cases}
    keyed = {f"{c['case_id']}[{spellings.canonical(c['model'])}]": c for c in cases}
    return keyed if len(keyed) == len(cases) else {c["key"]: c for c in cases}


def render_diff(result: dict[str, list[dict[str, Any]]], everything: bool = False) -> str:
    lines = [", ".join(f"{name} {len(result[name])}" for name in CLASSES)]
    for name in CLASSES if everything else NOTABLE:
        for entry in result[name]:
            lines.append(f"{name:9} {entry['key']}: {entry['before'] or '-'} -> {entry['after'] or '-'}")
    if not everything and (result["new"] or result["removed"]):
        lines.append("(new and removed cases are listed with --all)")
    return "\n".join(lines) + "\n"
