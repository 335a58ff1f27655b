"""The witness's decision, without HTTP: every refusal with its status, and cosigning
only after verification (in-memory store, frozen clock)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.clock import FixedClock
from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from sealwright.ledger.merkle import EMPTY_ROOT
from sealwright.ledger.note import NoteVerifier, key_id, parse_note
from sealwright.witness.cosignature import CosignatureSigner, open_cosigned_checkpoint
from sealwright.witness.errors import OldSizeMismatch, WitnessRefused
from sealwright.witness.protocol import AddCheckpointRequest, origin_hash
from sealwright.witness.service import Witness
from sealwright.witness.state import LogRecord, MemoryWitnessStore, configure_logs
from tests.unit.witness.fakelog import FakeLog

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "vectors" / "c2sp-cosignature" / "cosignature-vectors.json"
    ).read_text(encoding="utf-8")
)


class Setup:
    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.signer = CosignatureSigner(
            "witness.example/w1", Ed25519PrivateKey.generate(), clock=self.clock
        )
        self.store = MemoryWitnessStore()
        self.log = FakeLog()
        configure_logs(self.store, [self.log.vkey])
        self.witness = Witness(signer=self.signer, store=self.store)

    def submit(self, old: int, proof: list[bytes], note: str) -> str:
        return self.witness.submit(AddCheckpointRequest(old, tuple(proof), note))

    def grow_to(self, size: int) -> str:
        old = self.record().size
        self.log.append(size - self.log.size)
        return self.submit(old, self.log.proof(old, size), self.log.checkpoint(size))

    def record(self) -> LogRecord:
        record = self.store.get(self.log.origin)
        assert record is not None
        return record

    def refused(self, old: int, proof: list[bytes], note: str) -> WitnessRefused:
        before = self.record()
        with pytest.raises(WitnessRefused) as info:
            self.submit(old, proof, note)
        assert self.record() == before  # a refusal changes nothing
        return info.value


@pytest.fixture
def w() -> Setup:
    return Setup()


def test_first_checkpoint_then_growth(w: Setup) -> None:
    line = w.grow_to(5)
    body = Checkpoint(w.log.origin, 5, w.log.tree(5).root).to_body()
    assert w.signer.verifier.verify(body, line).timestamp == int(T0.timestamp())
    w.clock.advance(60)
    w.grow_to(13)
    record = w.record()
    assert (record.size, record.root) == (13, w.log.tree(13).root)
    assert record.timestamp == int(T0.timestamp()) + 60
    latest = w.witness.latest(w.log.origin)
    assert latest is not None
    cosigned = open_cosigned_checkpoint(
        latest, [w.log.signer.verifier], origin=w.log.origin, witnesses=[w.signer.verifier]
    )
    assert cosigned.checkpoint.size == 13
    assert w.witness.latest_by_origin_hash(origin_hash(w.log.origin)) == latest
    assert w.witness.latest_by_origin_hash(origin_hash("nobody.example")) is None


def test_same_checkpoint_again_is_cosigned_again_later(w: Setup) -> None:
    w.grow_to(4)
    w.clock.advance(5)
    line = w.submit(4, [], w.log.checkpoint(4))
    assert w.signer.verifier.verify(parse_note(w.log.checkpoint(4)).text, line).timestamp == (
        int(T0.timestamp()) + 5
    )


def test_empty_tree(w: Setup) -> None:
    w.submit(0, [], w.log.checkpoint(0))
    assert w.record().size == 0
    assert w.record().note is not None
    bad = sign_checkpoint(Checkpoint(w.log.origin, 0, bytes(32)), [w.log.signer])
    assert w.refused(0, [], bad).status == 422
    assert bytes(32) != EMPTY_ROOT


def test_unknown_origin_is_404(w: Setup) -> None:
    other = FakeLog("other.example/log").append(2)
    with pytest.raises(WitnessRefused) as info:
        w.submit(0, [], other.checkpoint())
    assert info.value.status == 404
    assert "unknown log origin" in info.value.reason


def test_wrong_key_missing_signature_bad_signature_are_403(w: Setup) -> None:
    w.grow_to(3)
    w.log.append(2)
    impostor = NoteSigner(w.log.origin, Ed25519PrivateKey.generate())
    body = Checkpoint(w.log.origin, 5, w.log.tree().root)
    proof = w.log.proof(3)
    cases = {
        "another key of the same name": sign_checkpoint(body, [impostor]),
        "only an unknown key": sign_checkpoint(
            body, [NoteSigner("x.example", impostor.private_key)]
        ),
        "trusted key over another text": w.log.checkpoint().replace("\n5\n", "\n6\n"),
        "garbled signature": w.log.checkpoint()[:-6] + "AAAA=\n",
    }
    for name, note in cases.items():
        refusal = w.refused(3, proof, note)
        assert refusal.status == 403, name
        assert "not validly signed" in refusal.reason


def test_trusted_key_plus_unknown_lines_is_fine_and_unknown_lines_are_not_kept(w: Setup) -> None:
    w.log.append(3)
    stranger = NoteSigner("someone.example", Ed25519PrivateKey.generate())
    note = w.log.checkpoint() + stranger.signature_line(parse_note(w.log.checkpoint()).text)
    w.submit(0, [], note)
    latest = w.witness.latest(w.log.origin)
    assert latest is not None
    assert "someone.example" not in latest
    assert [s.name for s in parse_note(latest).signatures] == [w.log.origin, w.signer.name]


def test_old_larger_than_size_is_400(w: Setup) -> None:
    w.grow_to(6)
    refusal = w.refused(6, [], w.log.checkpoint(4))
    assert refusal.status == 400
    assert "larger than the checkpoint size" in refusal.reason


def test_rollback_is_refused(w: Setup) -> None:
    w.grow_to(10)
    assert w.refused(10, [], w.log.checkpoint(7)).status == 400
    mismatch = w.refused(7, [], w.log.checkpoint(7))
    assert isinstance(mismatch, OldSizeMismatch)
    assert (mismatch.status, mismatch.witness_size) == (409, 10)
    assert isinstance(w.refused(0, [], w.log.checkpoint(7)), OldSizeMismatch)


def test_resend_with_the_witness_size_after_409(w: Setup) -> None:
    w.grow_to(10)
    w.log.append(6)
    with pytest.raises(OldSizeMismatch) as info:
        w.submit(4, w.log.proof(4), w.log.checkpoint())
    old = info.value.witness_size
    w.submit(old, w.log.proof(old), w.log.checkpoint())
    assert w.record().size == 16


def test_fork_same_size_is_422(w: Setup) -> None:
    w.grow_to(8)
    fork = w.log.fork(at=5).append(3)
    refusal = w.refused(8, [], fork.checkpoint())
    assert refusal.status == 422
    assert refusal.reason.startswith("fork:")


def test_fork_larger_with_its_own_proof_is_422(w: Setup) -> None:
    w.grow_to(8)
    fork = w.log.fork(at=5).append(7)  # size 12, consistent with its own size 8, not ours
    refusal = w.refused(8, fork.proof(8), fork.checkpoint())
    assert refusal.status == 422
    assert "does not verify" in refusal.reason


def test_bad_proofs_are_422(w: Setup) -> None:
    w.grow_to(6)
    w.log.append(9)
    proof = w.log.proof(6)
    note = w.log.checkpoint()
    tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    for bad in (tampered, proof[:-1], [*proof, proof[0]], [], list(reversed(proof))):
        assert bad != proof
        assert w.refused(6, bad, note).status == 422
    w.submit(6, proof, note)


def test_proof_from_zero_must_be_empty(w: Setup) -> None:
    w.log.append(4)
    refusal = w.refused(0, [w.log.tree().root], w.log.checkpoint())
    assert refusal.status == 422
    assert "must be empty" in refusal.reason


def test_same_size_with_a_proof_is_422(w: Setup) -> None:
    w.grow_to(4)
    assert w.refused(4, [w.log.tree().root], w.log.checkpoint(4)).status == 422


def test_malformed_but_signed_checkpoint_is_400(w: Setup) -> None:
    root = base64.b64encode(bytes(32)).decode()
    note = f"{w.log.origin}\n01\n{root}\n\n"
    note += w.log.signer.signature_line(f"{w.log.origin}\n01\n{root}\n")
    assert w.refused(0, [], note).status == 400


def test_clock_behind_the_last_cosignature_is_503(w: Setup) -> None:
    w.grow_to(2)
    w.clock.advance(-1)
    w.log.append(1)
    refusal = w.refused(2, w.log.proof(2), w.log.checkpoint())
    assert refusal.status == 503
    assert "clock" in refusal.reason


def test_extension_lines_are_cosigned(w: Setup) -> None:
    w.log.append(2)
    note = w.log.checkpoint(extensions=("ext line",))
    line = w.submit(0, [], note)
    w.signer.verifier.verify(parse_note(note).text, line)


def test_key_rotation_by_configuration(w: Setup) -> None:
    w.grow_to(2)
    new_key = FakeLog(w.log.origin, leaves=w.log.leaves)
    configure_logs(w.store, [w.log.vkey, new_key.vkey])
    new_key.append(2)
    w.submit(2, new_key.proof(2), new_key.checkpoint())
    configure_logs(w.store, [new_key.vkey])  # the old key is dropped
    w.log.leaves = list(new_key.leaves)
    assert w.refused(4, [], w.log.checkpoint()).status == 403
    assert w.record().size == 4


def test_litewitness_conversation() -> None:
    """The nine requests of litewitness's own test, with the statuses the spec requires."""
    lite = VECTORS["litewitness_add_checkpoint"]
    key = bytes.fromhex(lite["log_public_key_hex"])
    log_vkey = NoteVerifier(lite["log_origin"], key_id(lite["log_origin"], key), key)
    assert log_vkey.vkey.split("+")[1] == "5202289b"
    store = MemoryWitnessStore()
    configure_logs(store, [log_vkey.vkey])
    signer = CosignatureSigner(
        "example.com/witness", Ed25519PrivateKey.generate(), clock=FixedClock(T0)
    )
    witness = Witness(signer=signer, store=store)
    for number, step in enumerate(lite["steps"], start=1):
        try:
            answer = witness.add_checkpoint(step["body"].encode())
            status = 200
        except WitnessRefused as exc:
            status, answer = exc.status, exc.reason
            if isinstance(exc, OldSizeMismatch):
                answer = f"{exc.witness_size}\n"
        assert status == step["status"], (number, answer)
        if status == 200:
            assert answer.startswith("— example.com/witness ")
        if "equals" in step["assert"]:
            assert answer == step["assert"]["equals"]
    record = store.get(lite["log_origin"])
    assert record is not None
    assert record.size == 5
