"""C2SP tlog-checkpoint bodies and signed checkpoints."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.checkpoint import (
    Checkpoint,
    NoteSigner,
    open_checkpoint,
    open_note,
    sign_checkpoint,
)
from sealwright.ledger.merkle import EMPTY_ROOT

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "signed-note" / "signed-note-vectors.json").read_text()
)
ORIGIN = "sealwright.test/log"
ROOT = bytes(range(32))


def test_c2sp_example_body_parses() -> None:
    v = VECTORS["c2sp_tlog_checkpoint"]
    body = v["note"][: v["note"].rindex("\n\n") + 1]
    cp = Checkpoint.from_body(body)
    assert cp == Checkpoint(v["origin"], v["size"], base64.b64decode(v["root_hash_b64"]))
    assert cp.to_body() == body


def test_body_format_is_exact() -> None:
    cp = Checkpoint(ORIGIN, 12, ROOT, ("ext one",))
    assert cp.to_body() == f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\next one\n"
    assert Checkpoint.from_body(cp.to_body()) == cp
    assert Checkpoint(ORIGIN, 0, EMPTY_ROOT).to_body().splitlines()[1] == "0"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "o\n1\n",
        f"o\n1\n{base64.b64encode(ROOT).decode()}",  # no final newline
        f"o\n01\n{base64.b64encode(ROOT).decode()}\n",  # leading zero
        f"o\n+1\n{base64.b64encode(ROOT).decode()}\n",
        f"o\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"o\n\u0661\n{base64.b64encode(ROOT).decode()}\n",  # Arabic-Indic digit one
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"o\n1\n{base64.urlsafe_b64encode(bytes([255] * 32)).decode()}\n",
        f"o\n1\n{base64.b64encode(ROOT).decode()}\n\n",  # empty extension line
        f"\n1\n{base64.b64encode(ROOT).decode()}\n",
        f"o\n1\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
    ],
)
def test_malformed_bodies(body: str) -> None:
    with pytest.raises(ProofError):
        Checkpoint.from_body(body)


def test_constructor_validates() -> None:
    with pytest.raises(ValidationError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(ValidationError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(ValidationError):
        Checkpoint(ORIGIN, 1, ROOT[:5])
    with pytest.raises(ValidationError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))
    with pytest.raises(ValidationError):
        Checkpoint("a\x00b", 1, ROOT)


def test_signed_checkpoint_round_trip() -> None:
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    witness = NoteSigner("witness.test/w1", Ed25519PrivateKey.generate())
    cp = Checkpoint(ORIGIN, 5, ROOT)
    note = sign_checkpoint(cp, [log, witness])
    assert note.startswith(cp.to_body() + "\n\u2014 " + ORIGIN + " ")
    assert open_checkpoint(note, [log.verifier], origin=ORIGIN) == cp
    assert open_note(note, [witness.verifier])[1] == ("witness.test/w1",)


def test_witness_signature_alone_is_not_the_log() -> None:
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    witness = NoteSigner("witness.test/w1", Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), [log, witness])
    with pytest.raises(ProofError, match="not signed by the log key"):
        open_checkpoint(note, [witness.verifier], origin=ORIGIN)


def test_origin_line_must_match_the_log() -> None:
    # A key named like the log signing a checkpoint that claims another origin.
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint("other.test/log", 5, ROOT), [log])
    with pytest.raises(ProofError, match="origin"):
        open_checkpoint(note, [log.verifier], origin=ORIGIN)


def test_tampered_size_fails() -> None:
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), [log])
    with pytest.raises(ProofError):
        open_checkpoint(note.replace("\n5\n", "\n6\n", 1), [log.verifier], origin=ORIGIN)
