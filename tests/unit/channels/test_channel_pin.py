"""Callback PINs (channels/pin.py): RFC 4226's truncation, the binding, TTL, attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealwright.channels.pin import (
    PinCheck,
    PinPayload,
    PinPolicy,
    PinState,
    derive_pin,
    dynamic_truncation,
)
from sealwright.errors import ValidationError

VECTORS = Path(__file__).parents[2] / "vectors" / "rfc4226" / "hotp-sha1.json"
K_PIN = bytes(range(32))
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DOC = "a" * 64


def payload(**changes: object) -> PinPayload:
    base: dict[str, object] = {
        "document_hashes": (DOC,),
        "recipient": "rcp_1",
        "nonce": b"n" * 16,
        "ts": 1767268800,
    }
    base.update(changes)
    return PinPayload(**base)  # type: ignore[arg-type]


def test_dynamic_truncation_matches_rfc4226_appendix_d() -> None:
    vectors = json.loads(VECTORS.read_text())
    secret = vectors["secret_ascii"].encode("ascii")
    for v in vectors["values"]:
        digest = hmac.new(secret, v["count"].to_bytes(8, "big"), hashlib.sha1).digest()
        assert digest.hex() == v["hmac"]
        assert dynamic_truncation(digest, 6) == v["hotp"]
        # The 31-bit value itself: more digits keep more of it.
        assert dynamic_truncation(digest, 8) == str(v["truncated"] % 10**8).zfill(8)


def test_truncation_refuses_bad_digit_counts_and_short_digests() -> None:
    digest = hashlib.sha256(b"x").digest()
    for digits in (5, 9):
        with pytest.raises(ValidationError):
            dynamic_truncation(digest, digits)
    with pytest.raises(ValidationError):
        dynamic_truncation(b"\x00" * 19, 6)


def test_the_pin_is_hmac_sha256_of_the_canonical_payload() -> None:
    p = payload()
    expected_bytes = (
        b'{"docHash":["' + DOC.encode() + b'"],"nonce":"bm5ubm5ubm5ubm5ubm5ubg",'
        b'"recipient":"rcp_1","ts":1767268800}'
    )
    assert p.canonical() == expected_bytes
    digest = hmac.new(K_PIN, expected_bytes, hashlib.sha256).digest()
    assert derive_pin(K_PIN, p) == dynamic_truncation(digest, 6)
    assert len(derive_pin(K_PIN, p, 8)) == 8


def test_a_pin_is_bound_to_document_recipient_nonce_and_time() -> None:
    pin = derive_pin(K_PIN, payload())
    others = [
        payload(document_hashes=("b" * 64,)),
        payload(recipient="rcp_2"),
        payload(nonce=b"m" * 16),
        payload(ts=1767268801),
    ]
    # 6 digits collide by chance one time in a million; with 8 these inputs do not.
    assert all(derive_pin(K_PIN, o, 8) != derive_pin(K_PIN, payload(), 8) for o in others)
    assert derive_pin(K_PIN, payload()) == pin  # deterministic
    assert derive_pin(bytes(32), payload(), 8) != derive_pin(K_PIN, payload(), 8)


def test_policy_bounds() -> None:
    PinPolicy(ttl_seconds=60)
    PinPolicy(ttl_seconds=300, digits=8)
    for bad in ({"ttl_seconds": 59}, {"ttl_seconds": 301}, {"digits": 5}, {"max_attempts": 0}):
        with pytest.raises(ValidationError):
            PinPolicy(**bad)


def test_right_pin_passes_once_only() -> None:
    state = PinState.issue(PinPolicy(), T0)
    pin = derive_pin(K_PIN, payload())
    verdict, state = state.check(K_PIN, payload(), pin, T0 + timedelta(seconds=10))
    assert verdict is PinCheck.PASSED
    assert state.used
    assert state.attempts == 1
    again, same = state.check(K_PIN, payload(), pin, T0 + timedelta(seconds=11))
    assert again is PinCheck.USED
    assert same == state


def test_wrong_pins_lock_after_the_attempt_limit() -> None:
    state = PinState.issue(PinPolicy(max_attempts=3), T0)
    pin = derive_pin(K_PIN, payload())
    wrong = str((int(pin) + 1) % 10**6).zfill(6)
    verdicts = []
    for _ in range(3):
        verdict, state = state.check(K_PIN, payload(), wrong, T0)
        verdicts.append(verdict)
    assert verdicts == [PinCheck.WRONG, PinCheck.WRONG, PinCheck.LOCKED]
    # The right PIN no longer helps, and nothing more is counted.
    verdict, after = state.check(K_PIN, payload(), pin, T0)
    assert verdict is PinCheck.LOCKED
    assert after == state
    assert after.attempts == 3
    assert all(v.final for v in (PinCheck.LOCKED, PinCheck.PASSED, PinCheck.EXPIRED))
    assert not PinCheck.WRONG.final


def test_a_pin_past_its_ttl_is_expired_without_using_an_attempt() -> None:
    state = PinState.issue(PinPolicy(ttl_seconds=60), T0)
    pin = derive_pin(K_PIN, payload())
    verdict, after = state.check(K_PIN, payload(), pin, T0 + timedelta(seconds=60))
    assert verdict is PinCheck.EXPIRED
    assert after.attempts == 0
    verdict, _ = state.check(K_PIN, payload(), pin, T0 - timedelta(seconds=1))
    assert verdict is PinCheck.EXPIRED


def test_a_pin_replayed_for_another_document_or_recipient_fails() -> None:
    state = PinState.issue(PinPolicy(), T0)
    pin = derive_pin(K_PIN, payload(), 6)
    for other in (payload(document_hashes=("c" * 64,)), payload(recipient="rcp_9")):
        if derive_pin(K_PIN, other) == pin:  # pragma: no cover - one in a million
            continue
        verdict, _ = state.check(K_PIN, other, pin, T0)
        assert verdict is PinCheck.WRONG


def test_state_round_trips_through_its_stored_form_and_holds_no_pin() -> None:
    state = PinState.issue(PinPolicy(ttl_seconds=90, digits=7, max_attempts=4), T0)
    _, state = state.check(K_PIN, payload(), "0000000", T0)
    stored = state.to_dict()
    assert PinState.from_dict(stored) == state
    assert derive_pin(K_PIN, payload(), 7) not in json.dumps(stored)
    with pytest.raises(ValidationError):
        PinState.from_dict({"issued_at": "yesterday"})


def test_payload_needs_documents_and_a_nonce() -> None:
    with pytest.raises(ValidationError):
        payload(document_hashes=()).canonical()
    with pytest.raises(ValidationError):
        payload(nonce=b"short").canonical()
    with pytest.raises(ValidationError):
        derive_pin(b"short key", payload())
