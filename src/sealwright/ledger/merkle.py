"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs (SHA-256).

Generators work on the list of leaf hashes. ``MerkleTree`` keeps every level of the tree
so that many proofs over one tree cost O(log n) each after an O(n) build; the module
functions are one-shot conveniences over it.

Every level is built bottom-up by hashing pairs and *promoting* a lone last node
unchanged. That yields exactly RFC 9162's tree (split at the largest power of two
smaller than n), so node ``levels[h][i]`` covers leaves ``[i * 2**h, min((i+1) * 2**h, n))``.

Verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 literally and raise
:class:`ProofError` on every failure; they never return a boolean that could be ignored.
:func:`inclusion_failures` checks many inclusion proofs under one root at once, with
exactly the verdicts of :func:`verify_inclusion` but hashing each shared node once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from sealwright.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "consistency_proof",
    "inclusion_failures",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusions",
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


def _climb(
    index: int, last: int, leaf: bytes, proof: tuple[bytes, ...], top: int
) -> tuple[list[bytes], list[int]] | None:
    """Walk the path of leaf ``index`` (in the tree whose last index is ``last``) from the
    leaf up to level ``top``, combining with ``proof`` nodes as RFC 9162 §2.1.3.2 does.

    Returns the hash reached at each level 0..top and how many proof nodes had been used
    before each level, or ``None`` if the proof runs out or holds a non-SHA-256 node.
    Level ``h`` holds node ``index >> h``; a node that is the last of its level and has no
    right sibling is promoted unchanged (the tree shape of :class:`MerkleTree`)."""
    sha256 = hashlib.sha256
    hashes, used = [leaf], [0]
    node, k = leaf, 0
    for h in range(top):
        i = index >> h
        if i & 1 or i != last >> h:
            if k == len(proof) or len(proof[k]) != HASH_SIZE:
                return None
            if i & 1:
                node = sha256(b"\x01" + proof[k] + node).digest()
            else:
                node = sha256(b"\x01" + node + proof[k]).digest()
            k += 1
        hashes.append(node)
        used.append(k)
    return hashes, used


def inclusion_failures(
    entries: Iterable[tuple[int, bytes, Sequence[bytes]]], tree_size: int, root: bytes
) -> list[tuple[int, ProofError]]:
    """:func:`verify_inclusion` of each ``(index, leaf_hash, proof)`` under one tree.

    Returns the entries that fail, in order, each with the error that
    :func:`verify_inclusion` raises for it; an empty list means every leaf is included.

    The verdicts are exactly those of :func:`verify_inclusion`, but nodes shared between
    paths are hashed once. Once a leaf's proof has verified, the next leaf's path is
    climbed only up to the level below the one where it meets that one (the two paths'
    nodes there are siblings). There the hash reached must equal the verified proof's node
    at that level, this proof's node there must equal the verified path's hash, and the rest
    of the proof must equal, node for node, the rest of the verified proof. Then both paths
    hash the same two nodes into their common node, and the remaining climb would repeat the
    verified one step for step and reach the root, so the proof verifies. If anything
    differs, the entry is checked on its own by :func:`verify_inclusion`. Entries in index
    order share the most: consecutive leaves of a full tree meet after two levels on
    average, so one node hash per leaf instead of log2(n).
    """
    failures: list[tuple[int, ProofError]] = []
    shared = tree_size > 0 and len(root) == HASH_SIZE
    height = (tree_size - 1).bit_length() if shared else 0
    last = tree_size - 1
    sha256 = hashlib.sha256
    # The last leaf verified: its index and proof, and for each level of its path the hash
    # there and how many nodes of its proof are left from there up.
    known = -1
    known_proof: tuple[bytes, ...] = ()
    known_hashes: list[bytes] = []
    known_left: list[int] = []
    for index, leaf, path in entries:
        proof = tuple(path)
        if known >= 0 and 0 <= index <= last and len(leaf) == HASH_SIZE:
            # The paths meet at level ``meet`` (the lowest common node). One level below it,
            # they are at sibling nodes, and each path's proof node there is the other's
            # node. So climb to that level only, recording this path below ``meet`` in place
            # of the known one's; from ``meet`` up they coincide.
            meet = (index ^ known).bit_length()
            rest = known_proof[len(known_proof) - known_left[meet] :]
            if meet == 0:  # the same leaf again
                if leaf == known_hashes[0] and proof == known_proof:
                    continue
            else:
                below = meet - 1
                known_node = known_hashes[below]  # where the known path was at ``below``
                its_sibling = known_proof[len(known_proof) - known_left[below]]
                node, k, count = leaf, 0, len(proof)
                for h in range(below):
                    known_hashes[h], known_left[h] = node, count - k
                    i = index >> h
                    if i & 1 or i != last >> h:  # a sibling to combine with (else: promoted)
                        if k == count or len(proof[k]) != HASH_SIZE:
                            break
                        if i & 1:
                            node = sha256(b"\x01" + proof[k] + node).digest()
                        else:
                            node = sha256(b"\x01" + node + proof[k]).digest()
                        k += 1
                else:
                    known_hashes[below], known_left[below] = node, count - k
                    # This node is the known path's sibling and vice versa: both hash to
                    # the same node at ``meet``, which the rest of the proofs share.
                    if (
                        node == its_sibling
                        and k < count
                        and proof[k] == known_node
                        and proof[k + 1 :] == rest
                    ):
                        known, known_proof = index, proof
                        continue
            known = -1  # the record below ``meet`` may hold this path now: start again
        try:
            verify_inclusion(leaf, index, tree_size, proof, root)
        except ProofError as exc:
            failures.append((index, exc))
            continue
        climbed = _climb(index, last, leaf, proof, height) if shared else None
        # It verified, so the climb to the top reaches the root using every node; only
        # then is it a path the next entries may be compared with.
        if climbed is not None and climbed[0][height] == root and climbed[1][height] == len(proof):
            known, known_proof = index, proof
            known_hashes = climbed[0]
            known_left = [len(proof) - u for u in climbed[1]]
    return failures


def verify_inclusions(
    entries: Iterable[tuple[int, bytes, Sequence[bytes]]], tree_size: int, root: bytes
) -> None:
    """Raise :class:`ProofError` naming the first ``(index, leaf_hash, proof)`` entry that
    :func:`verify_inclusion` would refuse (see :func:`inclusion_failures`)."""
    for index, exc in inclusion_failures(entries, tree_size, root):
        raise ProofError(f"leaf index {index}: {exc}") from exc


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
