"""The HTTP layer: a standard-library threading server hardened for a public-facing role.

Why the standard library (see ARCHITECTURE.md): no new dependency for everyone who installs
the suite, a server that starts and stops inside a test thread on port 0 with no event loop to
share, and byte-level control of what goes on the wire (Go's ``http.Error`` shapes, header
sets with no framework defaults, chunked SSE, deliberately cut streams for fault injection).

Hardening: bodies are read incrementally against the catalogue's size limit (a declared
Content-Length over it is answered 413 before a byte is read, then the connection is closed
with a bounded drain so the client can read the answer); every socket read and write has a
timeout and every body a deadline; malformed HTTP gets a 400 from the stdlib parser; a client
that vanishes ends its own thread only; open connections are capped; ``stop()`` closes every
tracked connection and joins the handler threads.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from .wire import Response

READ_PIECE = 64 * 1024
MAX_CHUNK_LINE = 1024
DRAIN_LIMIT = 64 * 1024 * 1024   # bytes read and discarded so a rejected client sees its answer
DRAIN_SECONDS = 5.0
KEEPALIVE_DRAIN = 1024 * 1024    # an unread body up to this size is drained to keep the connection


class BodyTooLarge(Exception):
    """The request body exceeds the limit (nothing beyond the limit was kept)."""


class BodyError(Exception):
    """The body could not be read (malformed framing, timeout, client gone)."""


class AbortStream(Exception):
    """Raised by a response stream to end the connection without finishing the message
    (e.g. the proxied upstream broke off): the client must see the break, not a clean end."""


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]          # case-insensitive (email.message.Message)
    read_body: Callable[[], bytes]      # reads at most the server's body limit


App = Callable[[Request], Response]
ErrorReporter = Callable[[str, Iterable[str]], None]  # (message, the request's secrets): redacts, may drop


class GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App, *, body_limit: int, io_timeout: float = 30.0,
                 body_timeout: float = 120.0, max_connections: int = 256, report_error: ErrorReporter | None = None) -> None:
        self.app = app
        self.report_error = report_error
        self.body_limit = body_limit
        self.io_timeout = io_timeout
        self.body_timeout = body_timeout
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    # --- connection tracking ----------------------------------------------------------------

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._lock:
            full = len(self._connections) >= self.max_connections or self.stopping.is_set()
            if not full:
                self._connections.add(request)
        if full:
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  name="gateway-conn", daemon=True)
        with self._lock:
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: object) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # a broken connection must never take the server down
            pass
        finally:
            with self._lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())
            self.shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:  # stdlib would print a traceback
        pass

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every open connection, join the handler threads."""
        self.stopping.set()
        self.shutdown()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
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
        with self._lock:
            return len(self._connections)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: GatewayHTTPServer

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

    def setup(self) -> None:
        self.timeout = self.server.io_timeout
        super().setup()

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
        if not value.isdigit():
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
        if not line.endswith(b"\n") or len(line) > MAX_CHUNK_LINE:
            raise BodyError("malformed chunked body")
        return line

    def _read_body(self) -> bytes:
        if self._body is not None:
            return self._body
        if self._body_error is not None:
            raise self._body_error
        limit = self.server.body_limit
        deadline = time.monotonic() + self.server.body_timeout
        try:
            if self._chunked:
                parts, total = [], 0
                while True:
                    size_text = self._read_line(deadline).split(b";", 1)[0].strip()
                    try:
                        size = int(size_text, 16)
                    except ValueError:
                        raise BodyError("malformed chunk size") from None
                    if size == 0:
                        while self._read_line(deadline) not in (b"\r\n", b"\n"):
                            pass  # trailers
                        break
                    if total + size > limit:
                        raise BodyTooLarge()
                    parts.append(self._read_exact(size, deadline))
                    total += size
                    if self._read_line(deadline) not in (b"\r\n", b"\n"):
                        raise BodyError("malformed chunked body")
                body = b"".join(parts)
            else:
                length = self._length or 0
                if length > limit:
                    raise BodyTooLarge()
                body = self._read_exact(length, deadline)
        except (BodyTooLarge, BodyError) as exc:
            self._body_error = exc
            self.close_connection = True
            raise
        self._body = body
        return body

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._body: bytes | None = None
        self._body_error: Exception | None = None
        self._length: int | None = None
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
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path or "/", parts.query, self.headers, self._read_body)
        try:
            response = self.server.app(request)
        except BodyError:
            self.close_connection = True  # the client broke its own request; nobody to answer
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
        try:
            if self._length:
                self._read_exact(self._length, time.monotonic() + self.server.body_timeout)
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
            self.send_header("Date", formatdate(usegmt=True))
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
