"""Voice port pieces (identity/voice.py) without a network: X-Twilio-Signature on voice
callbacks (Twilio's published vector is a Gather callback), status and Gather parsing,
STIR/SHAKEN attestation, and the Calls API request the adapter makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from sealwright.identity.sms import TwilioAccount, valid_twilio_signature
from sealwright.identity.voice import (
    CallFailed,
    TwilioVoice,
    attestation_level,
    parse_call_status,
    parse_gather,
)

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "vectors" / "twilio-signature" / "twilio-signature-vectors.json"
    ).read_text()
)
ACCOUNT = TwilioAccount(
    account_sid="AC" + "0" * 32,
    auth_token="t" * 32,
    from_number="+15005550006",
    base_url="https://carrier.test",
)
CA = "CA" + "b" * 32


def test_published_gather_callback_validates_and_parses() -> None:
    params = VECTORS["params"]
    assert valid_twilio_signature(
        VECTORS["auth_token"], VECTORS["url"], params, VECTORS["signature"]
    )
    # one changed key pressed, or another URL, and it no longer does
    for url, form in (
        (VECTORS["url"], {**params, "Digits": "1235"}),
        (VECTORS["url"].replace("foo=1", "foo=2"), params),
    ):
        assert not valid_twilio_signature(VECTORS["auth_token"], url, form, VECTORS["signature"])
    with pytest.raises(ValueError, match="call callback"):
        parse_gather(params)  # the documentation's CallSid is not a real 34-character sid
    keyed = parse_gather({**params, "CallSid": CA})
    assert (keyed.call_sid, keyed.digits) == (CA, "1234")


@pytest.mark.parametrize(
    ("params", "level"),
    [
        ({"StirVerstat": "TN-Validation-Passed-A"}, "A"),
        ({"StirVerstat": "TN-Validation-Passed-C"}, "C"),
        ({"StirVerstat": "TN-Validation-Failed-B"}, None),
        ({"StirVerstat": "No-TN-Validation"}, None),
        ({"StirAttestation": "B"}, "B"),
        ({"StirAttestation": "D"}, None),
        ({}, None),
    ],
)
def test_attestation_level(params: dict[str, str], level: str | None) -> None:
    assert attestation_level(params) == level


def test_status_callback_parsing() -> None:
    report = parse_call_status(
        {
            "CallSid": CA,
            "CallStatus": "completed",
            "CallDuration": "12",
            "AnsweredBy": "human",
            "StirVerstat": "TN-Validation-Passed-B",
        }
    )
    assert (report.status, report.duration, report.answered_by) == ("completed", 12, "human")
    assert report.attestation == "B"
    assert not report.failed
    assert parse_call_status({"CallSid": CA, "CallStatus": "busy"}).failed
    for bad in (
        {"CallSid": CA, "CallStatus": "exploded"},
        {"CallSid": "SM" + "b" * 32, "CallStatus": "busy"},
        {"CallSid": CA, "CallStatus": "completed", "CallDuration": "-1"},
        {"CallSid": CA, "CallStatus": "completed", "AnsweredBy": "<script>"},
    ):
        with pytest.raises(ValueError):
            parse_call_status(bad)
    with pytest.raises(ValueError):
        parse_gather({"CallSid": CA, "Digits": "12; drop"})


def test_the_adapter_posts_a_calls_api_request() -> None:
    seen: list[httpx.Request] = []

    def carrier(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": CA, "status": "queued"})

    with httpx.Client(transport=httpx.MockTransport(carrier)) as http:
        sid = TwilioVoice(ACCOUNT, http=http).place_call(
            to="+447700900123",
            twiml_url="https://sign.example/s/voice/r/twiml",
            status_url="https://sign.example/s/voice/r/status",
        )
    assert sid == CA
    (request,) = seen
    assert (
        str(request.url)
        == f"https://carrier.test/2010-04-01/Accounts/{ACCOUNT.account_sid}/Calls.json"
    )
    form = parse_qsl(request.content.decode())
    assert ("To", "+447700900123") in form
    assert ("Url", "https://sign.example/s/voice/r/twiml") in form
    assert ("StatusCallback", "https://sign.example/s/voice/r/status") in form
    assert [v for k, v in form if k == "StatusCallbackEvent"] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert request.headers["authorization"].startswith("Basic ")


def test_the_adapter_maps_provider_errors_without_the_number() -> None:
    def carrier(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"code": 21215, "message": "Geo permission for +447700900123", "status": 400}
        )

    with httpx.Client(transport=httpx.MockTransport(carrier)) as http:
        voice = TwilioVoice(ACCOUNT, http=http)
        with pytest.raises(CallFailed) as caught:
            voice.place_call(to="+447700900123", twiml_url="https://a/t", status_url="https://a/s")
        assert caught.value.error_code == 21215
        assert caught.value.permanent
        assert "+44" not in str(caught.value)
        with pytest.raises(CallFailed) as refused:
            voice.place_call(to="07700900123", twiml_url="https://a/t", status_url="https://a/s")
        assert refused.value.error_code == 21211
