"""RFC 9162 tree hashing and proofs: known answers, properties, mutations, speed."""

from __future__ import annotations

import hashlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.errors import ProofError
from sealwright.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _reference_root(d: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it (recursive; for small trees only)."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(_reference_root(d[:k]), _reference_root(d[k:]))


def test_hash_domain_separation() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_rfc6962_reference_roots() -> None:
    # The eight-leaf tree of RFC 6962's and transparency-dev's test data (leaves: "",
    # 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f).
    inputs = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        bytes(range(0x50, 0x58)),
        bytes(range(0x60, 0x70)),
    ]
    leaves = [leaf_hash(x) for x in inputs]
    expected = {
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    }
    for size, root in expected.items():
        assert root_hash(leaves[:size]).hex() == root


@pytest.mark.parametrize("n", [*range(1, 40), 63, 64, 65, 127, 128, 129])
def test_every_proof_of_small_trees(n: int) -> None:
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    assert tree.root == _reference_root(leaves)
    for i in range(n):
        verify_inclusion(leaves[i], i, n, tree.inclusion_proof(i), tree.root)
    for m in range(1, n + 1):
        verify_consistency(m, n, _reference_root(leaves[:m]), tree.root, tree.consistency_proof(m))


def test_generator_argument_errors() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(3, _leaves(3))
    with pytest.raises(ValueError):
        inclusion_proof(-1, _leaves(3))
    with pytest.raises(ValueError):
        consistency_proof(0, _leaves(3))
    with pytest.raises(ValueError):
        consistency_proof(4, _leaves(3))
    with pytest.raises(ValueError):
        MerkleTree([b"short"])


def test_root_of_100k_leaves_is_fast() -> None:
    leaves = _leaves(100_000)
    start = time.perf_counter()
    root = root_hash(leaves)
    elapsed = time.perf_counter() - start
    assert len(root) == 32
    assert elapsed < 1.0, f"root of 100k leaves took {elapsed:.2f} s"
    tree = MerkleTree(leaves)
    verify_inclusion(leaves[77_777], 77_777, 100_000, tree.inclusion_proof(77_777), root)
    verify_consistency(
        65_537, 100_000, tree_root(leaves[:65_537]), root, tree.consistency_proof(65_537)
    )


def tree_root(leaves: list[bytes]) -> bytes:
    return MerkleTree(leaves).root


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    n = draw(st.integers(min_value=1, max_value=300))
    return _leaves(n), draw(st.integers(min_value=0, max_value=n - 1))


@st.composite
def tree_and_old_size(draw: st.DrawFn) -> tuple[list[bytes], int]:
    n = draw(st.integers(min_value=1, max_value=300))
    return _leaves(n), draw(st.integers(min_value=1, max_value=n))


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@given(tree_and_index())
def test_generated_inclusion_proofs_verify(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    verify_inclusion(
        leaves[index], index, len(leaves), inclusion_proof(index, leaves), root_hash(leaves)
    )


@given(tree_and_index(), st.data())
def test_any_mutation_of_an_inclusion_proof_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = case
    n, proof, root = len(leaves), inclusion_proof(index, leaves), root_hash(leaves)
    kind = data.draw(st.sampled_from(["leaf", "root", "element", "index", "size", "drop", "add"]))
    bit = data.draw(st.integers(min_value=0))
    leaf = leaves[index]
    if kind == "leaf":
        leaf = _flip(leaf, bit)
    elif kind == "root":
        root = _flip(root, bit)
    elif kind == "element" and proof:
        pos = data.draw(st.integers(0, len(proof) - 1))
        proof[pos] = _flip(proof[pos], bit)
    elif kind == "index" and n > 1:
        index = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
    elif kind == "size":
        other = data.draw(st.integers(index + 1, 2 * n + 2).filter(lambda s: s != n))
        # The proof does not authenticate the tree size (the signed checkpoint does): a
        # path with the same shape in a tree of another size may still lead to the root.
        # A size that needs a different number of proof nodes must fail, though.
        if len(inclusion_proof(index, _leaves(other))) == len(proof):
            return
        n = other
    elif kind == "drop" and proof:
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    elif kind == "add":
        proof.insert(data.draw(st.integers(0, len(proof))), _flip(root, bit))
    else:
        return
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, n, proof, root)


@given(tree_and_old_size())
def test_generated_consistency_proofs_verify(case: tuple[list[bytes], int]) -> None:
    leaves, m = case
    verify_consistency(
        m, len(leaves), root_hash(leaves[:m]), root_hash(leaves), consistency_proof(m, leaves)
    )


@given(tree_and_old_size(), st.data())
def test_any_mutation_of_a_consistency_proof_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, m = case
    n = len(leaves)
    proof, old, new = consistency_proof(m, leaves), root_hash(leaves[:m]), root_hash(leaves)
    kind = data.draw(st.sampled_from(["old", "new", "element", "old_size", "drop", "add"]))
    bit = data.draw(st.integers(min_value=0))
    if kind == "old":
        old = _flip(old, bit)
    elif kind == "new":
        new = _flip(new, bit)
    elif kind == "element" and proof:
        pos = data.draw(st.integers(0, len(proof) - 1))
        proof[pos] = _flip(proof[pos], bit)
    elif kind == "old_size" and n > 1:
        m = data.draw(st.integers(1, n).filter(lambda s: s != m))
    elif kind == "drop" and proof:
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    elif kind == "add":
        proof.insert(data.draw(st.integers(0, len(proof))), _flip(new, bit))
    else:
        return
    with pytest.raises(ProofError):
        verify_consistency(m, n, old, new, proof)


@settings(max_examples=50)
@given(st.integers(1, 2000), st.data())
def test_inclusion_in_a_tree_matches_the_reference(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    assert root_hash(leaves) == _reference_root(leaves)
    m = data.draw(st.integers(1, n))
    verify_consistency(m, n, root_hash(leaves[:m]), root_hash(leaves), consistency_proof(m, leaves))
