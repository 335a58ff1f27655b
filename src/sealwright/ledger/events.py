"""How an event becomes a ledger leaf (docs/ledger.md §Leaves).

An event is a JSON object; its leaf bytes are its RFC 8785 canonical form and its leaf
hash is RFC 9162's SHA-256(0x00 || leaf bytes). The per-envelope ``prev`` chain links
events by the hex of that same leaf hash.
"""

from __future__ import annotations

from collections.abc import Mapping

from sealwright.ledger.canonical import canonicalize
from sealwright.ledger.merkle import leaf_hash

__all__ = ["EVENT_VERSION", "event_leaf", "event_leaf_hash"]

EVENT_VERSION = 1


def event_leaf(event: Mapping[str, object]) -> bytes:
    return canonicalize(event)


def event_leaf_hash(event: Mapping[str, object]) -> bytes:
    return leaf_hash(canonicalize(event))
