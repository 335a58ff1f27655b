"""The second-device channel: the token is bound to the run id and nonce and never stored;
a wrong token is a non-final failure that changes nothing; expiry; same_ip; reuse is the
flow's (a run that passed takes no answers, tested over HTTP)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from sealwright.channels.port import Outcome, SignerEvidence, VerificationRequest
from sealwright.channels.qr_device import (
    EVIDENCE_KIND,
    SIGNER_IP,
    QrDeviceChannel,
    device_key,
    parse_token,
    user_agent_hash,
)
from sealwright.errors import ValidationError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUN = "0123456789abcdef" * 2


def channel(key: bytes = b"k" * 32) -> QrDeviceChannel:
    return QrDeviceChannel(key=key, public_url="https://sign.example/", ttl_seconds=300)


def request(nonce: bytes = b"n" * 16, run: str = RUN) -> VerificationRequest:
    return VerificationRequest("env", "rec", ("ab" * 32,), nonce, T0, reference=run)


def answer(token: str, ip: str = "ip-tag", device: str = "a" * 16) -> SignerEvidence:
    return SignerEvidence(EVIDENCE_KIND, json.dumps({"token": token, "device": device, "ip": ip}))


def test_start_stores_no_token_and_the_url_carries_the_bound_token() -> None:
    ch, req = channel(), request()
    challenge = ch.start(req)
    token = ch.token(RUN, req.nonce)
    assert ch.url(RUN, req.nonce) == f"https://sign.example/s/device/{token}"
    assert parse_token(token) == RUN
    assert challenge.expires_at == T0 + timedelta(seconds=300)
    stored = json.dumps(dict(challenge.state)) + json.dumps(dict(challenge.display))
    assert token not in stored
    assert token.split(".")[1] not in stored
    # Bound to the run id, the nonce and the key: change any, get another token.
    assert ch.token(RUN, b"m" * 16) != token
    assert ch.token("f" * 32, req.nonce) != token
    assert channel(b"j" * 32).token(RUN, req.nonce) != token
    assert device_key(b"p" * 32) != device_key(b"q" * 32)


def test_the_right_token_passes_with_device_and_same_ip() -> None:
    ch, req = channel(), request()
    state = {**ch.start(req).state, SIGNER_IP: ch.ip_tag(RUN, "192.0.2.7")}
    token = ch.token(RUN, req.nonce)
    same = ch.complete(req, state, answer(token, ch.ip_tag(RUN, "192.0.2.7")), now=T0)
    assert (same.outcome, same.final) == (Outcome.PASSED, True)
    assert same.details == {"mode": "second-device", "device": "a" * 16, "same_ip": True}
    other = ch.complete(req, state, answer(token, ch.ip_tag(RUN, "198.51.100.1")), now=T0)
    assert other.details["same_ip"] is False
    unseen = ch.complete(req, ch.start(req).state, answer(token), now=T0)
    assert unseen.details["same_ip"] is None
    # IP tags are per run: the same address in two runs gives unrelated tags.
    assert ch.ip_tag(RUN, "192.0.2.7") != ch.ip_tag("f" * 32, "192.0.2.7")


def test_a_wrong_or_replayed_token_is_a_non_final_failure_that_changes_nothing() -> None:
    ch, req = channel(), request()
    state = ch.start(req).state
    other_run = ch.token("f" * 32, req.nonce)  # another run's token
    for token in (other_run, ch.token(RUN, b"m" * 16), "x" * 76):
        result = ch.complete(req, state, answer(token), now=T0)
        assert (result.outcome, result.final) == (Outcome.FAILED, False)
        assert result.state == state
        assert result.details == {"reason": "wrong-token"}


def test_expiry() -> None:
    ch, req = channel(), request()
    state = ch.start(req).state
    token = ch.token(RUN, req.nonce)
    late = ch.complete(req, state, answer(token), now=T0 + timedelta(seconds=300))
    assert (late.outcome, late.final) == (Outcome.EXPIRED, True)
    assert ch.complete(req, state, answer(token), now=T0 + timedelta(seconds=299)).outcome == (
        Outcome.PASSED
    )


@pytest.mark.parametrize(
    "evidence",
    [SignerEvidence("pin", "123456"), SignerEvidence(EVIDENCE_KIND, "{"),
     SignerEvidence(EVIDENCE_KIND, json.dumps({"token": 1, "device": "", "ip": ""}))],
)  # fmt: skip
def test_other_evidence_is_refused(evidence: SignerEvidence) -> None:
    ch, req = channel(), request()
    with pytest.raises(ValidationError):
        ch.complete(req, ch.start(req).state, evidence, now=T0)


def test_tokens_parse_strictly_and_settings_are_bounded() -> None:
    token = channel().token(RUN, os.urandom(16))
    assert parse_token(token) == RUN
    for bad in ("", RUN, RUN + ".", "G" * 32 + token[32:], token + "x", token.upper()):
        assert parse_token(bad) is None
    with pytest.raises(ValueError):
        QrDeviceChannel(key=b"short", public_url="https://x", ttl_seconds=300)
    with pytest.raises(ValueError):
        QrDeviceChannel(key=b"k" * 32, public_url="https://x", ttl_seconds=3600)
    assert user_agent_hash("Mozilla/5.0") != user_agent_hash("curl/8")
    assert len(user_agent_hash("x")) == 16


def test_the_access_log_never_sees_a_device_token() -> None:
    from sealwright.web.auth import redact_path

    token = channel().token(RUN, b"n" * 16)
    assert redact_path(f"/s/device/{token}") == "/s/device/<redacted>"
    assert redact_path("/sign/abc") == "/sign/<redacted>"
    assert redact_path(f"/s/device-qr/{RUN}") == f"/s/device-qr/{RUN}"  # an id, not a secret
