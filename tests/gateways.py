"""Start reference gateways in tests; each one is stopped when its ``with`` block ends."""

from __future__ import annotations

import contextlib
import socket
from typing import Any, Iterator

from gonka_conformance.gateway import GatewayConfig, ReferenceGateway


@contextlib.contextmanager
def serve(catalogue: Any = None, **options: Any) -> Iterator[ReferenceGateway]:
    gateway = ReferenceGateway(GatewayConfig(**options), catalogue=catalogue)
    with gateway.running():
        yield gateway


def raw_exchange(gateway: ReferenceGateway, payload: bytes, timeout: float = 5.0, read_all: bool = True) -> bytes:
    """Send raw bytes and read the answer until the server closes (or ``timeout`` passes)."""
    host, port = gateway.address
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
            if not read_all:
                break
        return b"".join(chunks)
