"""RFC 9162 proofs against transparency-dev/merkle's published golden test data.

Every ``wantErr: false`` file must verify and every ``wantErr: true`` file (the mutated
proofs, sizes, roots and leaves) must raise ProofError.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sealwright.errors import ProofError
from sealwright.ledger.merkle import verify_consistency, verify_inclusion

VECTORS = Path(__file__).parents[2] / "vectors" / "transparency-dev"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))

# One deliberate difference from the Go reference: it accepts any bytes as the two roots
# when both sizes are equal, so a 12-byte "root" passes there. We require every root and
# proof element to be a 32-byte SHA-256 value, so that vector fails here; the test below
# shows the same case passes once the roots have the right length.
STRICTER_THAN_GO = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(data: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in data["proof"] or []]


def _name(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def test_vector_counts() -> None:
    # Guards against a half-copied directory silently shrinking the suite.
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98
    assert sum(json.loads(p.read_text())["wantErr"] for p in INCLUSION + CONSISTENCY) > 150


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), _proof(v))
    if v["wantErr"] or _name(path) in STRICTER_THAN_GO:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_the_stricter_case_passes_with_real_hash_lengths() -> None:
    root = bytes(range(32))
    verify_consistency(1, 1, root, root, [])
    with pytest.raises(ProofError):
        verify_consistency(1, 1, root, bytes(32), [])
