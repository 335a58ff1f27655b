"""A webhook receiver on loopback for the tests: real HTTP, with behaviours a real receiver
shows -- answer, fail the first N requests, answer 410, answer 429 with Retry-After, hang --
and our verifier run on every request it gets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sealwright.webhooks.keys import VerificationKey
from sealwright.webhooks.verify import WebhookVerificationError, WebhookVerifier


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    verified: str | None = None  # the version that verified, or None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


@dataclass
class Behaviour:
    """``fail_first`` requests get ``fail_status``; then ``status`` (with ``headers``)."""

    status: int = 200
    fail_first: int = 0
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class Receiver:
    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.received: list[Received] = []
        self.keys: dict[str, Sequence[VerificationKey]] = {}
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        path = handler.path
        behaviour = self.behaviours.get(path, Behaviour())
        with self._lock:
            n = self._counts.get(path, 0) + 1
            self._counts[path] = n
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if behaviour.hang:  # recorded on arrival with status 0: it never answers
            with self._lock:
                self.received.append(Received(path, headers, body, time.monotonic(), 0))
            self.release.wait(30)
            return
        failing = n <= behaviour.fail_first
        status = behaviour.fail_status if failing else behaviour.status
        verified = None
        if path in self.keys:
            try:
                verified = WebhookVerifier(self.keys[path]).verify(body, headers).version
            except WebhookVerificationError:
                verified = None
        with self._lock:
            self.received.append(Received(path, headers, body, time.monotonic(), status, verified))
        handler.send_response(status)
        for name, value in (behaviour.fail_headers if failing else {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
