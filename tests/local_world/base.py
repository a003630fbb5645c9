"""A real HTTP server on loopback with fault and latency knobs, for one fake outside service."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived: tests measure waits between requests

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is (malformed bodies, SSE streams)


@dataclass
class Fault:
    """What the next matching request gets instead of a normal answer."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    stall: float = 0.0  # seconds to wait before answering (past a client's timeout)
    path: str | None = None  # only requests whose path starts with this


Handler = Callable[[Request], Reply]


class LocalService:
    """Routes (method, path prefix) to handlers; records requests; injects faults and latency."""

    def __init__(self, name: str):
        self.name = name
        self.routes: list[tuple[str, str, Handler]] = []
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.latency = 0.0
        # False: `latency` passes before the answer is worked out (a test sees the request's effects only then).
        # True: the answer is worked out on arrival and sent `latency` after it, as a provider whose fixed
        # latency includes its own work, done on its own machine rather than at the moment the client reads it.
        self.work_within_latency = False
        self.flaky_faults: list[Fault] = []
        self.flaky_rate = 0.0
        self._random = random.Random(0)
        self._lock = threading.Lock()
        # Requests being answered right now, and the most at once: what a caller's concurrency cap must bound.
        self.in_flight = 0
        self.peak_in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, prefix: str, handler: Handler) -> None:
        self.routes.append((method, prefix, handler))

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def fail_randomly(self, rate: float, *faults: Fault, seed: int = 0) -> None:
        """From now on, each request fails with probability `rate`, with one of `faults` (seeded: repeatable)."""
        self.flaky_rate, self.flaky_faults, self._random = rate, list(faults), random.Random(seed)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the service first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in list(self.faults):
                if fault.path is None or path.startswith(fault.path):
                    self.faults.remove(fault)
                    return fault
            if self.flaky_faults and self._random.random() < self.flaky_rate:
                return self._random.choice(self.flaky_faults)
        return None

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: Request) -> Reply:
        if self.latency and not self.work_within_latency:
            time.sleep(self.latency)
        reply = self._reply(request)
        if self.latency and self.work_within_latency:
            time.sleep(max(0.0, request.at + self.latency - time.monotonic()))
        return reply

    def _reply(self, request: Request) -> Reply:
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.stall:
                time.sleep(fault.stall)
            return Reply(status=fault.status, body=fault.body, headers=fault.headers, raw=fault.raw)
        for method, prefix, handler in self.routes:
            if method == request.method and request.path.startswith(prefix):
                return handler(request)
        return Reply(status=404, body={"error": f"{self.name}: no route for {request.method} {request.path}"})

    def start(self) -> LocalService:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body are two writes: with Nagle's algorithm on, the body waited for the
            # client's delayed ACK of the headers (~40 ms on Linux), a latency no real service adds.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = service._dispatch(request)
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
