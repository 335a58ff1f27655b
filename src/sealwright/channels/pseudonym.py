"""Pseudonymous recipient ids for assertions and QR codes.

An assertion must name its recipient so that a verifier can bind it to the ledger's
events, but it travels in evidence bundles and on paper: it must not carry an email
address or a phone number. The id is ``HMAC-SHA256(k_tenant, recipient_id)`` with a key
per tenant, ``k_tenant = HMAC-SHA256(k_root, "sealwright-pseudonym/1\\0" + tenant)``, so
the ids of one tenant cannot be correlated with another's, and nobody without the root
key can test a guess.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["recipient_pseudonym"]

_LABEL = b"sealwright-pseudonym/1\x00"


def recipient_pseudonym(root_key: bytes, tenant: str, recipient_id: str) -> str:
    """64 lowercase hex digits."""
    if len(root_key) < 32:
        raise ValueError("the pseudonym key must be at least 32 bytes")
    tenant_key = hmac.new(root_key, _LABEL + tenant.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(tenant_key, recipient_id.encode("utf-8"), hashlib.sha256).hexdigest()
