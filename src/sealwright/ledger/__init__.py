"""The audit ledger's pure maths: canonical JSON, RFC 9162 Merkle trees, C2SP
checkpoints in signed notes. No storage, no network; see docs/ledger.md."""

from sealwright.ledger.canonical import canonicalize, parse_canonical
from sealwright.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from sealwright.ledger.events import event_leaf, event_leaf_hash
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
from sealwright.ledger.note import NoteSigner, NoteVerifier, open_note, sign_note

__all__ = [
    "EMPTY_ROOT",
    "Checkpoint",
    "MerkleTree",
    "NoteSigner",
    "NoteVerifier",
    "canonicalize",
    "consistency_proof",
    "event_leaf",
    "event_leaf_hash",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "parse_canonical",
    "root_hash",
    "sign_checkpoint",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
]
