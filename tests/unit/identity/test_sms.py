"""SMS port pieces without I/O: E.164, Twilio's signature (against Twilio's published
vectors), status-callback parsing, and the adapter's refusals before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sealwright.errors import DeliveryFailed
from sealwright.identity.sms import (
    SmsFailed,
    TwilioAccount,
    TwilioSms,
    is_e164,
    parse_status_callback,
    twilio_signature,
    valid_twilio_signature,
)

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "vectors" / "twilio-signature" / "twilio-signature-vectors.json"
    ).read_text()
)
SID = "AC" + "0" * 32
SM = "SM" + "a" * 32


@pytest.mark.parametrize(
    "number", ["+14155552671", "+442071838750", "+6834002", "+123456789012345"]
)
def test_e164_accepts(number: str) -> None:
    assert is_e164(number)


@pytest.mark.parametrize(
    "number",
    [
        "14155552671",
        "+04155552671",
        "+1234567890123456",
        "+1 415 555 2671",
        "+1-415",
        "+",
        "",
        "+12",
        "+683400",
        "+1415555267a",
        "+14155552671\n",
        "\uff0b14155552671",  # full-width plus
        "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15",  # full-width digits
    ],
)
def test_e164_refuses(number: str) -> None:
    assert not is_e164(number)


def test_twilio_documented_example() -> None:
    v = VECTORS
    assert twilio_signature(v["auth_token"], v["url"], v["params"]) == v["signature"]
    assert valid_twilio_signature(v["auth_token"], v["url"], v["params"], v["signature"])


def test_repeated_parameters_are_signed_sorted_by_value() -> None:
    v = VECTORS
    pairs = [tuple(p) for p in v["repeated_params"]["pairs"]]
    expected = v["repeated_params"]["signature"]
    assert twilio_signature(v["auth_token"], v["url"], pairs) == expected
    assert twilio_signature(v["auth_token"], v["url"], list(reversed(pairs))) == expected


@pytest.mark.parametrize("case", VECTORS["port_variants"]["valid"])
def test_signatures_with_and_without_port_are_accepted(case: dict[str, str]) -> None:
    v = VECTORS
    assert valid_twilio_signature(v["auth_token"], case["url"], v["params"], case["signature"])


@pytest.mark.parametrize(
    "change",
    ["token", "url", "param-value", "param-added", "param-dropped", "signature", "empty"],
)
def test_tampered_requests_are_refused(change: str) -> None:
    v = VECTORS
    token, url, params, sig = v["auth_token"], v["url"], dict(v["params"]), v["signature"]
    if change == "token":
        token = "12346"
    elif change == "url":
        url = url.replace("foo=1", "foo=2")
    elif change == "param-value":
        params["Digits"] = "1235"
    elif change == "param-added":
        params["Extra"] = ""
    elif change == "param-dropped":
        del params["Caller"]
    elif change == "signature":
        sig = sig[:-2] + "9="
    else:
        sig = ""
    assert not valid_twilio_signature(token, url, params, sig)


def test_non_ascii_signature_header_is_refused_not_raised() -> None:
    v = VECTORS
    assert not valid_twilio_signature(v["auth_token"], v["url"], v["params"], "é" * 28)


def test_status_callback_parsing() -> None:
    report = parse_status_callback(
        {
            "MessageSid": SM,
            "MessageStatus": "undelivered",
            "To": "+15551230000",
            "ErrorCode": "30003",
        }
    )
    assert (report.message_sid, report.status, report.error_code) == (SM, "undelivered", 30003)
    assert report.failed
    ok = parse_status_callback({"MessageSid": SM, "MessageStatus": "delivered", "ErrorCode": ""})
    assert ok.error_code is None
    assert not ok.failed
    for bad in (
        {"MessageSid": "SM1", "MessageStatus": "sent"},
        {"MessageSid": SM, "MessageStatus": "exploded"},
        {"MessageSid": SM, "MessageStatus": "failed", "ErrorCode": "3e4"},
        {"MessageSid": SM, "MessageStatus": "failed", "ErrorCode": "\uff13"},
    ):
        with pytest.raises(ValueError):
            parse_status_callback(bad)


def _refusing_transport(request: httpx.Request) -> httpx.Response:
    raise AssertionError("nothing may be sent")


def _adapter() -> TwilioSms:
    account = TwilioAccount(SID, "token-not-real", "+15550001111", base_url="http://127.0.0.1:9")
    return TwilioSms(account, http=httpx.Client(transport=httpx.MockTransport(_refusing_transport)))


@pytest.mark.parametrize("to", ["5551234", "+0123", "", "+1555123456789012"])
def test_invalid_destination_is_refused_before_sending(to: str) -> None:
    with _adapter() as sms, pytest.raises(SmsFailed) as info:
        sms.send(to=to, body="Your code is 123456")
    assert info.value.permanent
    assert info.value.error_code == 21211
    assert isinstance(info.value, DeliveryFailed)


@pytest.mark.parametrize("body", ["", "x" * 1601])
def test_empty_or_oversized_body_is_refused(body: str) -> None:
    with _adapter() as sms, pytest.raises(SmsFailed) as info:
        sms.send(to="+15552223333", body=body)
    assert info.value.permanent


def test_error_messages_never_carry_the_body_or_token() -> None:
    err = SmsFailed("provider error 21211 (HTTP 400)", error_code=21211, permanent=True)
    assert "123456" not in str(err)
    account = TwilioAccount(SID, "secret-token-value", "+15550001111")
    assert "secret-token-value" not in repr(account)


@pytest.mark.parametrize(
    ("sid", "sender", "base"),
    [
        ("AC123", "+15550001111", "https://api.example"),
        (SID, "5550001111", "https://api.example"),
        (SID, "+15550001111", "ftp://api.example"),
    ],
)
def test_adapter_configuration_is_checked(sid: str, sender: str, base: str) -> None:
    with pytest.raises(ValueError):
        TwilioSms(TwilioAccount(sid, "t", sender, base_url=base))
