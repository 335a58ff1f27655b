"""Online verification of signed QR codes (C4), for every caller that offers it: the API
(``web/qr_api.py``) and the operator console (``web/console_qr.py``).

The checks are the offline verifier's (``channels/qr.py``), against the service's own QR
keys (current and retired) and the partners' (``services/qr_partners.py``). Each call is
one ledger event naming the verifier (``actor``: ``client:<id>`` or ``operator:<id>``) and
the outcome -- ``api:qr:verified`` (key id, own or partner, issuer) or ``api:qr:refused``
(the reason) -- with the code's SHA-256 and the document hash asked about, never the code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealwright.channels.qr import QrRejected, decode_qr, qr_kid
from sealwright.domain.events import EventTag
from sealwright.services.runtime import Runtime

__all__ = ["QrCheck", "verify_qr_code"]


@dataclass(frozen=True, slots=True)
class QrCheck:
    """The verified claims (``ok``) or the refusal's message and short reason."""

    ok: bool
    claims: Mapping[str, Any]
    message: str = ""
    reason: str = ""


def verify_qr_code(
    rt: Runtime,
    partners: Sequence[Ed25519PublicKey],
    code: str,
    doc_hash: str | None,
    *,
    tenant: str,
    actor: str,
    who: Mapping[str, str],
) -> QrCheck:
    """Verify ``code`` now and log the outcome (``who``: the verifier's id fields)."""
    own = [k.public_key for k in rt.channel_keys.qr.keys]
    own_kids = {qr_kid(k) for k in own}
    expected = bytes.fromhex(doc_hash) if doc_hash else None
    data: dict[str, Any] = {
        "code_sha256": hashlib.sha256(code.encode("utf-8")).hexdigest(),
        "doc_hash": doc_hash,
        **who,
    }
    try:
        found = decode_qr(code, [*own, *partners], now=rt.clock.now(), doc_hash=expected)
    except QrRejected as exc:
        _log(rt, EventTag.QR_REFUSED, tenant, actor, {**data, "reason": exc.reason})
        return QrCheck(False, {}, str(exc), exc.reason)
    c = found.claims
    key = "own" if found.kid in own_kids else "partner"
    _log(
        rt,
        EventTag.QR_VERIFIED,
        tenant,
        actor,
        {**data, "kid": found.kid.hex(), "key": key, "issuer": c.issuer},
    )
    return QrCheck(
        True,
        {
            "ok": True,
            "docHash": c.doc_hash.hex(),
            "signerIdHash": c.signer_id_hash.hex(),
            "iat": c.iat,
            "exp": c.exp,
            "expires_at": datetime.fromtimestamp(c.exp, UTC).isoformat(),
            "kid": found.kid.hex(),
            "issuer": c.issuer,
            "key": key,
        },
    )


def _log(rt: Runtime, tag: EventTag, tenant: str, actor: str, data: dict[str, Any]) -> None:
    with rt.db.transaction() as session:
        rt.audit.append(session, tag, tenant=tenant, actor=actor, data=data)
