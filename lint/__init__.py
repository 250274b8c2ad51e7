"""gonka-lint: find, explain and fix what Gonka's gateway does to a chat-completions payload.

Library use::

    from gonka_conformance.lint import lint
    for finding in lint(body, model="moonshotai/Kimi-K2.6"):
        print(finding.severity, finding.rule, finding.pointer, finding.message)

Every finding comes from the engine's analysis of the payload against the YAML catalogue; the
linter evaluates no rule of its own. See ``docs/lint.md``.
"""

from __future__ import annotations

import logging
from typing import Any

from .findings import Finding, FixInfo
from .library import PayloadError, check_target, lint
from .sdk import http_client as _sdk_http_client
from .sdk import wrap as _sdk_wrap

__all__ = ["Finding", "FixInfo", "PayloadError", "http_client", "lint", "wrap"]

# A library logs nothing unless its user configures logging (no "last resort" stderr lines).
logging.getLogger("gonka_conformance.lint").addHandler(logging.NullHandler())


def wrap(client: Any, **options: Any) -> Any:
    """Lint every chat-completions request an OpenAI SDK client sends (see :mod:`.sdk`): a
    payload the gateway rejects raises ``openai.BadRequestError`` with nothing sent."""
    return _sdk_wrap(client, **options)


def http_client(**options: Any) -> Any:
    """An httpx/httpx2 client for ``openai.OpenAI(http_client=...)`` that lints (see :mod:`.sdk`)."""
    return _sdk_http_client(**options)
