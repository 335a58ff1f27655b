"""C2SP tlog-cosignature (Ed25519, cosignature/v1): published vectors, round trips, and
every mutation of a cosignature refused."""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.clock import FixedClock
from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.checkpoint import Checkpoint, NoteVerifier, open_checkpoint
from sealwright.ledger.note import NoteSignature, key_id, parse_note
from sealwright.witness.cosignature import (
    COSIGNATURE_TYPE,
    Cosignature,
    CosignatureSigner,
    CosignatureVerifier,
    add_cosignatures,
    cosignature_key_id,
    open_cosigned_checkpoint,
    signed_message,
    verify_cosignatures,
)
from tests.unit.witness.fakelog import FakeLog

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "vectors" / "c2sp-cosignature" / "cosignature-vectors.json"
    ).read_text(encoding="utf-8")
)
SPEC = VECTORS["c2sp_tlog_cosignature"]
REAL = VECTORS["tlog_scales_real_checkpoint"]
GO = VECTORS["transparency_dev_formats"]

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
BODY = Checkpoint("log.example/test", 7, bytes(range(32))).to_body()


def _signer(name: str = "witness.example/w1", seed: bytes | None = None) -> CosignatureSigner:
    key = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
    return CosignatureSigner(name, key, clock=FixedClock(T0))


# --- published vectors ---------------------------------------------------------------


def test_spec_signed_message_is_rebuilt_byte_for_byte() -> None:
    body = parse_note(SPEC["note"]).text
    assert signed_message(body, SPEC["timestamp"]) == SPEC["signed_message"].encode()


def test_spec_example_cosignature_parses() -> None:
    line = SPEC["note"].splitlines(keepends=True)[-1]
    cosig = Cosignature.from_line(line)
    assert cosig.name == SPEC["cosigner_name"]
    assert cosig.key_id.hex() == SPEC["key_id_hex"]
    assert cosig.timestamp == SPEC["timestamp"]
    assert cosig.to_line() == line


def test_spec_example_cosignature_is_ignored_without_its_key() -> None:
    assert verify_cosignatures(SPEC["note"], [_signer().verifier]) == ()


def test_real_checkpoint_cosignature_verifies() -> None:
    witness = CosignatureVerifier.from_vkey(REAL["witness_vkey"])
    log = NoteVerifier.from_vkey(REAL["log_vkey"])
    cosigned = open_cosigned_checkpoint(REAL["note"], [log], origin=log.name, witnesses=[witness])
    assert cosigned.checkpoint.size == 1432088532
    cosig = cosigned.cosigned_by(witness)
    assert cosig is not None
    assert cosig.name == "remora.n621.de"
    # The 8 bytes after the key id, read by hand: the spec's big-endian u64.
    raw = base64.b64decode(REAL["note"].splitlines()[-2].split(" ")[2])
    assert cosig.timestamp == int.from_bytes(raw[4:12], "big")
    assert cosig.timestamp > 1_700_000_000


def test_real_checkpoint_ignored_by_the_log_key_and_vice_versa() -> None:
    log = NoteVerifier.from_vkey(REAL["log_vkey"])
    witness = CosignatureVerifier.from_vkey(REAL["witness_vkey"])
    # open_checkpoint skips the four cosignature lines as unknown keys...
    assert open_checkpoint(REAL["note"], [log], origin=log.name).size == 1432088532
    # ...and a witness alone never makes a checkpoint valid.
    with pytest.raises(ProofError):
        open_cosigned_checkpoint(REAL["note"], [], origin=log.name, witnesses=[witness])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n1432088532\n", "\n1432088533\n"),
        ("U7WM79", "U7WM7A"),
        (
            "arche2025h1.staging.ct.transparency.dev\n1",
            "arche2025h1.staging.ct.transparency.dew\n1",
        ),
    ],
)
def test_real_checkpoint_clobbered_body_fails(old: str, new: str) -> None:
    witness = CosignatureVerifier.from_vkey(REAL["witness_vkey"])
    note = REAL["note"].replace(old, new, 1)
    assert note != REAL["note"]
    with pytest.raises(ProofError):
        verify_cosignatures(note, [witness])


def test_go_vkeys() -> None:
    by_name = {case["name"]: case for case in GO["vkeys"]}
    native = by_name["works: native algEd25519CosignatureV1 verifier"]["vkey"]
    verifier = CosignatureVerifier.from_vkey(native)
    assert verifier.vkey == native
    assert verifier.key_id == cosignature_key_id(verifier.name, verifier.public_key)
    # Deliberate difference from Go: a plain note key (type 0x01) is not a cosigner key.
    plain = by_name["works: convert from algEd25519"]["vkey"]
    NoteVerifier.from_vkey(plain)
    with pytest.raises(ValidationError, match="plain Ed25519 note key"):
        CosignatureVerifier.from_vkey(plain)
    with pytest.raises(ValidationError, match="only Ed25519"):
        CosignatureVerifier.from_vkey(by_name["works: native algMLDSA44 verifier"]["vkey"])
    for case in GO["vkeys"]:
        if not case["go_accepts"]:
            with pytest.raises(ValidationError):
                CosignatureVerifier.from_vkey(case["vkey"])


def test_go_timestamp_vectors() -> None:
    line = f"— any.example {GO['timestamp_ok']['signature_base64']}\n"
    assert Cosignature.from_line(line).timestamp == GO["timestamp_ok"]["timestamp"]
    with pytest.raises(ProofError, match="not an Ed25519 cosignature"):
        Cosignature.from_line(f"— any.example {GO['timestamp_not_a_cosignature']}")
    with pytest.raises(ProofError):
        Cosignature.from_line(f"— any.example {GO['timestamp_gibberish']}")


# --- keys and round trips ------------------------------------------------------------


def test_vkey_round_trip_type_byte_and_key_id() -> None:
    signer = _signer()
    verifier = CosignatureVerifier.from_vkey(signer.vkey)
    assert verifier == signer.verifier
    name, hex_id, material = signer.vkey.split("+", 2)
    assert base64.b64decode(material)[0] == COSIGNATURE_TYPE == 0x04
    assert bytes.fromhex(hex_id) == cosignature_key_id(name, verifier.public_key)
    # The same key as a plain note key has another id, so the two roles never collide.
    assert key_id(name, verifier.public_key) != verifier.key_id


def test_sign_and_verify_with_the_injected_clock() -> None:
    signer = _signer()
    line = signer.sign(BODY)
    assert line.startswith("— witness.example/w1 ")
    assert line.endswith("\n")
    cosig = signer.verifier.verify(BODY, line)
    assert cosig.timestamp == int(T0.timestamp())
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == signer.verifier.key_id
    assert struct.unpack(">Q", raw[4:12])[0] == int(T0.timestamp())


def test_extension_lines_are_signed() -> None:
    body = Checkpoint("log.example/test", 7, bytes(32), ("ext one",)).to_body()
    signer = _signer()
    line = signer.sign(body)
    signer.verifier.verify(body, line)
    with pytest.raises(ProofError):
        signer.verifier.verify(body.replace("ext one", "ext two"), line)


def test_signer_refuses_what_is_not_a_checkpoint_or_has_no_time() -> None:
    signer = _signer()
    for bad_body in ("hello\n", "log\n01\n" + base64.b64encode(bytes(32)).decode() + "\n"):
        with pytest.raises(ValidationError, match="refusing to cosign"):
            signer.sign(bad_body)
    for bad_time in (0, -1, 2**63, True):
        with pytest.raises(ValidationError):
            signer.sign_at(BODY, bad_time)
    signer.sign_at(BODY, 2**63 - 1)


# --- every mutation refused ----------------------------------------------------------


def _mutate_raw(line: str, change: Any) -> str:
    prefix, name, b64 = line.rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(b64))
    raw = change(raw)
    return f"{prefix} {name} {base64.b64encode(bytes(raw)).decode()}\n"


def _flip(index: int) -> Any:
    def change(raw: bytearray) -> bytearray:
        raw[index] ^= 0x01
        return raw

    return change


def _set_time(value: int) -> Any:
    def change(raw: bytearray) -> bytearray:
        raw[4:12] = value.to_bytes(8, "big")
        return raw

    return change


# A fixed key and clock make the line fixed (Ed25519 is deterministic), so the textual
# mutations below are never no-ops by chance.
SIGNER = _signer(seed=bytes(range(32)))
GOOD = SIGNER.sign(BODY)

LINE_MUTATIONS = {
    "key id byte": _mutate_raw(GOOD, _flip(0)),
    "timestamp +1": _mutate_raw(GOOD, _set_time(int(T0.timestamp()) + 1)),
    "timestamp -1": _mutate_raw(GOOD, _set_time(int(T0.timestamp()) - 1)),
    "timestamp high bit": _mutate_raw(GOOD, _set_time(2**63 + int(T0.timestamp()))),
    "signature first byte": _mutate_raw(GOOD, _flip(12)),
    "signature middle byte": _mutate_raw(GOOD, _flip(44)),
    "signature last byte": _mutate_raw(GOOD, _flip(75)),
    "one byte short": _mutate_raw(GOOD, lambda raw: raw[:-1]),
    "one byte long": _mutate_raw(GOOD, lambda raw: raw + b"\x00"),
    "plain note signature shape": _mutate_raw(GOOD, lambda raw: raw[:4] + raw[12:]),
    "other name": GOOD.replace("witness.example/w1", "witness.example/w2"),
    "no em dash": GOOD.replace("— ", "-- "),
    "two spaces": GOOD.replace("w1 ", "w1  "),
    "space before name": GOOD.replace("— ", "—  "),
    "trailing space": GOOD.rstrip("\n") + " \n",
    "carriage return": GOOD.rstrip("\n") + "\r\n",
    "two lines": GOOD + GOOD,
    "unpadded base64": GOOD.rstrip("=\n") + "\n",
    "url-safe base64": GOOD.replace("+", "-").replace("/", "_"),
}


@pytest.mark.parametrize("line", LINE_MUTATIONS.values(), ids=LINE_MUTATIONS.keys())
def test_every_line_mutation_is_refused(line: str) -> None:
    assert line != GOOD
    with pytest.raises(ProofError):
        SIGNER.verifier.verify(BODY, line)


def test_non_canonical_base64_padding_bits_refused() -> None:
    # 76 bytes end in a 1-byte group: "xx==" where the second char carries 4 unused bits.
    b64 = GOOD.rstrip("\n").split(" ")[2]
    assert b64.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(b64[-3]) ^ 0x01]
    mutated = GOOD.replace(b64, b64[:-3] + twin + "==")
    assert base64.b64decode(mutated.split(" ")[2]) == base64.b64decode(b64)  # same bytes
    with pytest.raises(ProofError, match="non-canonical"):
        SIGNER.verifier.verify(BODY, mutated)


BODY_MUTATIONS = {
    "origin": BODY.replace("log.example/test", "log.example/tesT"),
    "size": BODY.replace("\n7\n", "\n8\n"),
    "root": Checkpoint("log.example/test", 7, bytes(range(1, 33))).to_body(),
    "extension added": BODY + "extra\n",
    "final newline dropped": BODY[:-1],
}


@pytest.mark.parametrize("body", BODY_MUTATIONS.values(), ids=BODY_MUTATIONS.keys())
def test_every_body_mutation_is_refused(body: str) -> None:
    with pytest.raises(ProofError):
        SIGNER.verifier.verify(body, GOOD)


def test_another_key_with_the_same_name_is_refused() -> None:
    impostor = CosignatureSigner(
        "witness.example/w1", Ed25519PrivateKey.generate(), clock=FixedClock(T0)
    )
    with pytest.raises(ProofError, match=r"not witness\.example/w1"):
        SIGNER.verifier.verify(BODY, impostor.sign(BODY))


def test_verifier_refuses_bad_keys() -> None:
    good = SIGNER.vkey
    name, hex_id, material = good.split("+", 2)
    for bad in (
        f"{name}+{'0' * 8}+{material}",  # wrong key id
        f"{name}+{hex_id.upper()}+{material}",
        f"other.example+{hex_id}+{material}",  # id does not match this name
        f"{name}+{hex_id}+{material[:-1]}",
        f"{name}+{hex_id}+{material}=",
        f"{name}+{hex_id}",
        f"na me+{hex_id}+{material}",
    ):
        assert bad != good
        with pytest.raises(ValidationError):
            CosignatureVerifier.from_vkey(bad)


# --- notes ---------------------------------------------------------------------------


def test_cosigned_checkpoint_round_trip_and_add_cosignatures() -> None:
    log = FakeLog().append(5)
    note = log.checkpoint()
    body = parse_note(note).text
    w1, w2 = _signer("w1.example"), _signer("w2.example")
    cosigned = add_cosignatures(note, [w1.sign(body), w2.sign(body)])
    assert add_cosignatures(cosigned, [w1.sign(body)]) == cosigned  # same line: no repeat
    result = open_cosigned_checkpoint(
        cosigned, [log.signer.verifier], origin=log.origin, witnesses=[w1.verifier, w2.verifier]
    )
    assert result.checkpoint.size == 5
    assert {c.name for c in result.cosignatures} == {"w1.example", "w2.example"}
    assert result.cosigned_by(_signer("w3.example").verifier) is None
    # Unknown witnesses' lines are ignored.
    only_w1 = open_cosigned_checkpoint(
        cosigned, [log.signer.verifier], origin=log.origin, witnesses=[w1.verifier]
    )
    assert [c.name for c in only_w1.cosignatures] == ["w1.example"]
    with pytest.raises(ProofError):
        add_cosignatures(note, ["— w1.example not-base64\n"])


def test_a_known_witness_with_a_bad_cosignature_rejects_the_note() -> None:
    log = FakeLog().append(3)
    note = log.checkpoint()
    w1 = _signer("w1.example")
    bad = add_cosignatures(note, [w1.sign(Checkpoint(log.origin, 4, bytes(32)).to_body())])
    with pytest.raises(ProofError, match="invalid cosignature"):
        verify_cosignatures(bad, [w1.verifier])
    assert verify_cosignatures(bad, [_signer("w2.example").verifier]) == ()


def test_cosignature_from_note_signature_requires_72_bytes() -> None:
    with pytest.raises(ProofError):
        Cosignature.from_note_signature(NoteSignature("a.example", b"\x00" * 4, b"\x00" * 64))
