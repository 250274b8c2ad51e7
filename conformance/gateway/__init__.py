"""The reference gateway: the catalogue's engine behind a real HTTP server with a
deterministic simulated model (``gonka-conformance serve``)."""

from .config import DisabledMode, Faults, GatewayConfig
from .server import ReferenceGateway

__all__ = ["DisabledMode", "Faults", "GatewayConfig", "ReferenceGateway"]
