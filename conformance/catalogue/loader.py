"""Load and validate the YAML catalogue; every problem is reported as ``file:line: what``."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml

from .model import (
    TROUBLESHOOTING_URL, Alternative, BrokerProfile, Divergence, Evidence, Family, Revision, RevisionRange, Rule,
    Target,
)


class CatalogueError(Exception):
    """The catalogue is invalid. ``problems`` holds ``file:line: message`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(eq=False)  # identity hash: plans are cached per catalogue
class Catalogue:
    rules: tuple[Rule, ...]
    revisions: tuple[Revision, ...]
    families: tuple[Family, ...]
    brokers: dict[str, BrokerProfile]
    root: Path
    by_id: dict[str, Rule] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {rule.id: rule for rule in self.rules}

    @property
    def default_revision(self) -> Revision:
        for revision in self.revisions:
            if revision.default:
                return revision
        return self.revisions[-1]

    def revision(self, revision_id: str | None) -> Revision:
        if revision_id is None:
            return self.default_revision
        for revision in self.revisions:
            if revision.id == revision_id:
                return revision
        known = ", ".join(r.id for r in self.revisions)
        raise KeyError(f"unknown revision {revision_id!r} (known: {known})")

    def revision_index(self, revision_id: str) -> int:
        return [r.id for r in self.revisions].index(revision_id)

    def broker(self, broker_id: str) -> BrokerProfile:
        try:
            return self.brokers[broker_id]
        except KeyError:
            known = ", ".join(sorted(self.brokers))
            raise KeyError(f"unknown broker profile {broker_id!r} (known: {known})") from None


# --- YAML with line numbers -------------------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping and sequence item."""


# Dates stay strings: every value must survive JSON (rules --format json, reports).
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _compose(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise CatalogueError([_yaml_problem(exc, filename)]) from None
    lines: dict[tuple, int] = {}
    if node is None:
        return None, lines
    try:
        return _construct(node, (), lines, filename, frozenset()), lines
    except yaml.YAMLError as exc:  # unknown tags, merge keys
        raise CatalogueError([_yaml_problem(exc, filename)]) from None


def _yaml_problem(exc: yaml.YAMLError, filename: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark is not mark:
        problem = f"{problem} ({context} at line {context_mark.line + 1})"
    return f"{filename}:{line}: invalid YAML: {problem}"


def _construct(node: yaml.Node, path: tuple, lines: dict[tuple, int], filename: str, parents: frozenset[int]) -> Any:
    where = node.start_mark.line + 1
    lines[path] = where
    if id(node) in parents:
        raise CatalogueError([f"{filename}:{where}: an alias refers to the node that contains it"])
    parents = parents | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _LineLoader("").construct_object(key_node)  # scalars only
            if not isinstance(key, str):
                raise CatalogueError([f"{filename}:{key_node.start_mark.line + 1}: mapping keys must be strings, got {key!r}"])
            if key in result:
                raise CatalogueError([f"{filename}:{key_node.start_mark.line + 1}: duplicate key {key!r}"])
            result[key] = _construct(value_node, path + (key,), lines, filename, parents)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), lines, filename, parents) for i, item in enumerate(node.value)]
    return _LineLoader("").construct_object(node)


def _line_for(lines: dict[tuple, int], path: Iterable[Any]) -> int:
    key = tuple(path)
    while key and key not in lines:
        key = key[:-1]
    return lines.get(key, 1)


# --- schema validation --------------------------------------------------------------------


@lru_cache(maxsize=None)
def _schema(name: str) -> dict[str, Any]:
    """The packaged schema: a catalogue is validated against this tool's format, not its own."""
    return json.loads((default_root() / "schema" / name).read_text(encoding="utf-8"))


def _validate(data: Any, schema: dict[str, Any], lines: dict[tuple, int], filename: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        best = jsonschema.exceptions.best_match([error])
        where = "/".join(str(p) for p in best.absolute_path) or "(top level)"
        problems.append(f"{filename}:{_line_for(lines, best.absolute_path)}: {where}: {best.message}")
    return problems


# --- loading ------------------------------------------------------------------------------


def default_root() -> Path:
    return Path(str(resources.files("gonka_conformance.cases")))


def load_catalogue(root: Path | str | None = None) -> Catalogue:
    """Load every rule and profile under ``root`` (the packaged ``cases/`` by default)."""
    root_path = Path(root) if root is not None else default_root()
    return _load_cached(str(root_path.resolve()))


@lru_cache(maxsize=8)
def _load_cached(root: str) -> Catalogue:
    root_path = Path(root)
    problems: list[str] = []
    rules: list[Rule] = []
    rule_files = sorted((root_path / "rules").glob("*.yaml"))
    if not rule_files:
        raise CatalogueError([f"{root_path / 'rules'}: no rule files (*.yaml) found"])
    for path in rule_files:
        try:
            rules.extend(_load_rule_file(path, root_path))
        except CatalogueError as exc:
            problems.extend(exc.problems)
    revisions: list[Revision] = []
    families: list[Family] = []
    brokers: dict[str, BrokerProfile] = {}
    broker_files: dict[str, str] = {}
    for path in sorted((root_path / "profiles").glob("*.yaml")):
        try:
            kind, items = _load_profile_file(path, root_path)
        except CatalogueError as exc:
            problems.extend(exc.problems)
            continue
        if kind == "revisions":
            revisions.extend(items)
        elif kind == "families":
            families.extend(items)
        else:
            for broker in items:
                filename = _relative(path, root_path)
                if broker.id in brokers:
                    problems.append(f"{filename}:1: duplicate broker profile {broker.id!r} (first in {broker_files[broker.id]})")
                brokers[broker.id] = broker
                broker_files[broker.id] = filename
    if not problems:
        problems.extend(_cross_check(rules, revisions, families, brokers, broker_files, root_path))
    if problems:
        raise CatalogueError(problems)
    return Catalogue(tuple(rules), tuple(revisions), tuple(families), brokers, root_path)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, root: Path) -> tuple[Any, dict[tuple, int], str]:
    filename = _relative(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError([f"{filename}:1: cannot read: {exc}"]) from None
    data, lines = _compose(text, filename)
    return data, lines, filename


def _load_rule_file(path: Path, root: Path) -> list[Rule]:
    data, lines, filename = _read_yaml(path, root)
    problems = _validate(data, _schema("rules.schema.json"), lines, filename)
    if problems:
        raise CatalogueError(problems)
    return [_build_rule(raw, filename, _line_for(lines, ("rules", index))) for index, raw in enumerate(data["rules"])]


def _build_rule(raw: dict[str, Any], filename: str, line: int) -> Rule:
    order = float(raw.get("order", 0))
    match = raw.get("match") or []
    if isinstance(match, dict):
        match = [match]
    targets = tuple(
        Target(
            path=t["path"], check=t.get("check"), transform=t.get("transform"),
            options=t.get("with") or {}, order=float(t.get("order", order)),
            revisions=RevisionRange(t["revisions"].get("from"), t["revisions"].get("until")) if "revisions" in t else None,
        )
        for t in match
    )
    applies = raw.get("applies") or {}
    revisions = applies.get("revisions") or {}
    action = raw.get("action") or {}
    reject = action.get("reject") or {}
    messages = dict(reject.get("messages") or {})
    if "message" in reject:
        messages["default"] = reject["message"]
    anchor = raw.get("anchor")
    if anchor == "troubleshooting":
        anchor = f"{TROUBLESHOOTING_URL}#{raw['id']}"
    return Rule(
        id=raw["id"], title=raw["title"], kind=raw["kind"], level=raw["level"], stage=raw["stage"],
        order=order, targets=targets,
        families=tuple(applies["families"]) if "families" in applies else None,
        except_families=tuple(applies.get("except") or ()),
        revisions=RevisionRange(revisions.get("from"), revisions.get("until")),
        when=tuple(applies.get("when") or ()),
        status=reject.get("status"), messages=messages, advice=action.get("advise"),
        error_fields={key: reject[key] for key in ("type", "code") if key in reject},
        anchor=anchor, docs=raw["docs"], lint=raw.get("lint") or {},
        live=tuple(raw.get("live") or ()), source_file=filename, line=line,
        evidence=_evidence(raw.get("evidence")),
    )


def _evidence(raw: dict[str, Any] | None) -> Evidence | None:
    if raw is None:
        return None
    def side(a: dict[str, Any]) -> Alternative:
        engine = a.get("engine") or {}
        span = engine.get("revisions")
        return Alternative(a["name"], a["says"], tuple(a["sources"]), engine.get("active"), engine.get("options") or {},
                           "engine" in a, RevisionRange(span.get("from"), span.get("until")) if span is not None else None)

    return Evidence(raw["default"], tuple(side(a) for a in raw["alternatives"]))


def _load_profile_file(path: Path, root: Path) -> tuple[str, list[Any]]:
    data, lines, filename = _read_yaml(path, root)
    problems = _validate(data, _schema("profiles.schema.json"), lines, filename)
    if problems:
        raise CatalogueError(problems)
    kind = data["kind"]
    if kind == "revisions":
        return kind, [
            Revision(
                id=r["id"], title=r["title"], gateway=r["gateway"], default=bool(r.get("default")),
                default_model=r["default_model"], routes=tuple(r["routes"]),
                sources=tuple(r["sources"]), notes=r.get("notes", ""),
            )
            for r in data["revisions"]
        ]
    if kind == "families":
        return kind, [
            Family(id=f["id"], pattern=f["pattern"], models=tuple(f.get("models") or ()), title=f["title"])
            for f in data["families"]
        ]
    divergences = tuple(
        Divergence(
            rule=d["rule"], behaviour=d["behaviour"], status=d.get("status"), message=d.get("message"),
            observed=d["observed"], source=d["source"], note=d.get("note", ""),
        )
        for d in data.get("divergences") or ()
    )
    return kind, [
        BrokerProfile(
            id=data["id"], title=data["title"], base_urls=tuple(data.get("base_urls") or ()),
            model_ids=data.get("model_ids") or {}, case_sensitive_models=bool(data.get("case_sensitive_models", True)),
            limits=data.get("limits") or {}, divergences=divergences, sources=tuple(data["sources"]),
            observed=data["observed"],
        )
    ]


def _cross_check(
    rules: list[Rule], revisions: list[Revision], families: list[Family],
    brokers: dict[str, BrokerProfile], broker_files: dict[str, str], root: Path,
) -> list[str]:
    """Checks JSON Schema cannot express: unique ids, known names, registered functions."""
    from ..engine import registry  # late import: the engine depends on the catalogue model

    registry.load_builtin_functions()

    problems: list[str] = []
    seen: dict[str, Rule] = {}
    revision_ids = {r.id for r in revisions}
    family_ids = {f.id for f in families} | {"all"}
    if not revisions:
        problems.append(f"{root.name}/profiles: no revisions defined")
    if sum(1 for r in revisions if r.default) > 1:
        problems.append(f"{root.name}/profiles: more than one default revision")
    for kind, ids in (("revision", [r.id for r in revisions]), ("model family", [f.id for f in families])):
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"{root.name}/profiles: duplicate {kind} id {duplicate!r}")
    for family in families:
        try:
            re.compile(family.pattern)
        except re.error as exc:
            problems.append(f"{root.name}/profiles: family {family.id!r}: pattern {family.pattern!r} is not a regular expression: {exc}")
    for rule in rules:
        where = f"{rule.source_file}:{rule.line}"
        if rule.id in seen:
            other = seen[rule.id]
            problems.append(f"{where}: duplicate rule id {rule.id!r} (first at {other.source_file}:{other.line})")
        seen[rule.id] = rule
        for rev in (rule.revisions.start, rule.revisions.until):
            if rev is not None and rev not in revision_ids:
                problems.append(f"{where}: {rule.id}: unknown revision {rev!r}")
        for fam in (rule.families or ()) + rule.except_families:
            if fam not in family_ids:
                problems.append(f"{where}: {rule.id}: unknown model family {fam!r}")
        for target in rule.targets:
            for rev in (target.revisions.start, target.revisions.until) if target.revisions else ():
                if rev is not None and rev not in revision_ids:
                    problems.append(f"{where}: {rule.id}: unknown revision {rev!r} in match")
            for code, delegate in (target.options.get("delegate") or {}).items():
                if delegate not in {r.id for r in rules}:
                    problems.append(f"{where}: {rule.id}: delegate for {code!r} names unknown rule {delegate!r}")
            if target.check and target.check not in registry.CHECKS:
                problems.append(f"{where}: {rule.id}: unknown check {target.check!r}")
            if target.transform and target.transform not in registry.TRANSFORMS:
                problems.append(f"{where}: {rule.id}: unknown transform {target.transform!r}")
        problems.extend(f"{where}: {rule.id}: {problem}" for problem in _template_problems(rule))
        has_check = any(t.check for t in rule.targets)
        if has_check and rule.kind != "advise" and rule.status is None:
            problems.append(f"{where}: {rule.id}: a rule with a check needs action.reject")
        if rule.kind == "advise" and has_check and not rule.advice:
            problems.append(f"{where}: {rule.id}: an advise rule with a check needs action.advise")
    for rule in rules:  # a delegated code needs a message in the rule it is delegated to
        for target in rule.targets:
            for code, delegate in (target.options.get("delegate") or {}).items():
                owner = seen.get(delegate)
                if owner and owner.kind != "advise" and owner.messages and code not in owner.messages and "default" not in owner.messages:
                    problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: delegate {delegate!r} has no message for code {code!r}")
    for rule in (r for r in rules if r.evidence):  # a disputed rule's default and overrides must resolve
        names = [a.name for a in rule.evidence.alternatives]
        if rule.evidence.default not in names:
            problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: evidence default {rule.evidence.default!r} is not an alternative")
        for unknown in sorted({r for a in rule.evidence.alternatives for r in a.options} - set(seen)):
            problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: evidence overrides unknown rule {unknown!r}")
    for broker in brokers.values():
        for divergence in broker.divergences:
            if divergence.rule not in seen:
                problems.append(f"{broker_files[broker.id]}:1: divergence names unknown rule {divergence.rule!r}")
    return problems


def _template_problems(rule: Rule) -> list[str]:
    """Message templates must parse: a broken one would otherwise surface only when it fires."""
    problems = []
    for code, template in [*rule.messages.items(), *([("advise", rule.advice)] if rule.advice else [])]:
        try:
            list(string.Formatter().parse(template))
        except ValueError as exc:
            problems.append(f"message {code!r} is not a valid template: {exc}")
    return problems
