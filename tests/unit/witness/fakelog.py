"""A tiny transparency log for witness tests: real RFC 9162 trees (ledger/merkle.py) and
real signed checkpoints (ledger/checkpoint.py), with a way to fork its history."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from sealwright.ledger.merkle import MerkleTree, leaf_hash


class FakeLog:
    def __init__(
        self,
        origin: str = "log.example/sealwright",
        *,
        key: Ed25519PrivateKey | None = None,
        leaves: Sequence[bytes] = (),
        salt: str = "",
    ) -> None:
        self.origin = origin
        self.key = key or Ed25519PrivateKey.generate()
        self.signer = NoteSigner(origin, self.key)
        self.leaves = list(leaves)
        self._salt = salt

    @property
    def vkey(self) -> str:
        return self.signer.vkey

    @property
    def size(self) -> int:
        return len(self.leaves)

    def append(self, count: int) -> FakeLog:
        start = len(self.leaves)
        self.leaves += [
            leaf_hash(f"{self.origin}{self._salt} event {i}".encode())
            for i in range(start, start + count)
        ]
        return self

    def tree(self, size: int | None = None) -> MerkleTree:
        return MerkleTree(self.leaves[: self.size if size is None else size])

    def checkpoint(self, size: int | None = None, *, extensions: tuple[str, ...] = ()) -> str:
        tree = self.tree(size)
        body = Checkpoint(self.origin, tree.size, tree.root, extensions)
        return sign_checkpoint(body, [self.signer])

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        """The consistency proof a client sends: empty from 0, or between equal sizes."""
        tree = self.tree(new)
        if old == 0 or old == tree.size:
            return []
        return tree.consistency_proof(old)

    def fork(self, at: int) -> FakeLog:
        """Same origin and key, same first ``at`` leaves, then a different history."""
        return FakeLog(self.origin, key=self.key, leaves=self.leaves[:at], salt=self._salt + "'")
