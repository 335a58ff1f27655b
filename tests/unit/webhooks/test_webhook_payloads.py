"""Payloads carry ids and hashes only; filters match tags and prefixes."""

from __future__ import annotations

import json

import pytest

from sealwright.domain.events import EventTag
from sealwright.webhooks.payloads import LIFECYCLE, build_payload, event_type, matches, parse_filter


def test_filters_match_exact_tags_prefixes_and_everything() -> None:
    assert matches(["system:envelope:completed"], "system:envelope:completed")
    assert not matches(["system:envelope:completed"], "system:envelope:expired")
    assert matches(["system:"], "system:document:sealed")
    assert matches(["signer:recipient:"], "signer:recipient:signed")
    assert not matches(["signer:recipient:"], "signer:otp:sent")
    assert matches(["*"], "api:envelope:sent")
    # Webhook management events are never delivered, whatever the filter says.
    assert not matches(["*"], "system:webhook:disabled")
    assert not matches(["api:"], "api:webhook:created")


def test_filters_are_validated() -> None:
    assert parse_filter(["system:", " system: ", "api:envelope:sent"]) == (
        "system:",
        "api:envelope:sent",
    )
    assert set(parse_filter([t.value for t in LIFECYCLE])) == {
        "api:envelope:sent",
        "signer:recipient:signed",
        "signer:recipient:declined",
        "system:envelope:declined",
        "system:envelope:completed",
        "system:document:sealed",
        "api:envelope:voided",
        "system:envelope:expired",
    }
    for bad in (["nope:x:y"], ["zzz:"], [], ["api:webhook:created"], ["system:webhook:"]):
        with pytest.raises(ValueError):
            parse_filter(bad)


def test_payload_has_ids_and_hashes_only() -> None:
    leaf = {
        "v": 1,
        "id": "e" * 32,
        "tag": EventTag.RECIPIENT_SIGNED.value,
        "tenant": "t" * 32,
        "envelope": "f" * 32,
        "seq": 3,
        "prev": "00" * 32,
        "time": "2024-05-01T12:00:00.000000Z",
        "actor": "recipient:abc",
        "data": {
            "recipient": "r" * 32,
            "documents": [{"document": "d" * 32, "sha256": "ab" * 32, "name": "Contract.pdf"}],
            "email": "alice@example.com",
            "name": "Alice",
            "signature": {"kind": "typed", "strokes_sha256": "cd" * 32},
            "reason": "anything free-form",
        },
    }
    body = build_payload(leaf, ledger_index=42, leaf_hash=bytes(32))
    parsed = json.loads(body)
    assert parsed == {
        "type": "signer.recipient.signed",
        "timestamp": "2024-05-01T12:00:00.000000Z",
        "data": {
            "event_id": "e" * 32,
            "tag": "signer:recipient:signed",
            "tenant_id": "t" * 32,
            "envelope_id": "f" * 32,
            "ledger_index": 42,
            "leaf_hash": "00" * 32,
            "recipient_id": "r" * 32,
            "documents": [{"id": "d" * 32, "sha256": "ab" * 32}],
        },
    }
    for private in (b"alice", b"Alice", b"Contract", b"free-form", b"actor"):
        assert private not in body
    assert body == json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


def test_event_types() -> None:
    assert event_type("system:webhook:dead-lettered") == "system.webhook.dead_lettered"
    assert event_type("api:envelope:sent") == "api.envelope.sent"
