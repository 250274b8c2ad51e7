"""The rule engine: plans a catalogue's rules per (revision, family, profile) and runs them.

Importing it registers the engine's verb vocabulary with the catalogue loader
(:mod:`..catalogue.extensions`), so a rule naming an unknown verb fails at load time with
``file:line`` while the catalogue never imports the engine.
"""

from ..catalogue.extensions import add_rule_check, set_option_schemas
from .builtins import option_schemas, unknown_verbs

add_rule_check(unknown_verbs)
set_option_schemas(option_schemas)
