"""A local phone carrier that behaves like Twilio's REST API, FOR DEVELOPMENT AND TESTS.

Nothing leaves the machine: messages land in an in-memory inbox (``messages_to``) that
tests and the development pages read, where a real deployment would reach a handset. It is
a real HTTP server (stdlib, own threads, loopback by default) so ``TwilioSms`` runs exactly
as against Twilio:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth (account
  SID, auth token) and form fields To, From, Body, StatusCallback; answers 201 with
  Twilio-shaped JSON (``sid`` "SM…", ``status`` "queued") or Twilio's error JSON
  (``code``, ``message``, ``more_info``, ``status``).
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` reads a message back.
- After ``callback_delay`` seconds per step it posts status callbacks (``sent``, then
  ``delivered`` -- or ``undelivered``/``failed`` with ``ErrorCode``) to the message's
  StatusCallback, form-encoded and signed with ``X-Twilio-Signature``.

Failure injection, per destination number or with a probability: invalid number (21211),
unreachable handset (30003), carrier violation (30007), HTTP 500, slow answer.

The server is organised in parts, each adding its routes: ``MessagesPart`` here, and
``VoicePart`` (``simulators/voice.py``: the Calls API, TwiML, a simulated handset).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import format_datetime
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import structlog

from sealwright.clock import Clock, Random, SystemClock, SystemRandom
from sealwright.identity.sms import MAX_BODY_CHARS, is_e164, twilio_signature

_log = structlog.get_logger(__name__)

API_VERSION = "2010-04-01"
_MAX_FORM_BYTES = 64 * 1024


class Failure(StrEnum):
    INVALID_NUMBER = "invalid-number"  # 400, code 21211, nothing queued
    UNREACHABLE = "unreachable"  # queued, sent, then undelivered with 30003
    CARRIER_VIOLATION = "carrier-violation"  # queued, then failed with 30007
    SERVER_ERROR = "server-error"  # HTTP 500, nothing queued
    SLOW = "slow"  # processed normally, but the answer comes ``delay`` seconds late


@dataclass(frozen=True)
class FailureRule:
    failure: Failure
    probability: float = 1.0
    delay: float = 0.0


@dataclass(frozen=True)
class CallbackAttempt:
    status: str
    http_status: int | None
    error: str | None = None


@dataclass
class SimulatedMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status: str
    created_at: datetime
    status_callback: str | None = None
    error_code: int | None = None
    callbacks: list[CallbackAttempt] = field(default_factory=list)

    def __repr__(self) -> str:  # the body holds a one-time code
        return f"SimulatedMessage(sid={self.sid!r}, to={self.to!r}, status={self.status!r})"

    def resource(self) -> dict[str, Any]:
        """The message as Twilio's API shows it."""
        date = format_datetime(self.created_at, usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": date,
            "date_sent": None,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(self.body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": uri,
        }


class ApiError(Exception):
    """A Twilio error answer: HTTP status plus Twilio's numeric code."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message

    def answer(self) -> Answer:
        return Answer(
            self.http_status,
            {
                "code": self.code,
                "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.http_status,
            },
        )


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    account_sid: str
    form: list[tuple[str, str]]
    match: re.Match[str]

    def field(self, name: str) -> str | None:
        for key, value in self.form:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Answer:
    status: int
    payload: dict[str, Any]
    #: Seconds to hold the answer back (failure "slow").
    delay: float = 0.0


Handler = Callable[[Request], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class CarrierSimulator:
    """Start with ``start()`` or ``with``; ``base_url`` then points a ``TwilioAccount``
    at it. Credentials are generated per instance unless given."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_delay: float = 0.05,
        clock: Clock | None = None,
        random: Random | None = None,
    ) -> None:
        self._random = random if random is not None else SystemRandom()
        self.account_sid = account_sid or "AC" + self._random.token_bytes(16).hex()
        self.auth_token = auth_token or self._random.token_bytes(16).hex()
        self.callback_delay = callback_delay
        self._clock = clock if clock is not None else SystemClock()
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.stopping = threading.Event()
        self._routes: list[Route] = []
        self._number_rules: dict[str, FailureRule] = {}
        self._random_rules: list[FailureRule] = []
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._schedule: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._http: httpx.Client | None = None
        self.messages = MessagesPart(self)
        from sealwright.simulators.voice import VoicePart  # it imports this module's types

        self.voice = VoicePart(self)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("carrier simulator is not running")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.server_port}"

    def start(self) -> CarrierSimulator:
        if self._server is not None:
            raise RuntimeError("carrier simulator already started")
        self.stopping.clear()
        server = _Server((self._host, self._port), _RequestHandler)
        server.simulator = self
        self._server = server
        self._http = httpx.Client(timeout=httpx.Timeout(5.0))
        self._threads = [
            threading.Thread(
                target=server.serve_forever, args=(0.05,), name="carrier-http", daemon=True
            ),
            threading.Thread(target=self._run_schedule, name="carrier-callbacks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        _log.warning(
            "DEVELOPMENT CARRIER SIMULATOR: SMS and calls sent to it reach NO phone; they are "
            "kept in memory for developers and tests to read. Do not use in production.",
            url=self.base_url,
        )
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        with self._lock:
            self._changed.notify_all()
        server.shutdown()
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> CarrierSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- failure injection -------------------------------------------------------------

    def fail_number(self, number: str, failure: Failure, *, delay: float = 2.0) -> None:
        """Every message to ``number`` fails this way (``delay``: for ``Failure.SLOW``)."""
        with self._lock:
            self._number_rules[number] = FailureRule(failure, 1.0, delay)

    def fail_randomly(self, failure: Failure, probability: float, *, delay: float = 2.0) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        with self._lock:
            self._random_rules.append(FailureRule(failure, probability, delay))

    def clear_failures(self) -> None:
        with self._lock:
            self._number_rules.clear()
            self._random_rules.clear()

    def failure_for(self, number: str) -> FailureRule | None:
        with self._lock:
            rule = self._number_rules.get(number)
            if rule is not None:
                return rule
            for rule in self._random_rules:
                if self._random.randbelow(1_000_000) < int(rule.probability * 1_000_000):
                    return rule
        return None

    # -- inbox -------------------------------------------------------------------------

    def messages_to(self, number: str) -> list[SimulatedMessage]:
        """Every message accepted for ``number``, oldest first (snapshots)."""
        return self.messages.to(number)

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` (checked after every state change) or the timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout=timeout)

    # -- plumbing used by the parts ----------------------------------------------------

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        full = re.compile(rf"/{API_VERSION}/Accounts/(?P<account>[^/]+){pattern}")
        self._routes.append(Route(method, full, handler))

    def new_sid(self, prefix: str) -> str:
        return prefix + self._random.token_bytes(16).hex()

    def now(self) -> datetime:
        return self._clock.now()

    def changed(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the scheduler thread after ``delay`` seconds."""
        due = time.monotonic() + max(delay, 0.0)
        with self._changed:
            heapq.heappush(self._schedule, (due, next(self._seq), action))
            self._changed.notify_all()

    def post_signed(self, url: str, params: dict[str, str]) -> tuple[int | None, str | None]:
        """POST a form to ``url`` signed as Twilio signs webhooks."""
        signature = twilio_signature(self.auth_token, url, params)
        http = self._http
        if http is None:
            return None, "simulator stopped"
        try:
            response = http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None

    def post_signed_text(
        self, url: str, params: dict[str, str]
    ) -> tuple[int | None, str | None]:
        """POST a signed form and return the answer's status and text (a TwiML fetch)."""
        signature = twilio_signature(self.auth_token, url, params)
        http = self._http
        if http is None:
            return None, None
        try:
            response = http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError:
            return None, None
        return response.status_code, response.text

    def _run_schedule(self) -> None:
        while not self.stopping.is_set():
            with self._changed:
                if not self._schedule:
                    self._changed.wait(timeout=0.5)
                    continue
                due, _, action = self._schedule[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(timeout=min(wait, 0.5))
                    continue
                heapq.heappop(self._schedule)
            try:
                action()
            except Exception:  # a broken callback must not stop the carrier
                _log.exception("carrier simulator callback failed")

    def dispatch(self, method: str, raw_path: str, authorization: str, body: bytes) -> Answer:
        path = urlsplit(raw_path).path
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None or route.method != method:
                continue
            if not self._authorised(authorization, match.group("account")):
                return ApiError(401, 20003, "Authenticate").answer()
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            request = Request(method, path, match.group("account"), form, match)
            try:
                return route.handler(request)
            except ApiError as error:
                return error.answer()
        return ApiError(404, 20404, "The requested resource was not found").answer()

    def _authorised(self, header: str, account: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        ok_user = hmac.compare_digest(user.encode(), self.account_sid.encode())
        ok_password = hmac.compare_digest(password.encode(), self.auth_token.encode())
        return ok_user and ok_password and account == self.account_sid


class MessagesPart:
    """The Messages resource: send, read back, deliver with status callbacks."""

    def __init__(self, carrier: CarrierSimulator) -> None:
        self._carrier = carrier
        self._messages: dict[str, SimulatedMessage] = {}
        carrier.add_route("POST", r"/Messages\.json", self._create)
        carrier.add_route("GET", r"/Messages/(?P<sid>SM[0-9a-f]{32})\.json", self._fetch)

    def to(self, number: str) -> list[SimulatedMessage]:
        with self._carrier._lock:
            found = [m for m in self._messages.values() if m.to == number]
            return [replace(m, callbacks=list(m.callbacks)) for m in found]

    def all(self) -> list[SimulatedMessage]:
        with self._carrier._lock:
            return [replace(m, callbacks=list(m.callbacks)) for m in self._messages.values()]

    def get(self, sid: str) -> SimulatedMessage | None:
        with self._carrier._lock:
            m = self._messages.get(sid)
            return None if m is None else replace(m, callbacks=list(m.callbacks))

    def _fetch(self, request: Request) -> Answer:
        message = self.get(request.match.group("sid"))
        if message is None or message.account_sid != request.account_sid:
            raise ApiError(404, 20404, "The requested resource was not found")
        return Answer(200, message.resource())

    def _create(self, request: Request) -> Answer:
        to, from_, body = request.field("To"), request.field("From"), request.field("Body")
        callback = request.field("StatusCallback") or None
        if not to:
            raise ApiError(400, 21604, "A 'To' phone number is required.")
        if not from_:
            raise ApiError(400, 21603, "A 'From' phone number is required.")
        if not body:
            raise ApiError(400, 21602, "Message body is required.")
        if not is_e164(to):
            raise ApiError(400, 21211, "The 'To' number is not a valid phone number.")
        if not is_e164(from_):
            raise ApiError(400, 21212, "The 'From' number is not a valid phone number.")
        if to == from_:
            raise ApiError(400, 21266, "'To' and 'From' number cannot be the same.")
        if len(body) > MAX_BODY_CHARS:
            raise ApiError(400, 21617, "The concatenated message body exceeds the limit.")
        if callback is not None and urlsplit(callback).scheme not in ("http", "https"):
            raise ApiError(400, 21609, "Invalid StatusCallback URL.")
        rule = self._carrier.failure_for(to)
        failure = rule.failure if rule is not None else None
        if failure is Failure.INVALID_NUMBER:
            raise ApiError(400, 21211, "The 'To' number is not a valid phone number.")
        if failure is Failure.SERVER_ERROR:
            raise ApiError(500, 20500, "Internal Server Error")
        message = SimulatedMessage(
            sid=self._carrier.new_sid("SM"),
            account_sid=request.account_sid,
            to=to,
            from_=from_,
            body=body,
            status="queued",
            created_at=self._carrier.now(),
            status_callback=callback,
        )
        with self._carrier._lock:
            self._messages[message.sid] = message
        self._carrier.changed()
        self._deliver(message.sid, _steps(failure))
        delay = rule.delay if rule is not None and failure is Failure.SLOW else 0.0
        return Answer(201, message.resource(), delay)

    def _deliver(self, sid: str, steps: list[tuple[str, int | None]]) -> None:
        """Walk the message through ``steps``, one callback per step, ``callback_delay``
        apart."""
        if not steps:
            return
        (status, error_code), rest = steps[0], steps[1:]

        def step() -> None:
            with self._carrier._lock:
                message = self._messages[sid]
                message.status, message.error_code = status, error_code
                callback = message.status_callback
                params = self._callback_params(message)
            self._carrier.changed()
            if callback is not None:
                http_status, error = self._carrier.post_signed(callback, params)
                with self._carrier._lock:
                    self._messages[sid].callbacks.append(
                        CallbackAttempt(status, http_status, error)
                    )
                self._carrier.changed()
            self._deliver(sid, rest)

        self._carrier.later(self._carrier.callback_delay, step)

    @staticmethod
    def _callback_params(message: SimulatedMessage) -> dict[str, str]:
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_,
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "SmsSid": message.sid,
            "SmsStatus": message.status,
            "To": message.to,
        }
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        return params


def _steps(failure: Failure | None) -> list[tuple[str, int | None]]:
    if failure is Failure.UNREACHABLE:
        return [("sent", None), ("undelivered", 30003)]
    if failure is Failure.CARRIER_VIOLATION:
        return [("failed", 30007)]
    return [("sent", None), ("delivered", None)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    simulator: CarrierSimulator


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SealwrightCarrierSimulator/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_FORM_BYTES:
            self.close_connection = True
            self._answer(ApiError(413, 20413, "Request too large").answer())
            return
        body = self.rfile.read(length) if length else b""
        simulator = self.server.simulator
        answer = simulator.dispatch(method, self.path, self.headers.get("Authorization", ""), body)
        if answer.delay and simulator.stopping.wait(answer.delay):
            self.close_connection = True
            return  # shutting down: drop the slow answer
        self._answer(answer)

    def _answer(self, answer: Answer) -> None:
        status = answer.status
        data = json.dumps(answer.payload).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return  # request lines would be noise in test output
