"""Lint an agent's config file: derive the payloads the client sends, lint them, and point
each finding at the config line that causes it, with the fix in the client's own words.

How each client turns its config into payloads is data (``agents/<client>.yaml``, validated
by ``agents/agent-config.schema.json``, with its sources); this module only reads it. Every
finding comes from the engine through :func:`lint` — no rule is evaluated here.

Only the values the mapping names are read out of a config: API keys, headers and URLs never
reach a payload or a message.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from gonka_conformance.common.pointers import escape, join_pointer, split_pointer, value_at
from gonka_conformance.engine import family_of
from gonka_conformance.engine.types import MISSING

from . import lint
from .findings import Finding, FixInfo
from .locate import SourceIndex
from .runner import Options

MAX_CONFIG_BYTES = 1 << 20  # agent configs are small; refuse anything larger unread
MAX_CONFIG_NODES = 200_000  # values (aliases expanded) a payload may take from a config
_VAR = re.compile(r"\{(\w+)\}")
_SUBDIRS = (".opencode", ".kilo", ".hermes", ".openclaw")  # where project-level configs live


class AgentConfigError(ValueError):
    """A config file that cannot be read as its client's config (one line, with a position)."""


# --- the clients' mappings (data) -------------------------------------------------------------


@lru_cache(maxsize=1)
def clients() -> dict[str, dict[str, Any]]:
    """Every client mapping, validated, with ``extends`` resolved. Parsed and validated once
    per content (then read from the catalogue's cache), so that linting a payload, which asks
    whether each file is an agent config, imports neither yaml nor jsonschema on a warm start."""
    from gonka_conformance import __version__
    from gonka_conformance.catalogue import cache

    folder = resources.files(__package__).joinpath("agents")
    sources = [(entry.name, entry.read_bytes()) for entry in sorted(folder.iterdir(), key=lambda item: item.name)
               if entry.name.endswith(".yaml")]
    schema = folder.joinpath("agent-config.schema.json").read_bytes()
    root, wanted = Path(str(folder)), cache.key(__version__, sources, [schema])
    resolved = cache.read(root, wanted)
    if not isinstance(resolved, dict):
        resolved = _parse_clients(sources, schema)
        cache.write(root, wanted, resolved)
    return resolved


def _parse_clients(sources: list[tuple[str, bytes]], schema_text: bytes) -> dict[str, dict[str, Any]]:
    import jsonschema
    import yaml

    schema = json.loads(schema_text)
    raw: dict[str, dict[str, Any]] = {}
    for _name, text in sources:
        data = yaml.safe_load(text.decode("utf-8"))
        jsonschema.validate(data, schema)
        raw[data["id"]] = data
    resolved = {}
    for client_id, data in raw.items():
        base = raw[data["extends"]] if "extends" in data else {}
        merged = {**base, **data}
        merged["sources"] = [*data["sources"], *base.get("sources", [])]
        for key in ("format", "targets", "request", "fields"):
            if key not in merged:
                raise ValueError(f"agents/{client_id}.yaml: no {key} (and none to extend)")
        resolved[client_id] = merged
    return resolved


def detect(path: Path) -> str | None:
    """The client whose config file this is, by its name (``opencode.json``, ``.kilo/kilo.jsonc``)."""
    name, parent = path.name, path.parent.name
    for client_id, spec in clients().items():
        for known in spec.get("files", []):
            directory, _, file = known.rpartition("/")
            if file == name and (not directory or directory == parent):
                # config.yaml and .env are common names: they are a client's only when they read
                # like its config (Hermes' `model`, LiteLLM's `model_list`, an OpenAI model variable)
                if spec["format"] in ("yaml", "dotenv") and not directory and not _looks_like(path, spec):
                    continue
                return client_id
    return None


def find_in(directory: Path) -> list[Path]:
    """Known agent configs at the top of ``directory`` and in its agent folders (``.kilo/``…)."""
    found = []
    for folder in (directory, *(directory / sub for sub in _SUBDIRS)):
        try:
            entries = sorted(folder.iterdir()) if folder.is_dir() else []
            found += [entry for entry in entries if entry.is_file() and detect(entry)]
        except OSError:  # an unreadable folder holds no config we can lint
            continue
    return found


def _looks_like(path: Path, spec: dict[str, Any]) -> bool:
    try:
        document = read_config(path, spec["format"])
    except (AgentConfigError, OSError):
        return False
    any_of = spec.get("detect_any", [])
    return all(document.exists(pointer) for pointer in spec.get("detect", [])) and \
        (not any_of or any(document.exists(pointer) for pointer in any_of))


def guess(path: Path) -> str | None:
    """For ``--agent-config`` with another file name: the client whose keys the file has."""
    known = detect(path)
    if known:
        return known
    suffix = path.suffix.lower()
    for client_id, spec in clients().items():
        if "extends" in spec:
            continue  # a fork reads like its parent; the parent's name is the honest guess
        if (spec["format"] == "yaml") == (suffix in (".yaml", ".yml")) and _looks_like(path, spec):
            return client_id
    return None


# --- reading a config with positions -----------------------------------------------------------


@dataclass
class ConfigDocument:
    data: Any
    positions: dict[str, tuple[int, int]] | None = None  # YAML: pointer -> (line, column)
    index: SourceIndex | None = None  # JSON: positions found lazily

    def get(self, pointer: str) -> Any:
        return value_at(self.data, split_pointer(pointer), MISSING)

    def exists(self, pointer: str) -> bool:
        return self.get(pointer) is not MISSING

    def locate(self, pointer: str) -> tuple[int, int]:
        """The line and column of ``pointer``'s key, or of its nearest existing parent."""
        parts = split_pointer(pointer)
        while parts and not self.exists(join_pointer(*parts)):
            parts = parts[:-1]
        present = join_pointer(*parts)
        if self.index is not None:
            return self.index.locate(present)
        return (self.positions or {}).get(present, (1, 1))


def read_config(path: Path, fmt: str) -> ConfigDocument:
    with open(path, "rb") as handle:
        raw = handle.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise AgentConfigError(f"larger than {MAX_CONFIG_BYTES} bytes: not an agent config")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AgentConfigError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})") from None
    if "\x00" in text:
        raise AgentConfigError("binary data (a NUL byte), not a config file")
    if fmt == "dotenv":
        return _read_dotenv(text)
    try:
        if fmt == "yaml":
            return _read_yaml(text)
        plain = _strip_jsonc(text) if fmt == "jsonc" else text
        data = json.loads(plain)
    except json.JSONDecodeError as exc:
        raise AgentConfigError(f"{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise AgentConfigError("nested too deeply to be a config file") from None
    if not isinstance(data, dict):
        raise AgentConfigError("1:1: the config is not a JSON object")
    return ConfigDocument(data, index=SourceIndex(plain))


_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")


def _read_dotenv(text: str) -> ConfigDocument:
    """A ``.env`` file as python-dotenv and Node's dotenv read the common cases: ``KEY=value``,
    ``export KEY=value``, single or double quotes, ``#`` comments. A line that is none of these
    makes the file not a ``.env``; its text is never quoted back (it may hold a key)."""
    data: dict[str, str] = {}
    positions: dict[str, tuple[int, int]] = {"": (1, 1)}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.fullmatch(line)
        if match is None:
            raise AgentConfigError(f"{number}:1: not a KEY=value line, so not a .env file")
        key, value = match.group(1), match.group(2)
        if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
            value = value[1:value.find(value[0], 1)]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
        data[key] = value
        positions[join_pointer(key)] = (number, match.start(1) + 1)
    return ConfigDocument(data, positions=positions)


def _strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas → JSON of the same length, line for line (each
    comment and trailing comma becomes blanks), so positions stay those of the file."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = [c if c == "\n" else " " for c in text[i:end]]
            i = end
            continue
        elif char == ",":
            j = i + 1
            while j < n and (out[j] in " \t\r\n"):
                j += 1
            if j < n and out[j] in "}]":
                out[i] = " "
        i += 1
    return "".join(out)


def _read_yaml(text: str) -> ConfigDocument:
    import yaml  # (slow to import: only for YAML configs)

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}: " if mark is not None else ""
        raise AgentConfigError(f"{where}invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise AgentConfigError(f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise AgentConfigError("1:1: the config is not a YAML mapping")
    positions: dict[str, tuple[int, int]] = {"": (1, 1)}
    _yaml_positions(node, "", positions, set())
    return ConfigDocument(data, positions=positions)


def _yaml_positions(node: Any, pointer: str, positions: dict[str, tuple[int, int]], seen: set[int]) -> None:
    """Each key's position. An aliased node is walked once (its first place): a file of nested
    aliases ("billion laughs") costs its size, not the size of its expansion."""
    import yaml

    if id(node) in seen or len(seen) > MAX_CONFIG_NODES:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = pointer + join_pointer(key.value)
            positions.setdefault(child, (key.start_mark.line + 1, key.start_mark.column + 1))
            _yaml_positions(value, child, positions, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            child = pointer + join_pointer(index)
            positions.setdefault(child, (value.start_mark.line + 1, value.start_mark.column + 1))
            _yaml_positions(value, child, positions, seen)


# --- payloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where one payload field came from: the mapping's field, the config pointer, the config
    key (for a field that maps every key of an object) and the payload key it became."""

    field: dict[str, Any] = dataclasses.field(hash=False, compare=False)
    config: str = ""
    key: str = ""
    sent: str = ""


@dataclass
class Target:
    """One model entry of the config, the payload the client sends for it, and where each
    payload field came from."""

    entry: str  # the model entry's pointer in the config
    model: str
    variables: dict[str, str]
    payload: dict[str, Any]
    origins: dict[str, Origin]  # payload pointer -> where it came from
    profile: str | None


def _expand(pattern: str, data: Any, variables: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Every way ``pattern``'s {name} segments match keys (or indexes) present in ``data``."""
    variables = dict(variables or {})
    parts = split_pointer(_fill(pattern, variables, partial=True))

    def walk(node: Any, index: int, bound: dict[str, str]) -> Iterator[dict[str, str]]:
        if index == len(parts):
            yield bound
            return
        part = parts[index]
        match = _VAR.fullmatch(part)
        if match:
            keys = list(node) if isinstance(node, dict) else [str(i) for i in range(len(node))] \
                if isinstance(node, list) else []
            for key in keys:
                child = node[key] if isinstance(node, dict) else node[int(key)]
                yield from walk(child, index + 1, {**bound, match.group(1): key})
        elif isinstance(node, dict) and part in node:
            yield from walk(node[part], index + 1, bound)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            yield from walk(node[int(part)], index + 1, bound)

    yield from walk(data, 0, variables)


def _fill(template: str, variables: dict[str, str], *, partial: bool = False, as_pointer: bool = True) -> str:
    """``template`` with its {name}s replaced (escaped as pointer tokens unless ``as_pointer``
    is false); ``partial`` keeps the names ``variables`` lacks."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            if partial:
                return match.group(0)
            raise KeyError(name)
        text = variables[name]
        return escape(text) if as_pointer else text

    return _VAR.sub(value, template)


def _profile_for(options: Options, base_url: Any) -> str | None:
    if options.profile is not None or not isinstance(base_url, str):
        return options.profile
    wanted = base_url.strip().rstrip("/").lower()
    for broker in options.catalogue.brokers.values():
        if any(wanted == url.rstrip("/").lower() for url in broker.base_urls):
            return broker.id
    return None


def targets(spec: dict[str, Any], document: ConfigDocument, options: Options) -> list[Target]:
    """The payload the client sends for each model entry it can call on a Gonka gateway (a
    broker's base URL, or a model id of a Gonka family)."""
    found: list[Target] = []
    for target in spec["targets"]:
        for variables in _expand(target["each"], document.data):
            model = _model_id(target["model"], variables, document)
            if model is None:
                continue
            for prefix in target.get("strip_prefix", []):  # LiteLLM's provider prefix (openai/…)
                if model.startswith(prefix) and len(model) > len(prefix):
                    model = model[len(prefix):]
                    break
            base_url = next((document.get(_fill(p, variables)) for p in target.get("base_url", [])
                             if document.exists(_fill(p, variables))), None)
            profile = _profile_for(options, base_url)
            if profile is None and family_of(options.catalogue, model) is None:
                continue  # another provider's model (OpenAI, Anthropic…): not the gateway's business
            if any(seen.model == model for seen in found):
                continue  # the same model named twice (Hermes: a provider's models and model.default)
            payload, origins = _payload(spec, document, variables, model)
            found.append(Target(_fill(target["each"], variables), model, variables, payload, origins, profile))
    return found


def _model_id(choices: list[str], variables: dict[str, str], document: ConfigDocument) -> str | None:
    for choice in choices:
        if choice.startswith("/"):
            value = document.get(_fill(choice, variables))
            if isinstance(value, str) and value:
                return value
        else:
            return _fill(choice, variables, as_pointer=False)
    return None


def _payload(spec: dict[str, Any], document: ConfigDocument, variables: dict[str, str],
             model: str) -> tuple[dict[str, Any], dict[str, Origin]]:
    payload: dict[str, Any] = {"model": model, **copy.deepcopy(spec["request"])}
    origins: dict[str, Origin] = {}
    for field in spec["fields"]:
        pattern = _fill(field["config"], variables, partial=True)
        if _VAR.search(pattern.replace("{key}", "")):
            continue  # names a variable this target does not have (another target's field)
        if "{key}" in pattern:
            for bound in _expand(pattern, document.data, variables):
                key = bound["key"]
                name = field.get("rename", {}).get(key, key)
                config = _fill(pattern, bound)
                pointer = _fill(field["payload"], {"key": name})
                payload[split_pointer(pointer)[0]] = _bounded(document.get(config), config)
                origins[pointer] = Origin(field, config, key, name)
            continue
        if "only_if" in field and document.get(_fill(field["only_if"], variables)) is not True:
            continue  # the client sends it only for entries that enable it (pi-ai: model.reasoning)
        value = document.get(pattern)
        if value is MISSING:
            value = field.get("default", MISSING)
        if value is MISSING:
            continue
        if "values" in field and isinstance(value, str) and value in field["values"]:
            value = field["values"][value]
            if value is None:
                continue  # the client leaves the field out for this setting
        if "type" in field:
            value = _typed(value, field["type"])
            if value is MISSING:
                continue  # the app would fail to parse it before sending anything
        if "send" in field:
            if value is not True:
                continue
            value = field["send"]
        elif "max" in field and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = min(value, field["max"])
        pointer = _payload_pointer(field, document, variables)
        if pointer == "/model" and value != model:
            continue  # another variable names the model the client uses (a .env's OPENAI_MODEL first)
        payload[split_pointer(pointer)[0]] = _bounded(value, pattern)
        origins[pointer] = Origin(field, pattern, "", split_pointer(pointer)[0])
    return payload, origins


def _typed(value: Any, kind: str) -> Any:
    """A config string as the app parses it (``int(os.getenv(...))``); MISSING when it cannot."""
    if not isinstance(value, str):
        return value
    try:
        return int(value.strip()) if kind == "integer" else float(value.strip()) if kind == "number" else value
    except ValueError:
        return MISSING


def _bounded(value: Any, where: str) -> Any:
    """A copy of a config value for the payload, refusing one that expands (YAML aliases) past
    ``MAX_CONFIG_NODES`` values: the payload is serialised whole, aliases expanded."""
    count = 0

    def copy_of(node: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_CONFIG_NODES or depth > 64:
            raise AgentConfigError(f"{where}: the value is too large or too deep to be sent (YAML aliases?)")
        if isinstance(node, dict):
            return {key: copy_of(item, depth + 1) for key, item in node.items()}
        if isinstance(node, list):
            return [copy_of(item, depth + 1) for item in node]
        return node

    return copy_of(value, 0)


def _payload_pointer(field: dict[str, Any], document: ConfigDocument, variables: dict[str, str]) -> str:
    chooser = field.get("payload_from")
    if chooser:
        picked = document.get(_fill(chooser["config"], variables))
        if isinstance(picked, str) and picked in chooser["values"]:
            return chooser["values"][picked]
    return field["payload"]


# --- findings -------------------------------------------------------------------------------------


def lint_config(path: Path, options: Options, client: str | None = None, display: str | None = None) -> list[Finding]:
    """Every finding for one agent config, placed in the config file. Raises
    :class:`AgentConfigError` for a file that is not a config of a known client."""
    return lint_config_payloads(path, options, client, display)[0]


def lint_config_payloads(path: Path, options: Options, client: str | None = None,
                         display: str | None = None) -> tuple[list[Finding], int]:
    """:func:`lint_config`, and how many payloads the config makes the client send."""
    client = client or guess(path)
    if client is None:
        raise AgentConfigError("not a config of a known agent (OpenCode, Kilo Code, Hermes Agent, OpenClaw, LiteLLM, an OpenAI-SDK .env)")
    spec = clients()[client]
    document = read_config(path, spec["format"])
    findings = []
    found = targets(spec, document, options)
    for target in found:
        for finding in lint(target.payload, revision=options.revision, profile=target.profile,
                            limits=options.limits, catalogue=options.catalogue):
            findings.append(_place(finding, target, spec, document, options, display or str(path)))
    return (_redacted(findings, document) if findings else findings), len(found)


def _redacted(findings: list[Finding], document: ConfigDocument) -> list[Finding]:
    """Findings with the config's secrets masked: a key the user pasted where a model id or a
    number belongs would otherwise be quoted back. The project's one redactor does it, with the
    values of the config's secret-named keys (``OPENAI_API_KEY``, ``apiKey``…) as known secrets."""
    from gonka_conformance.common.redact import Redactor  # (httpx) only when there is a finding

    from .masking import secrets_in

    redactor = Redactor()
    for secret in secrets_in(json.dumps(document.data, default=str).encode()):
        redactor.add(secret)
    out = []
    for finding in findings:
        fix = finding.fix
        if fix is not None and fix.description:
            fix = dataclasses.replace(fix, description=redactor.text(fix.description))
        out.append(dataclasses.replace(finding, message=redactor.text(finding.message), fix=fix))
    return out


def _origin(finding: Finding, target: Target, options: Options, document: ConfigDocument) -> Origin | None:
    """The config field behind a finding: the one that put its pointer (or an ancestor) in the
    payload, else a field the config sets that claims the rule, else one of the client fields
    the rule names in ``lint.at``."""
    parts = split_pointer(finding.pointer)
    for length in range(len(parts), 0, -1):
        origin = target.origins.get(join_pointer(*parts[:length]))
        if origin is not None:
            return origin
    for origin in target.origins.values():
        if finding.rule in origin.field.get("claims", ()) and document.exists(origin.config):
            return origin
    rule = options.catalogue.by_id.get(finding.rule)
    for pointer in (rule.lint.get("at") or []) if rule else []:
        if pointer in target.origins:
            return target.origins[pointer]
    return None


def _place(finding: Finding, target: Target, spec: dict[str, Any], document: ConfigDocument,
           options: Options, file: str) -> Finding:
    origin = _origin(finding, target, options, document)
    op = finding.fix.op if finding.fix else None
    value = _fix_value(finding, op, target, options)
    advice = spec.get("advice", {}).get(op or "")
    if origin is not None:
        name = f"`{_fill(origin.field.get('name', origin.config), {'key': origin.key}, as_pointer=False)}`"
        present = document.exists(origin.config)
        where = origin.config if present else target.entry
        template = origin.field.get("fix", {}).get(op or "") or advice
        sent = f"{origin.sent} from {name}" if present else \
            f"{origin.sent} {json.dumps(target.payload.get(origin.sent))} (no {name} set)"
    else:
        where, template, sent = target.entry, advice, "its requests"
    described = _fill(template, {"value": str(value), "key": origin.key if origin else ""}, partial=True,
                      as_pointer=False) if template else (finding.fix.description if finding.fix else None)
    line, column = document.locate(where)
    message = f"{spec['title']} sends {sent} for {target.model}: {finding.message}"
    return dataclasses.replace(finding, file=file, record=None, line=line, column=column, pointer=where,
                               message=message, fix=FixInfo(described, None, None, False))


def _fix_value(finding: Finding, op: str | None, target: Target, options: Options) -> str:
    """The value the fix would write: what the gateway changes the field to, or for a broker's
    model spelling, the broker's id for the model's family."""
    if finding.after is not MISSING:
        return json.dumps(finding.after) if isinstance(finding.after, (dict, list)) else str(finding.after)
    if op == "set-model" and target.profile is not None:
        family = family_of(options.catalogue, target.model)
        expected = options.catalogue.broker(target.profile).model_ids.get(family or "")
        return str(expected or "")
    return ""
