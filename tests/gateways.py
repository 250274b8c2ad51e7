"""Start reference gateways in tests; each one is stopped when its ``with`` block ends."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from gonka_conformance.gateway import GatewayConfig, ReferenceGateway


@contextlib.contextmanager
def serve(catalogue: Any = None, **options: Any) -> Iterator[ReferenceGateway]:
    gateway = ReferenceGateway(GatewayConfig(**options), catalogue=catalogue)
    with gateway.running():
        yield gateway
