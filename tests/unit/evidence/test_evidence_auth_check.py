"""The signer-authentication check: a signature must rest on earlier verifications of its
own session, with consistent ages, the freshest within the maximum; tampered events fail
naming the recipient; signatures from before step-up still pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sealwright.errors import VerificationFailed
from sealwright.evidence.auth_check import check_signer_authentication
from sealwright.evidence.ledger_checks import BundleEvent

R = "a" * 32
SESSION = "0123456789abcdef"


def event(index: int, tag: str, time: str, data: dict[str, Any]) -> BundleEvent:
    return BundleEvent(
        index,
        {"tag": tag, "time": time, "actor": f"recipient:{data.get('recipient', R)}", "data": data},
        b"\x00" * 32,
    )


def passed(index: int, method: str, at: str, session: str = SESSION) -> BundleEvent:
    data = {"recipient": R, "method": method, "at": at, "session": session}
    return event(index, "signer:auth:passed", at, data)


def signed(index: int, time: str, auth: list[dict[str, Any]], max_age: int = 900) -> BundleEvent:
    data = {
        "recipient": R,
        "session": SESSION,
        "authentication": auth,
        "max_auth_age_seconds": max_age,
    }
    return event(index, "signer:recipient:signed", time, data)


T0 = "2025-03-01T10:00:00.000000Z"
T1 = "2025-03-01T10:20:00.250000Z"  # 1200.25 s after T0
SIGN = "2025-03-01T10:25:00.500000Z"  # 300.25 s after T1, 1500.5 s after T0


def good() -> list[BundleEvent]:
    return [
        passed(3, "email-otp", T0),
        passed(5, "passkey", T1),
        signed(
            9,
            SIGN,
            [
                {"method": "email-otp", "at": T0, "age_seconds": 1500},
                {"method": "passkey", "at": T1, "age_seconds": 300},
            ],
        ),
    ]


def test_a_fresh_signature_passes() -> None:
    detail = check_signer_authentication(good())
    assert "1 signature(s)" in detail
    assert "300 s" in detail


def test_older_signatures_without_a_maximum_age_still_pass() -> None:
    old = event(
        4,
        "signer:recipient:signed",
        SIGN,
        {"recipient": R, "authentication": [{"method": "email-otp", "at": T0, "age_seconds": 1}]},
    )
    assert "1 signature(s) from before step-up" in check_signer_authentication([old])
    assert check_signer_authentication([]) == "no signatures in this bundle"


def fails(events: list[BundleEvent]) -> str:
    with pytest.raises(VerificationFailed) as info:
        check_signer_authentication(events)
    detail = str(info.value)
    assert f"recipient {R}" in detail
    return detail


def test_a_tampered_verification_time_fails() -> None:
    events = good()
    auth = events[2].event["data"]["authentication"]
    auth[1]["at"] = "2025-03-01T10:24:00.250000Z"  # claim a fresher passkey use
    auth[1]["age_seconds"] = 60
    assert "matches no earlier signer:auth:passed" in fails(events)


def test_a_tampered_passed_event_time_fails() -> None:
    events = good()
    events[1].event["data"]["at"] = "2025-03-01T10:24:00.250000Z"
    assert "(passkey at 2025-03-01T10:20:00.250000Z)" in fails(events)


def test_an_age_inconsistent_with_the_signature_time_fails() -> None:
    events = good()
    events[2].event["data"]["authentication"][1]["age_seconds"] = 30
    assert "claims an age of 30 s" in fails(events)
    events = good()
    events[2].event["data"]["authentication"][1]["age_seconds"] = 301
    assert "claims an age of 301 s" in fails(events)


def test_a_stale_signature_fails() -> None:
    events = good()
    events[2].event["data"]["max_auth_age_seconds"] = 299
    assert "freshest verification is 300 s old, more than the maximum 299 s" in fails(events)


def test_a_verification_of_another_session_does_not_count() -> None:
    events = good()
    events[1] = passed(5, "passkey", T1, session="fedcba9876543210")
    assert "matches no earlier" in fails(events)


def test_a_verification_after_the_signature_does_not_count() -> None:
    events = good()
    late = copy.deepcopy(events[1])
    events = [events[0], events[2], BundleEvent(11, late.event, late.leaf_hash)]
    assert "matches no earlier" in fails(events)


def test_a_session_alone_cannot_sign() -> None:
    assert "no verification recorded" in fails([signed(2, SIGN, [])])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_auth_age_seconds": "900"}, "not a positive integer"),
        ({"max_auth_age_seconds": True}, "not a positive integer"),
        ({"authentication": "email-otp"}, "no verification recorded"),
        ({"authentication": [7]}, "is not an object"),
        ({"authentication": [{"method": "email-otp", "at": T0}]}, "non-negative whole age"),
        (
            {"authentication": [{"method": "email-otp", "at": "yesterday", "age_seconds": 1}]},
            "malformed time",
        ),
        ({"session": None}, "recipient or session missing"),
    ],
)
def test_malformed_signature_events_fail(change: dict[str, Any], expected: str) -> None:
    events = good()
    events[2].event["data"].update(change)
    assert expected in fails(events)


def test_a_malformed_event_time_fails() -> None:
    events = good()
    events[2].event["time"] = "2025-03-01 10:25"
    assert "event time" in fails(events)
