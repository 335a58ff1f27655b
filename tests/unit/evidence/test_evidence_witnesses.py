"""The witness-cosignatures check: a pinned quorum of C2SP witnesses cosigned the bundle's
checkpoint, or verification fails and says how many did."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_world import World, resign

from sealwright.clock import FixedClock
from sealwright.errors import ValidationError
from sealwright.evidence import verify_bundle
from sealwright.evidence.trust import TrustStore
from sealwright.ledger.note import parse_note
from sealwright.witness.cosignature import CosignatureSigner, add_cosignatures

CLOCK = FixedClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))


def witness(name: str) -> CosignatureSigner:
    return CosignatureSigner(name, Ed25519PrivateKey.generate(), clock=CLOCK)


def cosigned(world: World, *signers: CosignatureSigner) -> bytes:
    note = world.contents.checkpoint
    body = parse_note(note).text
    lines = [s.sign(body) for s in signers]
    return resign(
        world.bundle,
        world.manifest_signer,
        {"ledger/checkpoint.txt": add_cosignatures(note, lines).encode()},
    )


def check(report, name: str = "witness-cosignatures"):  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.name == name)


def test_no_witnesses_required_passes_and_says_so(world: World) -> None:
    report = verify_bundle(world.bundle, world.trust)
    assert report.ok
    assert check(report).detail == "none required; 0 valid from pinned witnesses"


def test_quorum_of_pinned_witnesses_passes(world: World) -> None:
    a, b, c = witness("w.example/a"), witness("w.example/b"), witness("w.example/c")
    bundle = cosigned(world, a, b)
    trust = world.trust.with_witnesses([a.vkey, b.vkey, c.vkey], 2)
    report = verify_bundle(bundle, trust)
    assert report.ok, report.to_text()
    assert check(report).detail == "2 of 3 pinned witnesses cosigned: w.example/a, w.example/b"


def test_too_few_cosignatures_fail(world: World) -> None:
    a, b = witness("w.example/a"), witness("w.example/b")
    bundle = cosigned(world, a)
    report = verify_bundle(bundle, world.trust.with_witnesses([a.vkey, b.vkey], 2))
    assert not report.ok
    assert check(report).detail == (
        "1 valid cosignature(s) from pinned witnesses (w.example/a); at least 2 required"
    )
    # every other check still passes: only the quorum is missing
    assert [c.name for c in report.checks if not c.ok] == ["witness-cosignatures"]


def test_cosignatures_by_unpinned_witnesses_do_not_count(world: World) -> None:
    stranger, pinned = witness("w.example/stranger"), witness("w.example/pinned")
    bundle = cosigned(world, stranger)
    report = verify_bundle(bundle, world.trust.with_witnesses([pinned.vkey], 1))
    assert "0 valid cosignature(s)" in check(report).detail


def test_a_forged_cosignature_by_a_pinned_witness_fails(world: World) -> None:
    a = witness("w.example/a")
    note = world.contents.checkpoint
    line = a.sign(parse_note(note).text)
    name, sig = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    forged = f"{name} {base64.b64encode(bytes(raw)).decode()}\n"
    bundle = resign(
        world.bundle,
        world.manifest_signer,
        {"ledger/checkpoint.txt": add_cosignatures(note, [forged]).encode()},
    )
    report = verify_bundle(bundle, world.trust.with_witnesses([a.vkey], 1))
    assert not check(report).ok
    assert check(report, "checkpoint-signature").ok  # the log's own signature is intact


def test_a_cosignature_on_another_checkpoint_does_not_count(world: World) -> None:
    a = witness("w.example/a")
    note = world.contents.checkpoint
    lines = parse_note(note).text.split("\n")
    lines[1] = str(int(lines[1]) + 1)  # the same log, a bigger tree it never had
    line = a.sign("\n".join(lines))
    bundle = resign(
        world.bundle,
        world.manifest_signer,
        {"ledger/checkpoint.txt": add_cosignatures(note, [line]).encode()},
    )
    assert not check(verify_bundle(bundle, world.trust.with_witnesses([a.vkey], 1))).ok


def test_trust_file_round_trips_witnesses(world: World) -> None:
    a = witness("w.example/a")
    trust = world.trust.with_witnesses([a.vkey], 1)
    again = TrustStore.from_json(trust.to_json())
    assert [w.vkey for w in again.witnesses] == [a.vkey]
    assert again.min_witnesses == 1
    # without witnesses the file is exactly what it was before witnesses existed
    assert b"witnesses" not in world.trust.to_json()


def test_impossible_quorum_is_refused(world: World) -> None:
    with pytest.raises(ValidationError, match="min_witnesses"):
        world.trust.with_witnesses([], 1)
