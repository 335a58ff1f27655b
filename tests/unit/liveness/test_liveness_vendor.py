"""The vendor adapter point: a configured sender's answer becomes a result; an outage is a
failure, never a pass; callbacks are checked by HMAC; the replay check stays local."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import pytest

from sealwright.liveness.port import LivenessChallenge
from sealwright.liveness.vendor import VendorLiveness
from sealwright.simulators.camera import challenge_video

ASKED = LivenessChallenge(("blink", "nod"))


@pytest.fixture(scope="module")
def video() -> bytes:
    return challenge_video(ASKED.actions, seed=11)


def test_a_vendor_answer_becomes_a_result(video: bytes) -> None:
    seen: list[int] = []

    def send(data: bytes, challenge: LivenessChallenge) -> Mapping[str, Any]:
        seen.append(len(data))
        return {"passed": True, "score": 0.87, "actions": {"blink": True, "nod": True}}

    result = VendorLiveness(send, name="acme-live").check(video, ASKED)
    assert seen == [len(video)]
    assert (result.passed, result.score, result.provider) == (True, 87, "acme-live")
    assert [f.found for f in result.findings] == [True, True]
    assert result.fingerprint  # for the local replay check


def test_an_outage_fails_and_a_replay_never_reaches_the_vendor(video: bytes) -> None:
    def down(data: bytes, challenge: LivenessChallenge) -> Mapping[str, Any]:
        raise ConnectionError("vendor down")

    failed = VendorLiveness(down).check(video, ASKED)
    assert (failed.passed, failed.reasons) == (False, ("provider-error",))
    calls: list[bytes] = []
    replay = VendorLiveness(lambda d, c: calls.append(d) or {"passed": True}).check(
        video, ASKED, known=[failed.fingerprint]
    )
    assert replay.reasons == ("replay",)
    assert calls == []


def test_unconfigured_vendor_says_so(video: bytes) -> None:
    with pytest.raises(NotImplementedError):
        VendorLiveness().check(video, ASKED)


def test_callback_signatures() -> None:
    secret = secrets.token_bytes(32)
    body = b'{"reference": "x", "passed": true}'
    good = hmac.new(secret, body, hashlib.sha256).hexdigest()
    vendor = VendorLiveness(callback_secret=secret)
    assert vendor.verify_callback(body, good)
    assert not vendor.verify_callback(body + b" ", good)
    assert not VendorLiveness().verify_callback(body, good)
