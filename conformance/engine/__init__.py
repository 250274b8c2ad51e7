"""The rule engine: plans a catalogue's rules per (revision, family, profile) and runs them.

This package is the engine's public interface: the faces (lint, gateway, live), the reports and
the CLI import what they use from here and the result types from :mod:`.types`, never another
engine module (an import-linter contract in pyproject.toml). Everything else is the engine's own.

Importing it registers the engine's verb vocabulary with the catalogue loader
(:mod:`..catalogue.extensions`), so a rule naming an unknown verb fails at load time with
``file:line`` while the catalogue never imports the engine.
"""

from ..catalogue.extensions import add_rule_check, set_option_schemas
from .builtins import option_schemas, unknown_verbs

add_rule_check(unknown_verbs)
set_option_schemas(option_schemas)

# (after the registration above: the modules below plan rules with the registered verbs)
from .gateway import (Responder, access_modes, body_limit, body_too_large, client_intent,  # noqa: E402
                      responder, route)
from .lookup import CatalogueOptionError, tool_call_id_format  # noqa: E402
from .pipeline import (EngineError, analyse, family_of, forwarded_bytes, limits_for, normalize,  # noqa: E402
                       render, rule_applies)
from .routing import unsupported_model  # noqa: E402
from .schemas import Bounds, NodeLimit, RefError, Vocabulary, dereference  # noqa: E402
from .verbs_doc import render_markdown, verb_table  # noqa: E402

__all__ = [
    # normalizing and analysing a request (pipeline)
    "EngineError", "analyse", "family_of", "forwarded_bytes", "limits_for", "normalize", "render", "rule_applies",
    # the gateway's route and response rules
    "Responder", "access_modes", "body_limit", "body_too_large", "client_intent", "responder", "route",
    "unsupported_model",
    # catalogue options a face reads, and JSON-schema reference handling (the linter's fixes)
    "CatalogueOptionError", "tool_call_id_format", "Bounds", "NodeLimit", "RefError", "Vocabulary", "dereference",
    # the generated verb reference (docs/verbs.md)
    "render_markdown", "verb_table",
]
