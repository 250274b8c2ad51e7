"""A misbehaving broker on loopback, for tests that the live suite survives the real world.

``HostileBroker(mode)`` serves ``GET /v1/models`` and ``POST /v1/chat/completions`` the way a
broken or malicious broker might: echoing the caller's key, injecting markup and terminal
escapes, streaming forever, dripping bytes, sending gzip bombs or wrong JSON types. Every
endless answer is bounded by ``max_seconds`` and by the broker's own stop event, so a test that
forgets nothing still ends; ``stop()`` closes the listener and wakes every handler.

``chat_requests`` counts the chat requests received (what ``--collect-only`` must keep at 0),
``model_requests`` the ``GET /models``. ``echo_request=True`` makes every key echo also repeat
the request's path and query string.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import quote

from models import KIMI, MINIMAX

MARKUP = '<img src=x onerror="document.title=\'pwned\'"><script>alert(1)</script>'
ESCAPES = "\x1b[2J\x1b]0;owned\x07\r\x1b[32mPASSED\x1b[0m\n"
DEFAULT_MODELS = (KIMI, MINIMAX)

MODES = (
    "key-echo-message", "key-echo-body", "key-echo-5xx", "key-echo-stream", "key-echo-models",
    "markup", "endless-stream", "drip", "gzip-bomb-stream", "gzip-bomb-models", "endless-json",
    "retry-after-nan", "wrong-types", "empty-200", "error-in-200", "error-only-stream", "all-401",
    "wrong-types-answer", "slow-reject", "drip-headers", "stream-no-done", "chunked-no-done",
    # the proxy's echo checks (tests/gateway/test_gateway_proxy_echo.py)
    "key-echo-gzip", "key-echo-deflate", "key-echo-escaped", "key-echo-split-stream", "key-echo-gzip-stream",
    "key-echo-header", "gzip-bomb-body", "brotli-body", "stacked-gzip", "plain", "gated-stream",
    "key-echo-utf16", "key-echo-utf16-stream", "gzip-text-bomb-stream",
)
NO_DONE_EVENT = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
                 b'"choices":[{"index":0,"delta":{"content":"OK"},"finish_reason":"stop"}]}\n\n')
# "plain": a fixed answer with JSON escapes and no key, to be relayed byte for byte
PLAIN_BODY = b'{"id":"c-1","choices":[{"message":{"content":"caf\\u00e9 \\/ 100%25 \\n sk-"}}],"note":"a\\\\b"}'
PLAIN_EVENTS = (b'data: {"choices":[{"delta":{"content":"caf\\u00e9 \\/"}}]}\n\n', b'data: {"choices":[]}\n\n',
                b"data: [DONE]\n\n")


def _gzip_bomb(size_mib: int = 512) -> bytes:
    """About 0.5 MB of gzip that inflates to ``size_mib`` MiB of zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    chunk = b"\0" * (1024 * 1024)
    return b"".join([*(compressor.compress(chunk) for _ in range(size_mib)), compressor.flush()])


_BOMB: bytes | None = None


def gzip_bomb() -> bytes:
    global _BOMB
    if _BOMB is None:
        _BOMB = _gzip_bomb()
    return _BOMB


class HostileBroker:
    def __init__(self, mode: str, *, models: tuple[str, ...] = DEFAULT_MODELS, max_seconds: float = 60.0,
                 echo_request: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown hostile mode {mode!r}")
        self.mode = mode
        self.models = models
        self.max_seconds = max_seconds
        self.echo_request = echo_request  # key echoes also carry the request target (path and query)
        self.chat_requests = 0
        self.model_requests = 0
        self.reject_delay = 2.0  # slow-reject: seconds before each 400
        self.gate = threading.Event()  # gated-stream: the rest of the stream waits for it (at most 5 s)
        self.gate_opened = False       # whether it was opened rather than timed out
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def count_chat(self) -> None:
        with self._lock:
            self.chat_requests += 1

    def count_models(self) -> None:
        with self._lock:
            self.model_requests += 1

    def start(self) -> "HostileBroker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> "HostileBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(broker: HostileBroker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        # -- helpers -------------------------------------------------------------------
        @property
        def key(self) -> str:
            auth = self.headers.get("Authorization", "")
            key = auth[7:] if auth.startswith("Bearer ") else auth
            return f"{key} {self.path}" if broker.echo_request else key

        def send_bytes(self, status: int, body: bytes, content_type: str = "application/json", extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
            self.send_bytes(status, json.dumps(data).encode(), extra=extra)

        def start_stream(self, content_type: str = "text/event-stream", extra: dict[str, str] | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def bounded(self) -> Callable[[], bool]:
            deadline = time.monotonic() + broker.max_seconds
            return lambda: not broker.stopping.is_set() and time.monotonic() < deadline

        def completion(self, content: str, model: str = "m") -> dict[str, Any]:
            return {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            }

        # -- routes --------------------------------------------------------------------
        def do_GET(self) -> None:
            if not self.path.split("?")[0].rstrip("/").endswith("/models"):  # a base URL may carry a query
                self.send_json(404, {"error": {"message": "not found"}})
                return
            broker.count_models()
            mode = broker.mode
            if mode == "all-401":
                self.send_json(401, {"error": {"message": "Invalid API key"}})
            elif mode == "gzip-bomb-models":
                self.send_bytes(200, gzip_bomb(), extra={"Content-Encoding": "gzip"})
            elif mode == "key-echo-models":
                self.send_json(200, {"object": "list", "data": [{"id": f"{m}-{self.key}"} for m in broker.models]})
            elif mode == "markup":
                ids = [f"{broker.models[0]}{MARKUP}", f"{broker.models[1]}{ESCAPES}"]
                self.send_json(200, {"object": "list", "data": [{"id": i} for i in ids]})
            else:
                self.send_json(200, {"object": "list", "data": [{"id": m} for m in broker.models]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            broker.count_chat()
            try:
                request = json.loads(raw or b"{}")
            except ValueError:
                request = {}
            streaming = bool(isinstance(request, dict) and request.get("stream"))
            getattr(self, "mode_" + broker.mode.replace("-", "_"))(request, streaming)

        # -- modes ---------------------------------------------------------------------
        def mode_key_echo_message(self, request: Any, streaming: bool) -> None:
            self.send_json(400, {"error": {"message": f"Incorrect API key provided: {self.key}", "type": "invalid_request_error"}})

        def mode_key_echo_body(self, request: Any, streaming: bool) -> None:
            # The key sits past the 2,000-character excerpt boundary of a naive cutter.
            padding = "x" * 1990
            self.send_json(200, {**self.completion(padding + f'"api_key": "{self.key}"'), "echo": {"api_key": self.key}})

        def mode_key_echo_5xx(self, request: Any, streaming: bool) -> None:
            self.send_bytes(500, ("E" * 190 + f" upstream said key={self.key}").encode(), "text/plain")

        def mode_key_echo_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream()
            event = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "k" * 70 + self.key}}]}
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.write(b"data: {not json " + self.key.encode() + b"\n\n")

        def mode_key_echo_models(self, request: Any, streaming: bool) -> None:
            self.mode_key_echo_message(request, streaming)

        def mode_key_echo_gzip(self, request: Any, streaming: bool) -> None:
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {self.key}"}}).encode()
            self.send_bytes(401, zlib.compress(body, 9, 31), extra={"Content-Encoding": "gzip"})  # wbits 31: gzip

        def mode_key_echo_deflate(self, request: Any, streaming: bool) -> None:
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {self.key}"}}).encode()
            self.send_bytes(401, zlib.compress(body), extra={"Content-Encoding": "deflate"})

        def mode_key_echo_escaped(self, request: Any, streaming: bool) -> None:
            # every character escaped; dashes only; and the key inside a JSON string inside JSON
            escaped = "".join(f"\\u{ord(c):04x}" for c in self.key)
            dashes = self.key.replace("-", "\\u002D")
            nested = json.dumps(json.dumps({"key": dashes}))
            body = '{"error":{"message":"Incorrect API key provided: ' + escaped + '","param":"' + dashes + '","raw":' + nested + "}}"
            self.send_bytes(401, body.encode())

        # the key in JSON encoded as UTF-16 (no byte-order mark, no charset): json.loads on the
        # bytes, as httpx and the OpenAI SDK read an answer, detects the encoding and reads it back
        def mode_key_echo_utf16(self, request: Any, streaming: bool) -> None:
            self.send_bytes(400, json.dumps({"error": {"message": f"Incorrect API key provided: {self.key}"}}).encode("utf-16-le"))

        def mode_key_echo_utf16_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream()
            self.wfile.write(b'data: {"choices":[{"index":0,"delta":{"content":"first"}}]}\n\n')
            self.wfile.flush()
            broker.stopping.wait(0.05)
            self.wfile.write(f'data: {{"choices":[{{"index":0,"delta":{{"content":"{self.key}"}}}}]}}\n\n'.encode("utf-16-le"))

        def _split_events(self, key: str) -> list[bytes]:
            """A stream whose key spellings are each cut in two writes (flushed, with a pause)."""
            raw, escaped = key, "".join(f"\\u{ord(c):04x}" for c in key)
            text = (f'data: {{"choices":[{{"delta":{{"content":"echo {raw} and {escaped}"}}}}]}}\n\n'
                    f"data: [DONE]\n\n").encode()
            cuts = sorted({text.index(raw.encode()) + len(raw) // 2, text.index(escaped.encode()) + len(escaped) // 3})
            return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]

        def mode_key_echo_split_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream()
            for piece in self._split_events(self.key):
                self.wfile.write(piece)
                self.wfile.flush()
                broker.stopping.wait(0.05)

        def mode_key_echo_gzip_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream(extra={"Content-Encoding": "gzip"})
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
            for piece in self._split_events(self.key):
                self.wfile.write(compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH))
                self.wfile.flush()
                broker.stopping.wait(0.05)
            self.wfile.write(compressor.flush())

        def mode_key_echo_header(self, request: Any, streaming: bool) -> None:
            self.send_json(200, self.completion("ok"), extra={
                "X-Echo-Authorization": f"Bearer {self.key}", "X-Echo-Quoted": "".join(f"%{b:02x}" for b in self.key.encode()),
                "Link": f"<https://broker.example/v1?api_key={quote(self.key)}>; rel=self"})

        def mode_gzip_bomb_body(self, request: Any, streaming: bool) -> None:
            self.send_bytes(200, gzip_bomb(), extra={"Content-Encoding": "gzip"})

        def mode_brotli_body(self, request: Any, streaming: bool) -> None:
            self.send_bytes(401, b"\x8b\x03\x80" + self.key.encode(), extra={"Content-Encoding": "br"})

        def mode_stacked_gzip(self, request: Any, streaming: bool) -> None:
            # the echo gzipped 1,500 times over, each layer named in Content-Encoding (9 KB of header)
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {self.key}"}}).encode()
            for _ in range(1500):
                body = zlib.compress(body, 1, 31)
            self.send_bytes(401, body, extra={"Content-Encoding": ", ".join(["gzip"] * 1500)})

        def mode_plain(self, request: Any, streaming: bool) -> None:
            if not streaming:
                self.send_bytes(200, PLAIN_BODY)
                return
            self.start_stream()
            for event in PLAIN_EVENTS:
                self.wfile.write(event)
                self.wfile.flush()

        def mode_gated_stream(self, request: Any, streaming: bool) -> None:
            # one event echoing the key, then nothing until the client saw it (a relay that
            # buffers the stream would only deliver it after the gate's 5 s ran out)
            self.start_stream()
            self.wfile.write(f'data: {{"choices":[{{"delta":{{"content":"first {self.key}"}}}}]}}\n\n'.encode())
            self.wfile.flush()
            broker.gate_opened = broker.gate.wait(5.0)
            self.wfile.write(b"data: [DONE]\n\n")

        def mode_markup(self, request: Any, streaming: bool) -> None:
            self.send_json(400, {"error": {"message": f"bad request {MARKUP} {ESCAPES} authorization: "}})

        def mode_endless_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream()
            event = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"' + b"a" * 4000 + b'"}}]}\n\n'
            alive = self.bounded()
            try:
                while alive():
                    self.wfile.write(event)
            except OSError:
                pass

        def mode_drip(self, request: Any, streaming: bool) -> None:
            self.start_stream("application/json")
            alive = self.bounded()
            try:
                for byte in json.dumps(self.completion("slow")).encode():
                    if not alive():
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    broker.stopping.wait(1.0)
            except OSError:
                pass

        def mode_gzip_bomb_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream(extra={"Content-Encoding": "gzip"})
            try:
                self.wfile.write(gzip_bomb())
            except OSError:
                pass

        def mode_gzip_text_bomb_stream(self, request: Any, streaming: bool) -> None:
            # 64 MiB of one SSE event's text (no NUL, unlike the zeros above), about 64 KB compressed
            self.start_stream(extra={"Content-Encoding": "gzip"})
            body = b'data: {"choices":[{"delta":{"content":"' + b"a" * (64 << 20) + b'"}}]}\n\n'
            try:
                self.wfile.write(gzip.compress(body, 6))
            except OSError:
                pass

        def mode_gzip_bomb_models(self, request: Any, streaming: bool) -> None:
            self.send_json(200, self.completion("ok"))

        def mode_endless_json(self, request: Any, streaming: bool) -> None:
            self.start_stream("application/json")
            alive = self.bounded()
            try:
                self.wfile.write(b'{"choices": [')
                while alive():
                    self.wfile.write(b'{"index": 0, "message": {"role": "assistant", "content": "' + b"z" * 8000 + b'"}},')
            except OSError:
                pass

        def mode_retry_after_nan(self, request: Any, streaming: bool) -> None:
            self.send_json(503, {"error": {"message": "busy"}}, extra={"Retry-After": "nan"})

        def mode_wrong_types(self, request: Any, streaming: bool) -> None:
            if streaming:
                self.start_stream()
                for event in ({"id": ["x"], "choices": 5}, {"id": "c", "choices": [{"index": [0], "delta": {"content": 7}}]}):
                    self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
            else:
                self.send_json(200, {"id": ["x"], "choices": 5, "usage": {"total_tokens": "many"}, "error": 3})

        def mode_empty_200(self, request: Any, streaming: bool) -> None:
            self.send_bytes(200, b"", "application/json")

        def mode_error_in_200(self, request: Any, streaming: bool) -> None:
            self.send_json(200, {"error": {"message": "upstream failed", "type": "server_error"}})

        def mode_error_only_stream(self, request: Any, streaming: bool) -> None:
            self.start_stream()
            self.wfile.write(b'data: {"error": {"message": "upstream failed"}}\n\n')

        # a stream of well-formed events that never sends data: [DONE], to every request: closed
        # without a declared length (indistinguishable from a cut), or chunked and complete
        def mode_stream_no_done(self, request: Any, streaming: bool) -> None:
            self.start_stream()
            self.wfile.write(NO_DONE_EVENT)

        def mode_chunked_no_done(self, request: Any, streaming: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(NO_DONE_EVENT), NO_DONE_EVENT))

        def mode_all_401(self, request: Any, streaming: bool) -> None:
            self.send_json(401, {"error": {"message": "Invalid API key"}})

        def mode_wrong_types_answer(self, request: Any, streaming: bool) -> None:
            # No "error" member: only the types are wrong, so the judging itself must cope.
            choice = {"index": [0], "message": {"role": "assistant", "content": 7}, "finish_reason": 5}
            if streaming:
                self.start_stream()
                for event in ({"id": ["x"], "object": "chat.completion.chunk", "choices": 5},
                              {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": [0], "delta": {"content": 7}}]}):
                    self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
            else:
                self.send_json(200, {"id": ["x"], "object": "chat.completion", "created": "now", "choices": [choice],
                                     "usage": {"prompt_tokens": 5, "completion_tokens": "five", "total_tokens": -3}})

        def mode_slow_reject(self, request: Any, streaming: bool) -> None:
            broker.stopping.wait(broker.reject_delay)
            self.send_json(400, {"error": {"message": "rejected, slowly"}})

        def mode_drip_headers(self, request: Any, streaming: bool) -> None:
            # The status line and then one header line a second: the answer never starts.
            self.close_connection = True
            alive = self.bounded()
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for n in range(10_000):
                    if not alive():
                        break
                    self.wfile.write(f"X-Drip-{n}: 1\r\n".encode())
                    self.wfile.flush()
                    broker.stopping.wait(1.0)
            except OSError:
                pass

    return Handler
