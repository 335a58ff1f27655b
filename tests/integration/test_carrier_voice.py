"""The carrier simulator's voice part over real HTTP (simulators/voice.py): Twilio's Calls
API, TwiML fetched and played with signed requests (Say, Gather, Redirect, Hangup), a
handset that hears and keys in, signed status callbacks with a STIR/SHAKEN attestation,
and scripted outcomes (busy, no-answer, failed, dropped)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from sealwright.identity.sms import TwilioAccount, valid_twilio_signature
from sealwright.identity.voice import CallFailed, TwilioVoice
from sealwright.simulators.carrier import CarrierSimulator, Failure
from sealwright.simulators.voice import CallOutcome, CallScript

PHONE = "+447700900123"


class App:
    """Our side of the call: TwiML per path, every request's form and signature check."""

    def __init__(self, token: str, pages: dict[str, str]) -> None:
        self.token = token
        self.pages = pages
        self.requests: list[tuple[str, dict[str, str], bool]] = []
        self.lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = parse_qsl(body.decode())
                url = app.url + self.path
                ok = valid_twilio_signature(
                    app.token, url, form, self.headers.get("X-Twilio-Signature", "")
                )
                with app.lock:
                    app.requests.append((self.path, dict(form), ok))
                page = app.pages.get(self.path, "")
                data = page.encode()
                self.send_response(200 if page or self.path == "/status" else 404)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [form for p, form, _ in self.requests if p == path]

    def statuses(self) -> list[str]:
        return [f["CallStatus"] for f in self.seen("/status")]

    def all_signed(self) -> bool:
        with self.lock:
            return all(ok for _, _, ok in self.requests)


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(callback_delay=0.02) as simulator:
        simulator.voice.ring_delay = 0.05
        yield simulator


@contextmanager
def _app(carrier: CarrierSimulator, pages: dict[str, str]) -> Iterator[App]:
    app = App(carrier.auth_token, pages)
    try:
        yield app
    finally:
        app.server.shutdown()
        app.server.server_close()


def _voice(carrier: CarrierSimulator) -> TwilioVoice:
    return TwilioVoice(
        TwilioAccount(
            account_sid=carrier.account_sid,
            auth_token=carrier.auth_token,
            from_number="+15005550006",
            base_url=carrier.base_url,
        )
    )


def _call(carrier: CarrierSimulator, app: App, to: str = PHONE) -> str:
    voice = _voice(carrier)
    try:
        return voice.place_call(to=to, twiml_url=app.url + "/twiml", status_url=app.url + "/status")
    finally:
        voice.close()


def _until(carrier: CarrierSimulator, predicate: Callable[[], bool]) -> None:
    assert carrier.wait_for(predicate, timeout=10)


GATHER = (
    '<?xml version="1.0"?><Response><Gather numDigits="4" action="/keys" timeout="5">'
    "<Say>Enter your code.</Say></Gather><Say>Nothing entered.</Say></Response>"
)


def test_a_call_is_answered_speaks_gathers_and_reports_signed(carrier: CarrierSimulator) -> None:
    pages = {
        "/twiml": GATHER,
        "/keys": '<Response><Say>Thank you.</Say><Redirect method="POST">/bye</Redirect>'
        "</Response>",
        "/bye": "<Response><Say>Goodbye.</Say><Hangup/><Say>never said</Say></Response>",
    }
    with _app(carrier, pages) as app:
        sid = _call(carrier, app)
        _until(carrier, lambda: carrier.voice.get(sid).gather is not None)  # type: ignore[union-attr]
        assert carrier.voice.heard(sid) == ["Enter your code."]
        carrier.voice.press(sid, "12345")  # a 4-digit Gather takes four
        _until(carrier, lambda: "completed" in app.statuses())
        assert carrier.voice.heard(sid) == ["Enter your code.", "Thank you.", "Goodbye."]
        assert [f["Digits"] for f in app.seen("/keys")] == ["1234"]
        assert app.seen("/twiml")[0]["CallSid"] == sid
        assert app.seen("/twiml")[0]["To"] == PHONE
        assert app.statuses() == ["initiated", "ringing", "in-progress", "completed"]
        assert {f["StirVerstat"] for f in app.seen("/status")} == {"TN-Validation-Passed-A"}
        assert app.all_signed()
        call = carrier.voice.get(sid)
        assert call is not None
        assert call.status == "completed"
        assert not call.active
        assert PHONE not in repr(call)
        assert "Enter" not in repr(call)
        # the API reads it back, like Twilio's
        r = httpx.get(
            f"{carrier.base_url}/2010-04-01/Accounts/{carrier.account_sid}/Calls/{sid}.json",
            auth=(carrier.account_sid, carrier.auth_token),
        )
        assert (r.status_code, r.json()["status"]) == (200, "completed")


def test_no_keys_before_the_timeout_goes_on_after_the_gather(carrier: CarrierSimulator) -> None:
    quick = GATHER.replace('timeout="5"', 'timeout="0.2"')
    with _app(carrier, {"/twiml": quick}) as app:
        sid = _call(carrier, app)
        _until(carrier, lambda: "completed" in app.statuses())
        assert carrier.voice.heard(sid) == ["Enter your code.", "Nothing entered."]
        assert app.seen("/keys") == []
        with pytest.raises(ValueError, match="not waiting"):
            carrier.voice.press(sid, "1")


@pytest.mark.parametrize("outcome", [CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.FAILED])
def test_scripted_unanswered_calls(carrier: CarrierSimulator, outcome: CallOutcome) -> None:
    carrier.voice.script(PHONE, CallScript(outcome, attestation="C"))
    with _app(carrier, {"/twiml": GATHER}) as app:
        sid = _call(carrier, app)
        _until(carrier, lambda: len(app.statuses()) >= 3)
        assert app.statuses() == ["initiated", "ringing", outcome.value]
        assert app.seen("/twiml") == []  # never answered: no instructions fetched
        assert app.seen("/status")[-1]["StirVerstat"] == "TN-Validation-Passed-C"
        assert carrier.voice.heard(sid) == []


def test_a_dropped_call_fetches_its_twiml_and_ends(carrier: CarrierSimulator) -> None:
    carrier.voice.script(PHONE, CallScript(CallOutcome.DROP, attestation=None))
    with _app(carrier, {"/twiml": GATHER}) as app:
        sid = _call(carrier, app)
        _until(carrier, lambda: "completed" in app.statuses())
        assert len(app.seen("/twiml")) == 1
        assert carrier.voice.heard(sid) == []
        assert all("StirVerstat" not in f for f in app.seen("/status"))


def test_the_phone_hangs_up_and_api_errors(carrier: CarrierSimulator) -> None:
    with _app(carrier, {"/twiml": GATHER}) as app:
        sid = _call(carrier, app)
        _until(carrier, lambda: carrier.voice.get(sid).gather is not None)  # type: ignore[union-attr]
        carrier.voice.hang_up(sid)
        _until(carrier, lambda: "completed" in app.statuses())
        assert app.seen("/keys") == []
        with pytest.raises(CallFailed) as invalid:
            _call(carrier, app, to="+1")
        assert invalid.value.error_code == 21211
        carrier.fail_number("+447700900999", Failure.SERVER_ERROR)
        with pytest.raises(CallFailed) as server:
            _call(carrier, app, to="+447700900999")
        assert not server.value.permanent
        r = httpx.post(
            f"{carrier.base_url}/2010-04-01/Accounts/{carrier.account_sid}/Calls.json",
            data={"To": PHONE, "From": "+15005550006", "Url": app.url + "/twiml"},
            auth=(carrier.account_sid, "wrong-token"),
        )
        assert (r.status_code, r.json()["code"]) == (401, 20003)
