"""Load and validate the YAML catalogue; every problem is reported as ``file:line: what``."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..common import version
from . import cache as catalogue_cache
from .extensions import option_schemas, rule_checks
from .files import FileProblem, read_file
from .model import (
    TROUBLESHOOTING_URL, Alternative, BrokerProfile, ContextWindow, DisputedWindow, Divergence, Evidence, Family,
    Revision, RevisionRange, Rule, Target,
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
    from_cache: bool = field(default=False, compare=False)  # built from the compiled-catalogue cache

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


def _compose(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    from .yamlread import YamlProblem, parse  # (yaml is imported only when a file is parsed)

    try:
        return parse(text, filename)
    except YamlProblem as exc:
        raise CatalogueError([str(exc)]) from None


def _read_text(path: Path, filename: str) -> str:
    try:
        return read_file(path, filename)
    except FileProblem as exc:
        raise CatalogueError([str(exc)]) from None


def _line_for(lines: dict[tuple, int], path: Iterable[Any]) -> int:
    key = tuple(path)
    while key and key not in lines:
        key = key[:-1]
    return lines.get(key, 1)


# --- schema validation --------------------------------------------------------------------


def _schema_path(name: str) -> Path:
    """The packaged schema: a catalogue is validated against this tool's format, not its own."""
    return default_root() / "schema" / name


@lru_cache(maxsize=None)
def _schema(name: str) -> dict[str, Any]:
    return json.loads(_schema_path(name).read_text(encoding="utf-8"))


def _validate(data: Any, schema: dict[str, Any], lines: dict[tuple, int], filename: str) -> list[str]:
    import jsonschema  # only on a cache miss or for a user's catalogue

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        best = jsonschema.exceptions.best_match([error])
        where = "/".join(str(p) for p in best.absolute_path) or "(top level)"
        problems.append(f"{filename}:{_line_for(lines, best.absolute_path)}: {where}: {best.message}")
    return problems


# --- loading ------------------------------------------------------------------------------

_SCHEMAS = {"rules": "rules.schema.json", "profiles": "profiles.schema.json"}


def default_root() -> Path:
    import gonka_conformance.cases as packaged  # (cheaper than importlib.resources; never zipped)

    return Path(packaged.__file__).parent


def load_catalogue(root: Path | str | None = None, *, cache: bool | None = None) -> Catalogue:
    """Load every rule and profile under ``root`` (the packaged ``cases/`` by default).

    ``cache``: use the compiled-catalogue cache (:mod:`.cache`); by default only for the
    packaged catalogue: a catalogue the user names is parsed and validated on every load."""
    root_path = (Path(root) if root is not None else default_root()).resolve()
    use_cache = root_path == _packaged_root() if cache is None else cache
    return _load_cached(str(root_path), use_cache)


@lru_cache(maxsize=1)
def _packaged_root() -> Path:
    return default_root().resolve()


@dataclass
class _File:
    """One catalogue file, read and parsed: the unit the cache stores."""

    kind: str  # rules | profiles
    filename: str
    text: str = ""
    data: Any = None
    lines: dict[tuple, int] = field(default_factory=dict)  # only after a parse (for schema errors)
    rule_lines: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.filename, "data": self.data, "rule_lines": self.rule_lines}


@lru_cache(maxsize=8)
def _load_cached(root: str, use_cache: bool) -> Catalogue:
    root_path = Path(root)
    rule_files = sorted((root_path / "rules").glob("*.yaml"))
    if not rule_files:
        raise CatalogueError([f"{root_path / 'rules'}: no rule files (*.yaml) found"])
    files, problems = _read_files(root_path, [("rules", p) for p in rule_files] +
                                  [("profiles", p) for p in sorted((root_path / "profiles").glob("*.yaml"))])
    if problems:
        raise CatalogueError(problems)
    wanted = _cache_key(files) if use_cache else ""
    cached = _from_cache(root_path, wanted) if use_cache else None
    if cached is not None:
        return cached
    for item in files:
        try:
            _parse(item)
        except CatalogueError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CatalogueError(problems)
    catalogue, broker_files, problems = _assemble(files, root_path)
    if not problems:
        problems.extend(_cross_check(list(catalogue.rules), list(catalogue.revisions), list(catalogue.families),
                                     catalogue.brokers, broker_files, root_path))
    if problems:
        raise CatalogueError(problems)
    if use_cache:
        catalogue_cache.write(root_path, wanted, {"files": [item.to_json() for item in files]})
    return catalogue


def _from_cache(root: Path, wanted: str) -> Catalogue | None:
    payload = catalogue_cache.read(root, wanted)
    if payload is None:
        return None
    try:
        catalogue, _, problems = _assemble([_File(**_cached_file(item)) for item in payload["files"]], root)
    except Exception:  # a cache that does not fit this code: rebuild it
        return None
    if problems:
        return None
    catalogue.from_cache = True
    return catalogue


def _read_files(root: Path, paths: list[tuple[str, Path]]) -> tuple[list[_File], list[str]]:
    files: list[_File] = []
    problems: list[str] = []
    for kind, path in paths:
        filename = _relative(path, root)
        try:
            files.append(_File(kind, filename, _read_text(path, filename)))
        except CatalogueError as exc:
            problems.extend(exc.problems)
    return files, problems


def _cache_key(files: list[_File]) -> str:
    schemas = [_schema_path(name).read_bytes() for name in sorted(set(_SCHEMAS.values()))]
    return catalogue_cache.key(version.__version__, [(f.filename, f.text.encode("utf-8")) for f in files], schemas)


def _cached_file(item: dict[str, Any]) -> dict[str, Any]:
    return {"kind": item["kind"], "filename": item["file"], "data": item["data"], "rule_lines": item["rule_lines"]}


def _parse(item: _File) -> None:
    """Parse and schema-validate one file in place (a cache miss, or a user's catalogue)."""
    item.data, item.lines = _compose(item.text, item.filename)
    problems = _validate(item.data, _schema(_SCHEMAS[item.kind]), item.lines, item.filename)
    if problems:
        raise CatalogueError(problems)
    if item.kind == "rules":
        item.rule_lines = [_line_for(item.lines, ("rules", index)) for index in range(len(item.data["rules"]))]
        problems = _option_problems(item)
        if problems:
            raise CatalogueError(problems)


# --- verb options -------------------------------------------------------------------------


def _verb_options() -> Mapping[tuple[str, str], Any]:
    """(kind, verb) -> the JSON Schema its ``with:`` must satisfy, declared where the engine
    registers the verb and handed to the catalogue through :mod:`.extensions` (the catalogue
    never imports the engine). Asked only on a cache miss or for a user's catalogue."""
    return option_schemas()


def _option_problems(item: _File) -> list[str]:
    """Each target's ``with:`` against its verb's declared options, with the offending key's line."""
    schemas = _verb_options()
    problems: list[str] = []
    for index, raw in enumerate(item.data["rules"]):
        match = raw.get("match") or []
        targets = [(("match",), match)] if isinstance(match, dict) else [(("match", i), t) for i, t in enumerate(match)]
        for where, target in targets:
            verb = Target(path="", check=target.get("check"), transform=target.get("transform"),
                          route=target.get("route"), respond=target.get("respond")).verb
            if verb not in schemas:
                continue  # an unknown verb is reported by the cross-check, once
            path = ("rules", index, *where, "with")
            problems.extend(f"{item.filename}:{_line_for(item.lines, (*path, *key))}: {raw['id']}: {verb[0]} {verb[1]!r}: "
                            f"{message}" for key, message in _options_errors(target.get("with") or {}, schemas[verb]))
    return problems


def _options_errors(options: Any, schema: Mapping[str, Any]) -> list[tuple[tuple, str]]:
    """(path inside ``with``, message) for each way ``options`` breaks the verb's schema."""
    import jsonschema

    found = []
    known = ", ".join(sorted(schema.get("properties") or ())) or "none"
    for error in sorted(jsonschema.Draft202012Validator(schema).iter_errors(options), key=lambda e: list(map(str, e.path))):
        path = tuple(error.path)
        if error.validator == "additionalProperties" and not path:
            for name in sorted(set(error.instance) - set(schema.get("properties") or ())):
                found.append(((name,), f"unknown option {name!r} (options: {known})"))
            continue
        label = "/".join(map(str, path))
        found.append((path, f"option {label}: {error.message}" if label else error.message))
    return found


def _assemble(files: list[_File], root: Path) -> tuple[Catalogue, dict[str, str], list[str]]:
    """The catalogue built from parsed (valid) files, each broker's file, and the problems
    found across files."""
    problems: list[str] = []
    rules: list[Rule] = []
    revisions: list[Revision] = []
    families: list[Family] = []
    brokers: dict[str, BrokerProfile] = {}
    broker_files: dict[str, str] = {}
    for item in files:
        if item.kind == "rules":
            rules.extend(_build_rule(raw, item.filename, line)  # (strict: a short cached list is corrupt)
                         for raw, line in zip(item.data["rules"], item.rule_lines, strict=True))
            continue
        kind, items = _profile_items(item.data)
        if kind == "revisions":
            revisions.extend(items)
        elif kind == "families":
            families.extend(items)
        else:
            for broker in items:
                if broker.id in brokers:
                    problems.append(f"{item.filename}:1: duplicate broker profile {broker.id!r} "
                                    f"(first in {broker_files[broker.id]})")
                brokers[broker.id] = broker
                broker_files[broker.id] = item.filename
    return Catalogue(tuple(rules), tuple(revisions), tuple(families), brokers, root), broker_files, problems


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, root: Path) -> tuple[Any, dict[tuple, int], str]:
    filename = _relative(path, root)
    data, lines = _compose(_read_text(path, filename), filename)
    return data, lines, filename


def _build_rule(raw: dict[str, Any], filename: str, line: int) -> Rule:
    order = float(raw.get("order", 0))
    match = raw.get("match") or []
    if isinstance(match, dict):
        match = [match]
    targets = tuple(
        Target(
            path=t["path"], check=t.get("check"), transform=t.get("transform"), route=t.get("route"),
            respond=t.get("respond"), options=t.get("with") or {}, order=float(t.get("order", order)),
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
        error_fields={key: reject[key] for key in ("type", "code") if key in reject}, no_verb=raw.get("no_verb"),
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


def _context_window(raw: dict[str, Any] | None) -> ContextWindow | None:
    if raw is None:
        return None
    disputed = tuple(DisputedWindow(d["tokens"], d["source"], d.get("note", "")) for d in raw.get("disputed") or ())
    return ContextWindow(raw["tokens"], tuple(raw["sources"]), disputed)


def _profile_items(data: dict[str, Any]) -> tuple[str, list[Any]]:
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
            Family(id=f["id"], pattern=f["pattern"], models=tuple(f.get("models") or ()), title=f["title"],
                   context_window=_context_window(f.get("context_window")))
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
    """Checks JSON Schema cannot express: unique ids, known names, and the registered rule checks
    (:mod:`.extensions`: the engine's verbs)."""
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
        for extra in rule_checks():  # e.g. the engine's: every verb a rule names exists
            problems.extend(f"{where}: {rule.id}: {problem}" for problem in extra(rule))
        problems.extend(f"{where}: {rule.id}: {problem}" for problem in _template_problems(rule))
        has_check = any(t.check or t.route for t in rule.targets)
        if has_check and rule.kind != "advise" and rule.status is None:
            problems.append(f"{where}: {rule.id}: a rule with a check or route verb needs action.reject")
        if rule.kind == "advise" and has_check and not rule.advice:
            problems.append(f"{where}: {rule.id}: an advise rule with a check needs action.advise")
    for rule in rules:  # a delegated code needs a message in the rule it is delegated to
        for target in rule.targets:
            for code, delegate in (target.options.get("delegate") or {}).items():
                owner = seen.get(delegate)
                if owner and owner.kind != "advise" and owner.messages and code not in owner.messages and "default" not in owner.messages:
                    problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: delegate {delegate!r} has no message for code {code!r}")
    for rule, evidence in ((r, r.evidence) for r in rules if r.evidence):  # a disputed rule's default and overrides must resolve
        names = [a.name for a in evidence.alternatives]
        if evidence.default not in names:
            problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: evidence default {evidence.default!r} is not an alternative")
        for unknown in sorted({r for a in evidence.alternatives for r in a.options} - set(seen)):
            problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: evidence overrides unknown rule {unknown!r}")
    for rule in rules:
        for example in rule.live:
            owner = (example.get("expect") or {}).get("rejected_by")
            if owner is not None and owner not in seen:
                problems.append(f"{rule.source_file}:{rule.line}: {rule.id}: live example {example.get('name', '')!r} "
                                f"is rejected_by unknown rule {owner!r}")
    problems.extend(_matchless_problems(rules))
    problems.extend(_override_problems(rules, seen))
    for broker in brokers.values():
        for divergence in broker.divergences:
            if divergence.rule not in seen:
                problems.append(f"{broker_files[broker.id]}:1: divergence names unknown rule {divergence.rule!r}")
    return problems


def _matchless_problems(rules: list[Rule]) -> list[str]:
    """A rule without ``match`` runs only when another rule's verb reports for it through
    ``delegate``: one nothing delegates to would load, pass every test and never fire. The one
    exceptions do nothing a verb could do, and say so: an ``accept`` rule records that nothing
    rejects (its live examples check it), and a rule with ``no_verb`` states why (a wire-format
    fact, documentation). Route and response rules name their gateway verb (``route:`` /
    ``respond:``) like any other rule."""
    delegated = {delegate for rule in rules for target in rule.targets
                 for delegate in (target.options.get("delegate") or {}).values()}
    return [f"{rule.source_file}:{rule.line}: {rule.id}: a rule without match must be named in another rule's "
            f"delegate map (e.g. reject-unknown-param's), be an accept rule or say why no verb runs it (no_verb); "
            f"a {rule.stage} rule names its verb in match"
            for rule in rules
            if not rule.targets and rule.id not in delegated and rule.kind != "accept" and not rule.no_verb] + [
        f"{rule.source_file}:{rule.line}: {rule.id}: no_verb says no verb runs this rule, but it has a match"
        for rule in rules if rule.targets and rule.no_verb]


def _override_problems(rules: list[Rule], by_id: dict[str, Rule]) -> list[str]:
    """A disputed rule's engine options override another rule's ``with:`` (in each of its
    targets): every key must be an option of one of those targets' verbs, and the result must
    still fit each verb that takes it."""
    schemas = _verb_options()
    problems: list[str] = []
    for rule in rules:
        if rule.evidence is None:
            continue
        for side in rule.evidence.alternatives:
            for target_rule, values in side.options.items():
                if target_rule not in by_id:
                    continue  # reported as an unknown rule
                where = f"{rule.source_file}:{rule.line}: {rule.id}: side {side.name!r} overrides {target_rule}"
                unused = set(values)
                for target in by_id[target_rule].targets:
                    schema = schemas.get(target.verb)
                    taken = {k: v for k, v in values.items() if k in ((schema or {}).get("properties") or {})}
                    unused -= set(taken)
                    if schema and taken:
                        problems.extend(f"{where}: {message}" for _, message in _options_errors({**target.options, **taken}, schema))
                problems.extend(f"{where}: no verb of that rule takes option {name!r}" for name in sorted(unused))
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


def read_data_file(path: Path, root: Path, schema_name: str | None = None) -> Any:
    """A catalogue data file besides rules and profiles (e.g. ``coverage.yaml``), validated
    against ``schema/<schema_name>`` when given; problems raise :class:`CatalogueError` as
    ``file:line: …``."""
    data, lines, filename = _read_yaml(path, root)
    problems = _validate(data, _schema(schema_name), lines, filename) if schema_name else []
    if problems:
        raise CatalogueError(problems)
    return data
