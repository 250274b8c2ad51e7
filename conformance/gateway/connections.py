"""Open connections, what each one is doing, and the deadlines that keep a trickle from holding
a slot: the defence against slowloris-style lock-outs.

Every connection is in one phase: ``idle`` (waiting for the next request, up to the keep-alive
wait), ``head`` (request line and headers, one deadline for all of it, counted from the first
byte), ``body`` (one deadline for the whole body) or ``busy`` (the application runs or the
answer is written). A connection that is not ``busy`` has done no work yet that closing it would
lose, so it can give its slot up:

- a client address holding ``max_idle_per_client`` such connections loses its oldest one to its
  newest;
- when every slot is taken, a new connection takes the slot of the oldest waiting one (idle
  first, then a slow head, then a slow body) — so a normal client always gets in while any slot
  is only being trickled into; only when every slot is ``busy`` is the newcomer answered 503.

Reads go through :class:`DeadlineReader`, which caps each ``recv`` by the phase's deadline (not
just by the per-read timeout, which a byte every few seconds would reset forever).
"""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass, field

IDLE, HEAD, BODY, BUSY = "idle", "head", "body", "busy"
_EVICTION_ORDER = {IDLE: 0, HEAD: 1, BODY: 2}


@dataclass(frozen=True)
class Deadlines:
    io_timeout: float      # one read or write; also the keep-alive wait for the next request
    head_timeout: float    # request line and headers, from their first byte
    body_timeout: float    # the whole body

    def of(self, phase: str) -> float | None:
        """The deadline a phase starts (``busy`` has none beyond the per-read timeout)."""
        if phase == IDLE:
            return self.io_timeout
        if phase == HEAD:
            return self.head_timeout
        return self.body_timeout if phase == BODY else None


@dataclass(eq=False)
class Slot:
    """One open connection's bookkeeping (its fields change under the table's lock)."""

    sock: socket.socket
    address: str
    deadlines: Deadlines
    phase: str = IDLE
    since: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    evicted: bool = False

    def time_left(self) -> float:
        left = self.deadlines.io_timeout
        if self.deadline is not None:
            left = min(left, self.deadline - time.monotonic())
        return left


class ConnectionTable:
    def __init__(self, max_connections: int, max_idle_per_client: int) -> None:
        self.max_connections = max_connections
        self.max_idle_per_client = max_idle_per_client
        self._lock = threading.Lock()
        self._slots: dict[socket.socket, Slot] = {}

    def admit(self, sock: socket.socket, address: str, deadlines: Deadlines) -> Slot | None:
        """A slot for a new connection, evicting waiting ones as the caps say; None: all busy."""
        victims: list[Slot] = []
        with self._lock:
            live = [s for s in self._slots.values() if not s.evicted]
            mine = [s for s in live if s.address == address and s.phase != BUSY]
            if len(mine) >= self.max_idle_per_client:
                victims.append(self._oldest_waiting(mine))
            if len(live) - len(victims) >= self.max_connections:
                others = [s for s in live if s.phase != BUSY and s not in victims]
                if not others:
                    return None
                victims.append(self._oldest_waiting(others))
            for victim in victims:
                victim.evicted = True
            slot = Slot(sock, address, deadlines)
            slot.deadline = slot.since + deadlines.io_timeout
            self._slots[sock] = slot
        for victim in victims:
            _shutdown(victim.sock)  # wakes its thread's recv with an end of file
        return slot

    @staticmethod
    def _oldest_waiting(slots: list[Slot]) -> Slot:
        return min(slots, key=lambda s: (_EVICTION_ORDER[s.phase], s.since))

    def enter(self, slot: Slot, phase: str) -> bool:
        """Move to ``phase`` and start its deadline (``busy`` has none beyond the per-read timeout);
        False when the connection has already given its slot up (it must not start any work)."""
        with self._lock:
            if slot.evicted:
                return False
            if slot.phase == phase:  # a new connection is idle from its admission, not from its thread's start
                return True
            now = time.monotonic()
            slot.phase, slot.since = phase, now
            timeout = slot.deadlines.of(phase)
            slot.deadline = None if timeout is None else now + timeout
            return True

    def release(self, slot: Slot) -> None:
        with self._lock:
            self._slots.pop(slot.sock, None)

    def sockets(self) -> list[socket.socket]:
        with self._lock:
            return [s.sock for s in self._slots.values()]

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for s in self._slots.values() if not s.evicted)


class DeadlineReader(io.RawIOBase):
    """A connection's raw input: each ``recv`` waits at most until its phase's deadline; the
    first byte of a request moves an idle connection to ``head``."""

    def __init__(self, sock: socket.socket, slot: Slot, table: ConnectionTable) -> None:
        self.sock, self.slot, self.table = sock, slot, table

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.slot.evicted:
            raise ConnectionAbortedError("the connection gave its slot to a newer one")
        left = self.slot.time_left()
        if left <= 0 and self.slot.phase != IDLE:
            raise TimeoutError(f"{self.slot.phase} deadline passed")
        # An idle connection past its wait still gets what it already sent: under load its
        # thread may start after the deadline, and a request sitting in the buffer was on time.
        self.sock.settimeout(max(left, 0.0))
        try:
            count = self.sock.recv_into(buffer)
        except BlockingIOError:  # (a zero timeout and nothing buffered)
            raise TimeoutError(f"{self.slot.phase} deadline passed") from None
        finally:
            self.sock.settimeout(self.slot.deadlines.io_timeout)  # writes keep the plain timeout
        if self.slot.evicted:
            raise ConnectionAbortedError("the connection gave its slot to a newer one")
        if count and self.slot.phase == IDLE:
            self.table.enter(self.slot, HEAD)
        return count


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
