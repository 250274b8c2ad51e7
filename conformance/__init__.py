"""gonka-conformance: one YAML catalogue of Gonka gateway behaviour, one engine, three faces.

Public API::

    from gonka_conformance import normalize, analyse, load_catalogue, Limits
    result = normalize(b'{"messages": [...]}', model="moonshotai/Kimi-K2.6")
"""

from .common.version import __version__  # noqa: E402
from .catalogue.loader import Catalogue, CatalogueError, load_catalogue  # noqa: E402
from .engine import analyse, normalize  # noqa: E402
from .engine.types import (  # noqa: E402
    Accepted, Advice, Analysis, Event, Limits, Rejected, Rejection,
)

__all__ = [
    "Accepted", "Advice", "Analysis", "Catalogue", "CatalogueError", "Event", "Limits", "Rejected",
    "Rejection", "analyse", "load_catalogue", "normalize", "__version__",
]
