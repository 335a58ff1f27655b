"""``TwilioSms`` against the carrier simulator over real HTTP, with status callbacks posted
to a real receiver and checked with ``valid_twilio_signature``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from sealwright.identity.sms import (
    SmsFailed,
    TwilioAccount,
    TwilioSms,
    parse_status_callback,
    valid_twilio_signature,
)
from sealwright.simulators.carrier import CarrierSimulator, Failure

SENDER = "+15005550006"
ALICE = "+15551230001"
BODY = "Sealwright code 493817. It expires in 10 minutes."


@dataclass
class Callback:
    url: str
    signature: str
    form: list[tuple[str, str]]


class Receiver:
    """Stands in for Sealwright's status-callback endpoint: records what arrives."""

    def __init__(self) -> None:
        self.received: list[Callback] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
                with receiver.lock:
                    receiver.received.append(
                        Callback(
                            f"{receiver.url}{self.path}",
                            self.headers.get("X-Twilio-Signature", ""),
                            form,
                        )
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def for_message(self, sid: str) -> list[Callback]:
        with self.lock:
            return [c for c in self.received if ("MessageSid", sid) in c.form]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(callback_delay=0.02) as sim:
        yield sim


def adapter(
    carrier: CarrierSimulator, receiver: Receiver | None = None, **kwargs: Any
) -> TwilioSms:
    account = TwilioAccount(
        account_sid=carrier.account_sid,
        auth_token=kwargs.pop("auth_token", carrier.auth_token),
        from_number=SENDER,
        base_url=carrier.base_url,
        status_callback=f"{receiver.url}/sms/status?tenant=t1" if receiver else None,
    )
    return TwilioSms(account, **kwargs)


def statuses(callbacks: list[Callback]) -> list[str]:
    return [dict(c.form)["MessageStatus"] for c in callbacks]


def test_send_delivers_with_signed_status_callbacks(
    carrier: CarrierSimulator, receiver: Receiver
) -> None:
    with adapter(carrier, receiver) as sms:
        sid = sms.send(to=ALICE, body=BODY)
    assert sid.startswith("SM")
    assert len(sid) == 34
    [message] = carrier.messages_to(ALICE)
    assert (message.sid, message.body, message.from_) == (sid, BODY, SENDER)
    assert BODY not in repr(message)

    assert carrier.wait_for(lambda: len(receiver.for_message(sid)) == 2)
    callbacks = receiver.for_message(sid)
    assert statuses(callbacks) == ["sent", "delivered"]
    for cb in callbacks:
        assert cb.url.endswith("/sms/status?tenant=t1")
        assert valid_twilio_signature(carrier.auth_token, cb.url, cb.form, cb.signature)
        form = dict(cb.form)
        assert form["AccountSid"] == carrier.account_sid
        assert form["To"] == ALICE
        assert "Body" not in form
    report = parse_status_callback(dict(callbacks[-1].form))
    assert report.status == "delivered"
    assert not report.failed
    assert carrier.messages.get(sid).status == "delivered"  # type: ignore[union-attr]


def test_tampered_callback_is_refused(carrier: CarrierSimulator, receiver: Receiver) -> None:
    with adapter(carrier, receiver) as sms:
        sid = sms.send(to=ALICE, body=BODY)
    assert carrier.wait_for(lambda: len(receiver.for_message(sid)) == 2)
    cb = receiver.for_message(sid)[-1]
    forged = [(k, "failed" if k == "MessageStatus" else v) for k, v in cb.form]
    assert not valid_twilio_signature(carrier.auth_token, cb.url, forged, cb.signature)
    assert not valid_twilio_signature(carrier.auth_token, cb.url + "&x=1", cb.form, cb.signature)
    assert not valid_twilio_signature("another-token", cb.url, cb.form, cb.signature)
    assert not valid_twilio_signature(carrier.auth_token, cb.url, cb.form, "")


def test_wrong_credentials_are_refused(carrier: CarrierSimulator) -> None:
    with adapter(carrier, auth_token="wrong-token") as sms, pytest.raises(SmsFailed) as info:
        sms.send(to=ALICE, body=BODY)
    assert info.value.error_code == 20003
    assert info.value.permanent
    assert "wrong-token" not in str(info.value)
    assert BODY not in str(info.value)
    assert carrier.messages_to(ALICE) == []


def test_invalid_number_injected(carrier: CarrierSimulator) -> None:
    carrier.fail_number(ALICE, Failure.INVALID_NUMBER)
    with adapter(carrier) as sms, pytest.raises(SmsFailed) as info:
        sms.send(to=ALICE, body=BODY)
    assert info.value.error_code == 21211
    assert info.value.permanent
    assert ALICE not in str(info.value)  # Twilio's message quotes the number; ours does not
    assert carrier.messages_to(ALICE) == []


def test_simulator_validates_like_twilio(carrier: CarrierSimulator) -> None:
    """Requests the adapter would never send, sent raw: Twilio's error codes come back."""
    url = f"{carrier.base_url}/2010-04-01/Accounts/{carrier.account_sid}/Messages.json"
    auth = (carrier.account_sid, carrier.auth_token)
    cases = [
        ({"To": "5551230001", "From": SENDER, "Body": "x"}, 21211),
        ({"To": ALICE, "From": "12", "Body": "x"}, 21212),
        ({"From": SENDER, "Body": "x"}, 21604),
        ({"To": ALICE, "From": SENDER}, 21602),
        ({"To": ALICE, "From": ALICE, "Body": "x"}, 21266),
        ({"To": ALICE, "From": SENDER, "Body": "x" * 1601}, 21617),
    ]
    with httpx.Client() as http:
        for form, code in cases:
            answer = http.post(url, data=form, auth=auth)
            assert answer.status_code == 400
            body = answer.json()
            assert body["code"] == code
            assert body["more_info"].endswith(f"/{code}")
        other = url.replace(carrier.account_sid, "AC" + "1" * 32)
        assert http.post(other, data=cases[0][0], auth=auth).status_code == 401
        unauth = http.post(url, data={"To": ALICE, "From": SENDER, "Body": "x"})
        assert unauth.status_code == 401
        assert unauth.headers["WWW-Authenticate"].startswith("Basic")
    assert carrier.messages_to(ALICE) == []


def test_provider_500_is_a_temporary_failure(carrier: CarrierSimulator) -> None:
    carrier.fail_number(ALICE, Failure.SERVER_ERROR)
    with adapter(carrier) as sms, pytest.raises(SmsFailed) as info:
        sms.send(to=ALICE, body=BODY)
    assert not info.value.permanent
    assert not info.value.outcome_unknown
    assert info.value.error_code == 20500
    assert carrier.messages_to(ALICE) == []


def test_timeout_is_not_retried_and_flags_an_unknown_outcome(carrier: CarrierSimulator) -> None:
    carrier.fail_number(ALICE, Failure.SLOW, delay=3.0)
    with adapter(carrier, timeout=0.5) as sms, pytest.raises(SmsFailed) as info:
        sms.send(to=ALICE, body=BODY)
    assert info.value.outcome_unknown
    assert not info.value.permanent
    # The carrier did take the message: a blind retry would have sent the code twice.
    assert len(carrier.messages_to(ALICE)) == 1


def test_unreachable_handset_reports_undelivered(
    carrier: CarrierSimulator, receiver: Receiver
) -> None:
    carrier.fail_number(ALICE, Failure.UNREACHABLE)
    with adapter(carrier, receiver) as sms:
        sid = sms.send(to=ALICE, body=BODY)
    assert carrier.wait_for(lambda: len(receiver.for_message(sid)) == 2)
    callbacks = receiver.for_message(sid)
    assert statuses(callbacks) == ["sent", "undelivered"]
    report = parse_status_callback(dict(callbacks[-1].form))
    assert report.failed
    assert report.error_code == 30003
    assert all(
        valid_twilio_signature(carrier.auth_token, c.url, c.form, c.signature) for c in callbacks
    )


def test_carrier_violation_reports_failed(carrier: CarrierSimulator, receiver: Receiver) -> None:
    carrier.fail_number(ALICE, Failure.CARRIER_VIOLATION)
    with adapter(carrier, receiver) as sms:
        sid = sms.send(to=ALICE, body=BODY)
    assert carrier.wait_for(lambda: len(receiver.for_message(sid)) == 1)
    report = parse_status_callback(dict(receiver.for_message(sid)[0].form))
    assert (report.status, report.error_code) == ("failed", 30007)
    # The receiver has the report; the simulator records our answer just after: wait for it.
    assert carrier.wait_for(lambda: _answered(carrier, sid))
    message = carrier.messages.get(sid)
    assert message is not None
    assert message.callbacks[0].http_status == 204


def test_failure_probability(carrier: CarrierSimulator) -> None:
    carrier.fail_randomly(Failure.SERVER_ERROR, 0.0)
    with adapter(carrier) as sms:
        assert sms.send(to=ALICE, body=BODY)
        carrier.fail_randomly(Failure.SERVER_ERROR, 1.0)
        with pytest.raises(SmsFailed):
            sms.send(to=ALICE, body=BODY)
        carrier.clear_failures()
        assert sms.send(to=ALICE, body=BODY)
    assert len(carrier.messages_to(ALICE)) == 2
    with pytest.raises(ValueError):
        carrier.fail_randomly(Failure.SERVER_ERROR, 1.5)


def test_message_can_be_read_back(carrier: CarrierSimulator) -> None:
    with adapter(carrier) as sms:
        sid = sms.send(to=ALICE, body=BODY)
    assert carrier.wait_for(lambda: carrier.messages.get(sid).status == "delivered")  # type: ignore[union-attr]
    url = f"{carrier.base_url}/2010-04-01/Accounts/{carrier.account_sid}/Messages/{sid}.json"
    with httpx.Client() as http:
        resource = http.get(url, auth=(carrier.account_sid, carrier.auth_token)).json()
        assert (resource["sid"], resource["status"], resource["to"]) == (sid, "delivered", ALICE)
        assert http.get(url).status_code == 401


def test_unreachable_provider(carrier: CarrierSimulator) -> None:
    base = carrier.base_url
    carrier.stop()
    account = TwilioAccount(carrier.account_sid, carrier.auth_token, SENDER, base_url=base)
    with TwilioSms(account, timeout=2.0) as sms, pytest.raises(SmsFailed) as info:
        sms.send(to=ALICE, body=BODY)
    assert info.value.reason.startswith("provider unreachable")
    assert not info.value.outcome_unknown


def _answered(carrier: CarrierSimulator, sid: str) -> bool:
    message = carrier.messages.get(sid)
    return message is not None and any(c.http_status is not None for c in message.callbacks)
