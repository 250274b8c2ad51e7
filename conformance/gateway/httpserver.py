"""The HTTP layer: a standard-library threading server hardened for a public-facing role.

Why the standard library (see ARCHITECTURE.md): no new dependency for everyone who installs
the suite, a server that starts and stops inside a test thread on port 0 with no event loop to
share, and byte-level control of what goes on the wire (Go's ``http.Error`` shapes, header
sets with no framework defaults, chunked SSE, deliberately cut streams for fault injection).

Hardening: bodies are read incrementally against the catalogue's size limit (a declared
Content-Length over it is answered 413 before a byte is read, then the connection is closed
with a bounded drain so the client can read the answer); every socket read and write has a
timeout, the request head and the body each a deadline, and waiting connections give their slot
to new ones (``connections.py``); only origin-form request targets are accepted and their path
is decoded and normalised once (``target.py``); malformed HTTP, a bad target and a malformed
chunked body get a 400; a client that vanishes ends its own thread only; ``stop()`` closes every
tracked connection and joins the handler threads.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

from .connections import BODY, BUSY, IDLE, ConnectionTable, DeadlineReader, Deadlines, Slot
from .target import BadTarget, Target, parse_target
from .wire import Response

READ_PIECE = 64 * 1024
MAX_CHUNK_LINE = 1024
MAX_TRAILER_LINES = 64
# chunk-size as RFC 9112 and Go read it: hex digits only (no 0x, _, sign or leading space),
# then optional white space and extensions
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
DRAIN_LIMIT = 64 * 1024 * 1024   # bytes read and discarded so a rejected client sees its answer
DRAIN_SECONDS = 5.0
KEEPALIVE_DRAIN = 1024 * 1024    # an unread body up to this size is drained to keep the connection


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The ``Date`` header value, formatted once per second rather than per response."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


class BodyTooLarge(Exception):
    """The request body exceeds the limit (nothing beyond the limit was kept)."""


class BodyError(Exception):
    """The body could not be read (malformed framing, timeout, client gone)."""


class MalformedBody(BodyError):
    """The body's framing is broken: answered 400, then the connection is closed."""


class AbortStream(Exception):
    """Raised by a response stream to end the connection without finishing the message
    (e.g. the proxied upstream broke off): the client must see the break, not a clean end."""


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Message                    # case-insensitive lookups
    read_body: Callable[[], bytes]      # reads at most the server's body limit
    raw_path: str = ""                  # ``path`` as the client encoded it (what a proxy forwards)


App = Callable[[Request], Response]
ErrorReporter = Callable[[str, Iterable[str]], None]  # (message, the request's secrets): redacts, may drop


class GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App, *, body_limit: int, io_timeout: float = 30.0,
                 head_timeout: float = 10.0, body_timeout: float = 120.0, max_connections: int = 256,
                 max_idle_per_client: int = 64, report_error: ErrorReporter | None = None) -> None:
        self.app = app
        self.report_error = report_error
        self.body_limit = body_limit
        self.io_timeout = io_timeout
        self.deadlines = Deadlines(io_timeout, head_timeout, body_timeout)
        self.connections = ConnectionTable(max_connections, max_idle_per_client)
        self._lock = threading.Lock()
        self._handler_threads: set[threading.Thread] = set()
        self.stopping = threading.Event()
        # _serve_connection builds each _Handler with its connection's slot as a fourth argument; the
        # stdlib's three-argument finish_request is never reached (process_request is overridden).
        super().__init__(address, _Handler)  # type: ignore[arg-type]

    # --- connection tracking ----------------------------------------------------------------

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        host = client_address[0] if isinstance(client_address, tuple) else str(client_address)
        slot = None if self.stopping.is_set() else self.connections.admit(request, str(host), self.deadlines)
        if slot is None:  # every slot is busy working: tell the newcomer, do not queue it
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address, slot),
                                  name="gateway-conn", daemon=True)
        with self._lock:
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: object, slot: Slot) -> None:
        try:
            _Handler(request, client_address, self, slot)
        except Exception:  # a broken connection must never take the server down
            pass
        finally:
            self.connections.release(slot)
            with self._lock:
                self._handler_threads.discard(threading.current_thread())
            self.shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:  # stdlib would print a traceback
        pass

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every open connection, join the handler threads."""
        self.stopping.set()
        self.shutdown()
        with self._lock:
            threads = list(self._handler_threads)
        for conn in self.connections.sockets():
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.server_close()

    @property
    def open_connections(self) -> int:
        return len(self.connections)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: GatewayHTTPServer
    target: Target                   # set by parse_request
    _body: bytes | None              # the rest by _dispatch, for each request
    _body_error: BodyTooLarge | BodyError | None
    _length: int | None
    _chunked: bool

    # Malformed requests are answered like Go's server does: a status line, plain text, close.
    default_request_version = "HTTP/1.1"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        phrase = self.responses.get(code, ("Error",))[0]
        body = f"{code} {phrase}\n".encode("ascii")
        try:
            self.send_response_only(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass

    def __init__(self, request: socket.socket, client_address: object, server: GatewayHTTPServer, slot: Slot) -> None:
        self.slot = slot
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.io_timeout)  # per instance: the stdlib's ``timeout`` is a class attribute
        # every read is capped by the phase's deadline (connections.py), not only per recv
        self.rfile.close()  # the stdlib's reader: closed now, or the socket's close waits for it
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, self.slot, self.server.connections), READ_PIECE)

    def handle_one_request(self) -> None:
        self.server.connections.enter(self.slot, IDLE)
        super().handle_one_request()

    def parse_request(self) -> bool:
        """The stdlib's checks, then an origin-form target only; the work starts (``busy``)."""
        if not super().parse_request():
            return False
        try:
            self.target = parse_target(self.path)
        except BadTarget:
            self.send_error(400)
            return False
        if not self.server.connections.enter(self.slot, BUSY):
            self.close_connection = True  # it gave its slot up while its head arrived
            return False
        return True

    # Never print request lines or errors: a query string may carry a token.
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def handle_expect_100(self) -> bool:
        """Answer 413 at once instead of inviting a body that is over the limit."""
        if self._declared_length() is not None and self._declared_length() > self.server.body_limit:  # type: ignore[operator]
            return True
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # --- request body ---------------------------------------------------------------------

    def _declared_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            raise BodyError("invalid Content-Length")
        return int(value)

    def _read_exact(self, count: int, deadline: float) -> bytes:
        parts, left = [], count
        while left > 0:
            if time.monotonic() > deadline:
                raise BodyError("body timeout")
            try:
                piece = self.rfile.read(min(left, READ_PIECE))
            except (TimeoutError, OSError) as exc:
                raise BodyError(f"body read failed: {exc.__class__.__name__}") from None
            if not piece:
                raise BodyError("client closed the connection mid-body")
            parts.append(piece)
            left -= len(piece)
        return b"".join(parts)

    def _read_line(self, deadline: float) -> bytes:
        if time.monotonic() > deadline:
            raise BodyError("body timeout")
        try:
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
        except (TimeoutError, OSError) as exc:
            raise BodyError(f"body read failed: {exc.__class__.__name__}") from None
        if not line:
            raise BodyError("client closed the connection mid-body")
        if not line.endswith(b"\n") or len(line) > MAX_CHUNK_LINE:
            raise MalformedBody("malformed chunked body")
        return line

    def _read_chunked(self, limit: int, deadline: float) -> bytes:
        parts, total = [], 0
        while True:
            match = CHUNK_SIZE.fullmatch(self._read_line(deadline))
            if match is None:
                raise MalformedBody("malformed chunk size")
            size = int(match.group(1), 16)
            if size == 0:
                break
            if total + size > limit:
                raise BodyTooLarge()
            parts.append(self._read_exact(size, deadline))
            total += size
            if self._read_line(deadline) not in (b"\r\n", b"\n"):
                raise MalformedBody("chunk data longer than its size")
        for _ in range(MAX_TRAILER_LINES):
            if self._read_line(deadline) in (b"\r\n", b"\n"):
                return b"".join(parts)
        raise MalformedBody("too many trailer lines")

    def _read_body(self) -> bytes:
        if self._body is not None:
            return self._body
        if self._body_error is not None:
            raise self._body_error
        limit = self.server.body_limit
        deadline = time.monotonic() + self.server.deadlines.body_timeout
        connections = self.server.connections
        try:
            if not self._chunked and (self._length or 0) > limit:
                raise BodyTooLarge()
            if not connections.enter(self.slot, BODY):  # waiting for a body may give the slot up
                raise BodyError("the connection gave its slot to a newer one")
            try:
                body = self._read_chunked(limit, deadline) if self._chunked else self._read_exact(self._length or 0, deadline)
            finally:
                connections.enter(self.slot, BUSY)
        except (BodyTooLarge, BodyError) as exc:
            self._body_error = exc
            self.close_connection = True
            raise
        self._body = body
        return body

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._body = None
        self._body_error = None
        self._length = None
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        self._chunked = encoding == "chunked"
        try:
            if encoding and not self._chunked:
                raise BodyError("unsupported Transfer-Encoding")
            if self._chunked and self.headers.get("Content-Length") is not None:
                raise BodyError("both Content-Length and Transfer-Encoding")
            self._length = self._declared_length()
        except BodyError:
            self.close_connection = True
            self._write(Response(400, [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")],
                                 b"400 Bad Request\n"))
            return
        target = self.target
        request = Request(self.command, target.path, target.query, self.headers, self._read_body, target.raw_path)
        try:
            response = self.server.app(request)
        except MalformedBody:
            self.close_connection = True
            self._write(Response(400, [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")],
                                 b"400 Bad Request\n"))
            return
        except BodyError:
            self.close_connection = True  # the client broke its own request or timed out; nobody to answer
            return
        except Exception as exc:  # never let one request take the server down
            if self.server.report_error is not None:  # redacted there: the message may quote the request
                self.server.report_error(f"internal error: {exc.__class__.__name__}: {exc}", self._secrets())
            response = Response(500, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
                                b'{"error":{"message":"internal error in the reference gateway"}}\n')
        if response.close_connection:
            self.close_connection = True
        linger = isinstance(self._body_error, BodyTooLarge) or (self._body is None and self._unread_is_large())
        if linger:
            self.close_connection = True
        self._write(response)
        if linger:
            self._linger_close()
        elif self._body is None and self._body_error is None and not self.close_connection:
            self._discard_small_body()

    def _secrets(self) -> list[str]:
        """The request's own credentials (whatever the scheme), for redaction."""
        values = [self.headers.get(name) or "" for name in ("Authorization", "X-Api-Key", "Proxy-Authorization")]
        return [part for value in values for part in (value, value.partition(" ")[2].strip()) if part]

    def _unread_is_large(self) -> bool:
        return self._chunked or (self._length or 0) > KEEPALIVE_DRAIN

    def _discard_small_body(self) -> None:
        if not self._length:
            return
        if not self.server.connections.enter(self.slot, BODY):  # the body deadline holds here too
            self.close_connection = True
            return
        try:
            self._read_exact(self._length, time.monotonic() + self.server.deadlines.body_timeout)
        except BodyError:
            self.close_connection = True

    def _linger_close(self) -> None:
        """Half-close, then read and discard what the client is still sending (bounded), so it
        reads our answer instead of a connection reset."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline, drained = time.monotonic() + DRAIN_SECONDS, 0
            while drained < DRAIN_LIMIT and time.monotonic() < deadline and not self.server.stopping.is_set():
                try:
                    piece = self.connection.recv(READ_PIECE)
                except TimeoutError:
                    continue
                if not piece:
                    break
                drained += len(piece)
        except OSError:
            pass

    # --- writing ------------------------------------------------------------------------------

    def _write(self, response: Response) -> None:
        head_only = self.command == "HEAD"
        chunked = response.stream is not None and self.request_version != "HTTP/1.0"
        try:
            self.send_response_only(response.status)
            self.send_header("Date", http_date())
            names = {k.lower() for k, _ in response.headers}
            for key, value in response.headers:
                self.send_header(key, value)
            if response.stream is None:
                self.send_header("Content-Length", str(len(response.body)))
            elif chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
            if self.close_connection and "connection" not in names:
                self.send_header("Connection", "close")
            self.end_headers()
            if head_only:
                return
            if response.stream is None:
                body = response.body
                if response.cut_after is not None:
                    self.wfile.write(body[: response.cut_after])
                    self._abort()
                    return
                self.wfile.write(body)
                return
            try:
                for number, chunk in enumerate(response.stream):
                    if response.cut_after is not None and number >= response.cut_after:
                        self._abort()
                        return
                    if not chunk:
                        continue
                    if chunked:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:
                        self.wfile.write(chunk)
            except AbortStream:
                self._abort()
                return
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, ValueError):  # client vanished or timed out mid-write
            self.close_connection = True
        finally:
            if response.on_close is not None:
                response.on_close()

    def _abort(self) -> None:
        """End the connection without finishing the message (fault injection)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
