"""The channel-assertions check (evidence/assertion_check.py) on hand-made bundles: the
bindings to documents, recipients and ledger events, each failure naming the assertion."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.channels.assertions import AssertionClaims, sign_assertion
from sealwright.channels.port import Outcome
from sealwright.errors import VerificationFailed
from sealwright.evidence.assertion_check import ISSUED, inspect_assertions, summarize
from sealwright.evidence.ledger_checks import BundleEvent
from sealwright.evidence.manifest import Manifest, ManifestDocument, ManifestEnvelope

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEYS = {"k1": KEY.public_key().public_bytes_raw()}
DOC = "d" * 64
SUB = {"rcp_a": "a" * 64, "rcp_b": "b" * 64}
MANIFEST = Manifest(
    envelope=ManifestEnvelope("env_1", "acme", "t", "completed", "x", None),
    documents=(ManifestDocument("doc_1", "n.pdf", DOC, 1, "documents/doc_1.sealed.pdf", "e" * 64),),
    files={},
    log_origin="o",
    tree_size=1,
    exported_at="x",
)


def token(jti: str, recipient: str, **changes: Any) -> str:
    fields: dict[str, Any] = {
        "jti": jti,
        "iat": 1,
        "envelope": "env_1",
        "documents": (DOC,),
        "sub": SUB[recipient],
        "channel": "phone-callback",
        "nonce": "AAAAAAAAAAAAAAAAAAAAAA",
        "result": Outcome.PASSED,
        "details": {},
    }
    fields.update(changes)
    return sign_assertion(AssertionClaims(**fields), KEY, "k1")


def event(index: int, tag: str, data: Mapping[str, Any], envelope: str = "env_1") -> BundleEvent:
    return BundleEvent(index, {"tag": tag, "envelope": envelope, "data": dict(data)}, b"")


def issued(index: int, jti: str, recipient: str, compact: str, **changes: Any) -> BundleEvent:
    data = {
        "assertion": jti,
        "channel": "phone-callback",
        "result": "passed",
        "recipient": recipient,
        "subject": SUB[recipient],
        "sha256": hashlib.sha256(compact.encode()).hexdigest(),
        **changes,
    }
    return event(index, ISSUED, data)


JTI_A, JTI_B = "1" * 32, "2" * 32


def world() -> tuple[dict[str, bytes], list[BundleEvent]]:
    a, b = token(JTI_A, "rcp_a"), token(JTI_B, "rcp_b")
    entries = {
        "assertions/001-phone-callback.jws": a.encode(),
        "assertions/002-phone-callback.jws": b.encode(),
    }
    events = [
        event(0, "system:recipient:notified", {"recipient": "rcp_a"}),
        event(1, "system:recipient:notified", {"recipient": "rcp_b"}),
        issued(2, JTI_A, "rcp_a", a),
        issued(3, JTI_B, "rcp_b", b),
    ]
    return entries, events


def check(entries: Mapping[str, bytes], events: list[BundleEvent], keys: Any = None) -> str:
    findings = inspect_assertions(entries, MANIFEST, events, KEYS if keys is None else keys)
    return summarize(findings)


def failure(entries: Mapping[str, bytes], events: list[BundleEvent], keys: Any = None) -> str:
    with pytest.raises(VerificationFailed) as info:
        check(entries, events, keys)
    return str(info.value)


def test_a_consistent_bundle_passes_and_lists_each_assertion() -> None:
    entries, events = world()
    assert "2 assertion(s) (phone-callback)" in check(entries, events)
    listed = inspect_assertions(entries, MANIFEST, events, KEYS).listings
    assert [(x.id, x.channel, x.recipient, x.ok) for x in listed] == [
        (JTI_A, "phone-callback", "rcp_a", True),
        (JTI_B, "phone-callback", "rcp_b", True),
    ]


def test_no_assertions_passes() -> None:
    assert check({}, []) == "no assertions in this bundle"


def test_another_document_is_named() -> None:
    entries, events = world()
    other = token(JTI_A, "rcp_a", documents=("f" * 64,))
    entries["assertions/001-phone-callback.jws"] = other.encode()
    events[2] = issued(2, JTI_A, "rcp_a", other)
    message = failure(entries, events)
    assert f"assertions/001-phone-callback.jws ({JTI_A})" in message
    assert "document hash" in message


def test_another_envelope_is_named() -> None:
    entries, events = world()
    other = token(JTI_A, "rcp_a", envelope="env_2")
    entries["assertions/001-phone-callback.jws"] = other.encode()
    events[2] = issued(2, JTI_A, "rcp_a", other)
    assert "binds envelope env_2" in failure(entries, events)


def test_swapped_recipients_fail() -> None:
    entries, events = world()
    # The assertion says rcp_b's pseudonym, its ledger event says rcp_a.
    swapped = token(JTI_A, "rcp_b")
    entries["assertions/001-phone-callback.jws"] = swapped.encode()
    events[2] = issued(2, JTI_A, "rcp_a", swapped)
    assert "names another recipient" in failure(entries, events)
    # Or the event records the same pseudonym: then it names two recipients.
    events[2] = issued(2, JTI_A, "rcp_a", swapped, subject=SUB["rcp_b"])
    message = failure(entries, events)
    assert "names another recipient" not in message
    assert "names two recipients" in message


def test_a_recipient_unknown_to_the_ledger_fails() -> None:
    entries, events = world()
    del events[1]
    assert "recipient rcp_b appears in no other event" in failure(entries, events)


def test_a_missing_or_mismatched_ledger_event_fails() -> None:
    entries, events = world()
    assert f"no {ISSUED} event names it" in failure(entries, events[:3])
    a = entries["assertions/001-phone-callback.jws"].decode()
    events[2] = issued(2, JTI_A, "rcp_a", a, sha256="0" * 64)
    assert "SHA-256 differs" in failure(entries, events)
    events[2] = issued(2, JTI_A, "rcp_a", a, result="failed")
    assert "result differs" in failure(entries, events)


def test_an_assertion_the_ledger_names_must_be_in_the_bundle() -> None:
    entries, events = world()
    del entries["assertions/002-phone-callback.jws"]
    assert f"the ledger names assertion {JTI_B}" in failure(entries, events)


def test_unknown_keys_and_tampering_fail() -> None:
    entries, events = world()
    assert "not a trusted assertion key" in failure(entries, events, {"k9": KEYS["k1"]})
    assert "pins no assertion keys" in failure(entries, events, {})
    raw = bytearray(entries["assertions/002-phone-callback.jws"])
    raw[-3] = ord("A") if raw[-3] != ord("A") else ord("B")
    entries["assertions/002-phone-callback.jws"] = bytes(raw)
    assert "assertions/002-phone-callback.jws" in failure(entries, events)


def test_names_must_be_numbered_and_match_the_channel() -> None:
    entries, events = world()
    entries["assertions/003-video.jws"] = entries.pop("assertions/002-phone-callback.jws")
    message = failure(entries, events)
    assert "not assertions/002-<channel>.jws" in message
    entries, events = world()
    entries["assertions/002-video.jws"] = entries.pop("assertions/002-phone-callback.jws")
    assert "differs from its file name" in failure(entries, events)


def test_the_same_assertion_twice_fails() -> None:
    entries, events = world()
    entries["assertions/002-phone-callback.jws"] = entries["assertions/001-phone-callback.jws"]
    message = failure(entries, events)
    assert "appears twice" in message
    assert f"the ledger names assertion {JTI_B}" in message
