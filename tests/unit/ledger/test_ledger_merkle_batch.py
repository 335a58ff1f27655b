"""Batch inclusion checking (``inclusion_failures``, ``verify_inclusions``) gives exactly the
verdict of ``verify_inclusion`` for every entry, whatever is mutated, in any order."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.errors import ProofError
from sealwright.ledger import merkle
from sealwright.ledger.merkle import (
    MerkleTree,
    inclusion_failures,
    leaf_hash,
    verify_inclusion,
    verify_inclusions,
)

VECTORS = Path(__file__).parents[2] / "vectors" / "transparency-dev" / "inclusion"

Entry = tuple[int, bytes, Sequence[bytes]]


def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def one_by_one(entries: list[Entry], size: int, root: bytes) -> list[tuple[int, str]]:
    """The reference: each entry verified on its own."""
    failures = []
    for index, leaf, proof in entries:
        try:
            verify_inclusion(leaf, index, size, proof, root)
        except ProofError as exc:
            failures.append((index, str(exc)))
    return failures


def batch(entries: list[Entry], size: int, root: bytes) -> list[tuple[int, str]]:
    return [(i, str(exc)) for i, exc in inclusion_failures(entries, size, root)]


def _flip(data: bytes, bit: int) -> bytes:
    if not data:
        return b"\x00"
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("n", [*range(1, 70), 127, 128, 129, 1000])
def test_every_leaf_of_a_tree_at_once(n: int) -> None:
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    entries = [(i, leaves[i], tree.inclusion_proof(i)) for i in range(n)]
    assert inclusion_failures(entries, n, tree.root) == []
    assert inclusion_failures(entries[::-1], n, tree.root) == []
    verify_inclusions(entries, n, tree.root)


@pytest.mark.parametrize("n", [4096, 3001])
def test_shared_nodes_are_hashed_once(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # All leaves: the first checked on its own (12 hashes) and climbed to the top (12 more);
    # every other one climbed only to the level below where it meets the previous one: one
    # hash on average (none for a right sibling, one for every second leaf, ...).
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    entries = [(i, leaves[i], tree.inclusion_proof(i)) for i in range(n)]
    hashed: list[bytes] = []
    alone: list[int] = []
    verify = merkle.verify_inclusion

    def counted_sha256(data: bytes) -> Any:
        hashed.append(data)
        return hashlib.sha256(data)

    def counted_verify(*args: Any) -> None:
        alone.append(args[1])
        verify(*args)

    monkeypatch.setattr(merkle, "hashlib", SimpleNamespace(sha256=counted_sha256))
    monkeypatch.setattr(merkle, "verify_inclusion", counted_verify)
    assert inclusion_failures(entries, n, tree.root) == []
    assert alone == [0]
    assert len(hashed) <= n + 24


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 33])
def test_every_shortened_or_lengthened_proof_after_a_verified_one(n: int) -> None:
    # The entry after a verified one, with its proof cut short at every length, or longer.
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    for i in range(n - 1):
        first = (i, leaves[i], tree.inclusion_proof(i))
        proof = tree.inclusion_proof(i + 1)
        for changed in [proof[:k] for k in range(len(proof))] + [[*proof, proof[-1]]]:
            entries: list[Entry] = [first, (i + 1, leaves[i + 1], changed)]
            assert batch(entries, n, tree.root) == one_by_one(entries, n, tree.root)
            assert [e for e, _ in batch(entries, n, tree.root)] == [i + 1]


def test_a_changed_node_high_up_fails_only_its_entry() -> None:
    # The top node of every proof in the left half is the right half's root: the same node
    # in 32 proofs. Changing it in one proof must fail that entry and no other.
    n = 64
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    entries: list[Entry] = [(i, leaves[i], tree.inclusion_proof(i)) for i in range(n)]
    for victim in (0, 1, 17, 31):
        changed = list(entries)
        proof = list(changed[victim][2])
        proof[-1] = _flip(proof[-1], 5)
        changed[victim] = (victim, leaves[victim], proof)
        failures = batch(changed, n, tree.root)
        assert [i for i, _ in failures] == [victim]
        assert failures == one_by_one(changed, n, tree.root)


def test_a_consistent_forgery_of_a_whole_subtree_fails_every_entry_in_it() -> None:
    # Every proof of the left half agrees on a forged right-half root: the proofs agree with
    # each other, but none of them leads to the real root.
    n = 64
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    forged = bytes(32)
    entries: list[Entry] = []
    for i in range(n):
        proof = tree.inclusion_proof(i)
        if i < 32:
            proof[-1] = forged
        entries.append((i, leaves[i], proof))
    assert [i for i, _ in batch(entries, n, tree.root)] == list(range(32))


def test_leaves_of_another_tree_with_their_own_proofs_fail() -> None:
    n = 40
    mine, theirs = _leaves(n), _leaves(n, b"other")
    tree, other = MerkleTree(mine), MerkleTree(theirs)
    entries: list[Entry] = [(i, mine[i], tree.inclusion_proof(i)) for i in range(0, n, 3)]
    entries += [(i, theirs[i], other.inclusion_proof(i)) for i in range(1, n, 3)]
    entries.sort(key=lambda e: e[0])
    failures = batch(entries, n, tree.root)
    assert [i for i, _ in failures] == list(range(1, n, 3))
    assert failures == one_by_one(entries, n, tree.root)


def test_bad_roots_and_sizes_fail_every_entry() -> None:
    leaves = _leaves(5)
    tree = MerkleTree(leaves)
    entries: list[Entry] = [(i, leaves[i], tree.inclusion_proof(i)) for i in range(5)]
    for size, root in [(5, b"short"), (0, tree.root), (-1, tree.root), (5, bytes(32))]:
        failures = batch(entries, size, root)
        assert [i for i, _ in failures] == list(range(5))
        assert failures == one_by_one(entries, size, root)
    assert batch([], 5, tree.root) == []


def test_verify_inclusions_names_the_first_failure() -> None:
    leaves = _leaves(10)
    tree = MerkleTree(leaves)
    entries: list[Entry] = [(i, leaves[i], tree.inclusion_proof(i)) for i in range(10)]
    entries[6] = (6, leaves[7], entries[6][2])
    entries[8] = (8, leaves[8], [])
    with pytest.raises(ProofError, match=r"^leaf index 6: inclusion proof does not lead to the"):
        verify_inclusions(entries, 10, tree.root)


MUTATIONS = ["leaf", "node", "drop", "add", "swap", "index", "duplicate", "truncate", "reorder"]


@st.composite
def mutated_batches(draw: st.DrawFn) -> tuple[list[Entry], int, bytes]:
    n = draw(st.integers(1, 200))
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    indices = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=40, unique=True))
    indices.sort()
    entries: list[Entry] = [(i, leaves[i], tree.inclusion_proof(i)) for i in indices]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(MUTATIONS))
        pos = draw(st.integers(0, len(entries) - 1))
        index, leaf, proof = entries[pos]
        proof = list(proof)
        bit = draw(st.integers(0, 255))
        if kind == "leaf":
            leaf = _flip(leaf, bit)
        elif kind == "node" and proof:
            at = draw(st.integers(0, len(proof) - 1))
            proof[at] = _flip(proof[at], bit)
        elif kind == "drop" and proof:
            proof.pop(draw(st.integers(0, len(proof) - 1)))
        elif kind == "add":
            proof.insert(draw(st.integers(0, len(proof))), _flip(tree.root, bit))
        elif kind == "swap":
            _, _, other = entries[draw(st.integers(0, len(entries) - 1))]
            proof = list(other)
        elif kind == "index":
            index = draw(st.integers(-1, n))
        elif kind == "duplicate":
            entries.insert(pos, entries[draw(st.integers(0, len(entries) - 1))])
        elif kind == "truncate" and proof:
            proof[draw(st.integers(0, len(proof) - 1))] = b"\x00" * draw(st.integers(0, 33))
        elif kind == "reorder":
            entries = draw(st.permutations(entries))
            continue
        entries[pos] = (index, leaf, proof)
    size, root = n, tree.root
    whole = draw(st.sampled_from(["none", "none", "none", "size", "root"]))
    if whole == "size":
        size = draw(st.integers(0, 2 * n + 2))
    elif whole == "root":
        root = _flip(root, draw(st.integers(0, 255)))
    return entries, size, root


@settings(max_examples=1500, deadline=None)
@given(mutated_batches())
def test_same_verdicts_as_one_by_one(case: tuple[list[Entry], int, bytes]) -> None:
    entries, size, root = case
    assert batch(entries, size, root) == one_by_one(entries, size, root)


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _entry(v: dict[str, Any]) -> Entry:
    return (v["leafIdx"], _b64(v["leafHash"]), [_b64(p) for p in v["proof"] or []])


@pytest.mark.parametrize(
    "path", sorted(VECTORS.rglob("*.json")), ids=lambda p: p.relative_to(VECTORS).as_posix()
)
def test_vector_after_a_verified_leaf(path: Path) -> None:
    """Each transparency-dev vector on its own; then right after the happy-path leaf of its
    tree has verified (so that it is compared with that verified path), and right before it
    (or twice in a row, where its directory has no happy path)."""
    v = json.loads(path.read_text())
    happy_path = path.parent / "happy-path.json"
    happy = json.loads(happy_path.read_text()) if happy_path.exists() else v
    size, root = v["treeSize"], _b64(v["root"])
    assert bool(batch([_entry(v)], size, root)) == v["wantErr"]
    for entries in ([_entry(happy), _entry(v)], [_entry(v), _entry(happy)]):
        assert batch(entries, size, root) == one_by_one(entries, size, root)
