"""The model ids, revision ids and smallest conversation the tests share, defined once.

Model ids are read from the catalogue (each family's one model in
``cases/profiles/families.yaml``) and revision ids from ``cases/profiles/revisions.yaml``, so a
renamed route is changed in the YAML only. Test modules import this as a plain module (conftest
puts tests/ on ``sys.path``); the fixtures are in ``conftest.py``."""

from __future__ import annotations

from typing import Any

from gonka_conformance.catalogue.loader import load_catalogue

CATALOGUE = load_catalogue()


def _family_model(family_id: str) -> str:
    (model,) = next(f for f in CATALOGUE.families if f.id == family_id).models  # one model per family
    return model


KIMI = _family_model("kimi")
QWEN = _family_model("qwen")          # the 2026-05 default route, retired in the newest revision
MINIMAX = _family_model("minimax")
DEEPSEEK = _family_model("deepseek")
GLM = _family_model("glm")
PLAIN = DEEPSEEK                      # a plain route the newest revision serves (Qwen is retired there)
ALL_MODELS = tuple(model for family in CATALOGUE.families for model in family.models)

REVISIONS = tuple(revision.id for revision in CATALOGUE.revisions)  # oldest first
OLD = REVISIONS[0]                    # the legacy pipeline the goldens reproduce
NEW = CATALOGUE.default_revision.id   # the newest revision, the default
# model -> the newest revision that serves it
SERVED_BY = {model: next(r.id for r in reversed(CATALOGUE.revisions) if model in r.routes) for model in ALL_MODELS}

HI: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]  # the smallest valid conversation
