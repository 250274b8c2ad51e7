"""Access modes are catalogue data: upstream's ``access_mode`` spellings (contract.md §5.3,
main.go) and the unknown-mode fallback are options of the ``access-mode`` rules, and the
gateway resolves the admin settings' ``model_limits[].access_mode`` through them. Every
spelling the catalogue states behaves as the Python table it replaced did, over real sockets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from gonka_conformance.catalogue.loader import default_root, load_catalogue
from gonka_conformance.engine.gateway import access_modes
from gonka_conformance.engine.lookup import CatalogueOptionError
from gonka_conformance.engine.pipeline import render
from gateways import serve
from models import CATALOGUE, GLM, HI, KIMI

KEY, ADMIN = "sk-test-user-acc1", "sk-admin-test-acc2"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
ACCESS_VERB = ("route", "access-mode")

#: The table ``gateway/config.py`` held before the move (``ACCESS_MODES``): what must not change.
BEFORE = {
    "open": "open", "public": "open", "none": "open",
    "api_key": "api_key", "apikey": "api_key", "api": "api_key", "key": "api_key", "api_keys": "api_key",
    "admin_only": "admin_only", "admin": "admin_only", "admin_key": "admin_only",
}


def catalogue_spellings() -> dict[str, str]:
    """Each spelling the ``access-mode`` targets state, read from the rules themselves (not
    through ``access_modes``), with the mode it means; ``open`` is the gateway's own name."""
    found = {"open": "open"}
    for rule in CATALOGUE.rules:
        for target in rule.targets:
            if target.verb != ACCESS_VERB:
                continue
            mode = target.options["mode"]
            for spelling, meaning in [(mode, mode), *((a, mode) for a in target.options.get("aliases") or ()),
                                      *((a, "open") for a in target.options.get("open_aliases") or ())]:
                assert found.setdefault(spelling, meaning) == meaning, spelling
    return found


def message(rule_id: str, model: str) -> str:
    return render(CATALOGUE.by_id[rule_id].messages["default"], {"model": model})


@pytest.fixture(scope="module")
def gw() -> Iterator[Any]:
    with serve(admin_key=ADMIN, api_key=KEY) as gateway:
        yield gateway


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def chat(http: httpx.Client, gateway: Any, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http.post(gateway.base_url + "/chat/completions", headers=headers,
                     json={"model": KIMI, "messages": HI, "max_tokens": 16})


def configure(http: httpx.Client, gateway: Any, entry: dict[str, Any]) -> str:
    """POST one ``model_limits`` entry for KIMI; the mode the gateway now reports for it."""
    answer = http.post(gateway.base_url + "/admin/settings", headers=AUTH, json={"model_limits": [{"model_id": KIMI, **entry}]})
    assert answer.status_code == 200, answer.text
    modes = {e["model_id"]: e["access_mode"] for e in answer.json()["model_limits"]}
    assert http.get(gateway.base_url + "/status").json()["capacity"]["models"][KIMI]["access_mode"] == modes[KIMI]
    return modes[KIMI]


def assert_behaves_as(http: httpx.Client, gateway: Any, mode: str) -> None:
    """The chat answers that tell the three modes apart (the admin key passes every mode)."""
    anonymous, user = chat(http, gateway, None), chat(http, gateway, KEY)
    assert chat(http, gateway, ADMIN).status_code == 200
    if mode == "open":
        assert anonymous.status_code == user.status_code == 200
    elif mode == "api_key":
        assert anonymous.status_code == 401 and anonymous.json()["error"]["message"] == message("require-api-key", KIMI)
        assert user.status_code == 200
    else:
        assert anonymous.status_code == user.status_code == 401
        assert user.json()["error"]["message"] == message("require-admin-key", KIMI)


def test_the_catalogue_states_the_table_it_replaced():
    assert catalogue_spellings() == BEFORE
    resolved = access_modes(CATALOGUE)
    assert dict(resolved.spellings) == BEFORE and resolved.unknown == "api_key"


@pytest.mark.parametrize("spelling", sorted(catalogue_spellings()))
def test_every_spelling_through_the_admin_settings(gw, http, spelling):
    """Upstream trims and lower-cases the value; each spelling means what it did before."""
    assert configure(http, gw, {"access_mode": f"  {spelling.upper()} "}) == BEFORE[spelling]
    assert_behaves_as(http, gw, BEFORE[spelling])


@pytest.mark.parametrize(("entry", "mode"), [
    ({"access_mode": "members_only"}, "api_key"),  # unknown: api_key (contract.md §5.3, newest code)
    ({}, "api_key"),                               # no access_mode at all: an unknown (empty) spelling
    ({"access_mode": 7}, "api_key"),
    ({"access_mode": None}, "open"),               # as before: null was read as the spelling "none"
])
def test_unknown_modes_behave_as_before(gw, http, entry, mode):
    assert configure(http, gw, entry) == mode
    assert_behaves_as(http, gw, mode)


def test_serve_options_name_the_catalogues_modes(http):
    import argparse

    from gonka_conformance.gateway.cli import build_config, register

    parser = argparse.ArgumentParser()
    parser.add_argument("--catalogue")
    register(parser.add_subparsers())
    config = build_config(parser.parse_args(["serve", "--open-model", KIMI, "--admin-only-model", GLM]))
    assert (config.open_models, config.admin_only_models) == ((KIMI,), (GLM,))
    with serve(admin_key=ADMIN, api_key=KEY, open_models=config.open_models, admin_only_models=config.admin_only_models) as gateway:
        capacity = http.get(gateway.base_url + "/status").json()["capacity"]["models"]
        modes = {model: entry["access_mode"] for model, entry in capacity.items()}
        resolve = access_modes(CATALOGUE).resolve
        assert modes[KIMI] == resolve("open") and modes[GLM] == resolve("admin_only")
        assert {mode for model, mode in modes.items() if model not in (KIMI, GLM)} == {resolve("api_key")}
        assert_behaves_as(http, gateway, "open")


# --- the catalogue drives it ----------------------------------------------------------------


def edited_catalogue(tmp_path: Path, old: str, new: str) -> Any:
    root = tmp_path / "cases"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    rules = root / "rules" / "70-gateway.yaml"
    text = rules.read_text(encoding="utf-8")
    assert text.count(old) == 1
    rules.write_text(text.replace(old, new), encoding="utf-8")
    return load_catalogue(root, cache=False)


def test_without_a_rule_claiming_unknown_modes_fall_open(tmp_path, http):
    catalogue = edited_catalogue(tmp_path, "open_aliases: [public, none], unknown: true}", "open_aliases: [public, none]}")
    assert access_modes(catalogue).unknown == "open"
    with serve(catalogue=catalogue, admin_key=ADMIN, api_key=KEY) as gateway:
        assert configure(http, gateway, {"access_mode": "members_only"}) == "open"
        assert_behaves_as(http, gateway, "open")


def test_a_spelling_with_two_meanings_is_a_catalogue_error(tmp_path):
    catalogue = edited_catalogue(tmp_path, "aliases: [admin, admin_key]", "aliases: [admin, admin_key, key]")
    with pytest.raises(CatalogueOptionError, match="'key' means both"):
        access_modes(catalogue)
