"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs (SHA-256).

Generators work on the list of leaf hashes. ``MerkleTree`` keeps every level of the tree
so that many proofs over one tree cost O(log n) each after an O(n) build; the module
functions are one-shot conveniences over it.

Every level is built bottom-up by hashing pairs and *promoting* a lone last node
unchanged. That yields exactly RFC 9162's tree (split at the largest power of two
smaller than n), so node ``levels[h][i]`` covers leaves ``[i * 2**h, min((i+1) * 2**h, n))``.

Verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 literally and raise
:class:`ProofError` on every failure; they never return a boolean that could be ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from sealwright.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An immutable in-memory tree over ``leaf_hashes`` (each 32 bytes)."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        for i, h in enumerate(leaf_hashes):
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash {i} has {len(h)} bytes, expected {HASH_SIZE}")
        level = list(leaf_hashes)
        levels = [level]
        sha256 = hashlib.sha256
        while len(level) > 1:
            nxt = [
                sha256(b"\x01" + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)
            ]
            if len(level) % 2:
                nxt.append(level[-1])
            levels.append(nxt)
            level = nxt
        self._levels = levels

    @property
    def size(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        if self.size == 0:
            return EMPTY_ROOT
        return self._levels[-1][0]

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that is either a perfect aligned subtree or runs
        to the right edge of the tree -- the only two shapes RFC 9162 proofs use."""
        height = (end - start - 1).bit_length()
        return self._levels[height][start >> height]

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[0:n]) of RFC 9162 §2.1.3.1, leaf level first."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} outside tree of size {self.size}")
        proof: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index >>= 1
        return proof

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:n]) of RFC 9162 §2.1.4.1.

        Walks SUBPROOF from the top down, collecting one node per step, then reverses:
        SUBPROOF emits the deepest nodes first.
        """
        if not 0 < old_size <= self.size:
            # A proof from the empty tree says nothing (RFC 9162; transparency-dev agrees).
            raise ValueError(f"no consistency proof from size {old_size} to {self.size}")
        nodes: list[bytes] = []
        start, end, m, whole = 0, self.size, old_size, True
        while m != end - start:
            k = _largest_power_of_two_below(end - start)
            if m <= k:
                nodes.append(self._subtree(start + k, end))
                end = start + k
            else:
                nodes.append(self._subtree(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            nodes.append(self._subtree(start, end))
        nodes.reverse()
        return nodes


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[0:n]); the empty tree's root is SHA-256 of the empty string."""
    return MerkleTree(leaf_hashes).root


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def _require_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} has {len(value)} bytes, expected {HASH_SIZE}")


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2. Raises :class:`ProofError` unless ``proof`` shows the leaf
    with hash ``leaf_hash`` at ``index`` in the tree of ``tree_size`` with ``root``."""
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} outside tree of size {tree_size}")
    _require_hash(leaf_hash, "leaf hash")
    _require_hash(root, "root hash")
    for i, p in enumerate(proof):
        _require_hash(p, f"proof element {i}")
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if not hmac.compare_digest(r, root):
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2. Raises :class:`ProofError` unless ``proof`` shows that the tree
    of ``new_size`` with ``new_root`` extends the tree of ``old_size`` with ``old_root``."""
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    _require_hash(old_root, "old root")
    _require_hash(new_root, "new root")
    for i, c in enumerate(proof):
        _require_hash(c, f"proof element {i}")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError("equal sizes but different roots")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError("consistency proof does not lead to the old root")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError("consistency proof does not lead to the new root")
