"""Evidence export (A6): one deterministic zip per envelope, and the trust file (A7) an
auditor pins to verify it offline."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound
from sealwright.evidence.bundle import (
    BundleAssertion,
    BundleContents,
    EnvelopeSummary,
    LedgerEntry,
    SealedDocument,
    build_bundle,
)
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.keys.aead import decrypt_bytes
from sealwright.ledger.merkle import MerkleTree
from sealwright.ledger.note import NoteVerifier
from sealwright.services.envelopes import EnvelopeService, load_envelope, sealed_aad
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Envelope, VerificationAssertion


def export_bundle(
    rt: Runtime, envelope_id: str, *, actor: str, tenant_id: str | None = None
) -> bytes:
    """Build the bundle of a sealed envelope. The export itself is logged afterwards (it
    appears in later bundles, not in this one)."""
    with rt.db.transaction() as session:
        env = (
            load_envelope(session, envelope_id, tenant_id)
            if tenant_id
            else session.get(Envelope, envelope_id)
        )
        if env is None:
            raise NotFound("envelope not found")
        docs = EnvelopeService.documents(session, env.id)
        if env.seal_status != "sealed" or any(d.sealed_blob_key is None for d in docs):
            raise Conflict(
                f"envelope is {env.status} and its seal is {env.seal_status}; "
                "evidence is exported once it is sealed"
            )
        rows = list(rt.audit.envelope_events(session, env.id))
        checkpoint = rt.checkpoints.latest(session)
        if checkpoint is None or checkpoint.size <= rows[-1].idx:
            checkpoint = rt.checkpoints.publish(session)
        size = checkpoint.size
    # Witnesses are asked outside any transaction; a bundle is still exported without them
    # (and says so when verified with a required quorum).
    if rt.witnessing.configured:
        rt.witnessing.cosign(size)
    note = rt.witnessing.cosigned_note(size)
    with rt.db.transaction() as session:
        env = session.get(Envelope, envelope_id)
        assert env is not None
        docs = EnvelopeService.documents(session, env.id)
        tree = MerkleTree(rt.audit.leaf_hashes(session, size))
        rows = [r for r in rt.audit.envelope_events(session, env.id) if r.idx < size]
        entries = tuple(
            LedgerEntry(
                index=r.idx,
                event=json.loads(r.leaf),
                inclusion_proof=tuple(tree.inclusion_proof(r.idx)),
            )
            for r in rows
        )
        summary = EnvelopeSummary(
            id=env.id,
            tenant=env.tenant_id,
            title=env.title,
            status=env.status,
            created_at=env.created_at,
            completed_at=env.completed_at,
        )
        sealed_docs = tuple(
            SealedDocument(
                id=d.id,
                name=d.name,
                sha256=d.sha256,
                size=d.size,
                sealed_pdf=decrypt_bytes(
                    b"".join(rt.blobs.get(d.sealed_blob_key or "")),
                    keyring=rt.keyring,
                    aad=sealed_aad(d.id),
                ),
            )
            for d in docs
        )
        tenant = env.tenant_id
        assertions = _assertions(session, entries)
    signer = Ed25519ManifestSigner(
        rt.evidence_keys.private_key_for_current(), rt.evidence_keys.current.kid
    )
    certificates = tuple(
        c.public_bytes(Encoding.PEM).decode() for c in (rt.pki.signer.certificate, *rt.pki.chain)
    )
    data = build_bundle(
        BundleContents(
            envelope=summary,
            documents=sealed_docs,
            events=entries,
            checkpoint=note,
            jwks=rt.evidence_keys.public_jwks(),
            certificates_pem=certificates,
            assertions=assertions,
            assertion_jwks=rt.channel_keys.assertions.public_jwks(),
        ),
        signer,
        rt.clock.now(),
    )
    with rt.db.transaction() as session:
        rt.audit.append(
            session,
            EventTag.EVIDENCE_EXPORTED,
            tenant=tenant,
            envelope=envelope_id,
            actor=actor,
            data={"manifest_kid": signer.kid, "tree_size": tree.size},
        )
    return data


def trust_store(rt: Runtime) -> TrustStore:
    """Everything public an auditor pins: checkpoint verifier keys, manifest keys (current
    and retired), the PDF seal root and the TSA root."""
    return TrustStore(
        log_origin=rt.checkpoints.origin,
        checkpoint_keys=tuple(
            NoteVerifier.from_public_key(rt.checkpoints.origin, k.public_key)
            for k in rt.checkpoint_keys.keys
        ),
        manifest_keys=tuple(
            ManifestKey.from_jwk(jwk) for jwk in rt.evidence_keys.public_jwks()["keys"]
        ),
        pdf_roots=(rt.pki.ca_pem.decode(),),
        tsa_roots=tuple(c.public_bytes(Encoding.PEM).decode() for c in rt.tsa.trust_roots),
        assertion_keys=_keys(rt.channel_keys.assertions.public_jwks()),
        # Own QR keys and the configured partners' (services/qr_partners.py): the codes
        # the online verifier accepts are the codes an offline verifier accepts.
        qr_keys=_keys(rt.channel_keys.qr.public_jwks()) + _partner_keys(rt),
    )


def _keys(jwks: dict[str, list[dict[str, str]]]) -> tuple[ManifestKey, ...]:
    return tuple(ManifestKey.from_jwk(jwk) for jwk in jwks["keys"])


def _partner_keys(rt: Runtime) -> tuple[ManifestKey, ...]:
    from sealwright.keys.signing import jwk_thumbprint
    from sealwright.services.qr_partners import load_partner_keys

    own = {k.public_key.public_bytes_raw() for k in rt.channel_keys.qr.keys}
    return tuple(
        ManifestKey(kid=f"partner-{jwk_thumbprint(k)}", public_key=k.public_bytes_raw())
        for k in load_partner_keys(rt.settings)
        if k.public_bytes_raw() not in own
    )


def _assertions(session: Session, entries: tuple[LedgerEntry, ...]) -> tuple[BundleAssertion, ...]:
    """The envelope's assertions whose ``system:assertion:issued`` event is in the bundle,
    in the order of those events (an assertion issued after the checkpoint waits for the
    next export, with its event)."""
    order = {
        e.event["data"]["assertion"]: e.index
        for e in entries
        if e.event.get("tag") == EventTag.ASSERTION_ISSUED
    }
    if not order:
        return ()
    rows = session.execute(
        select(VerificationAssertion).where(VerificationAssertion.id.in_(list(order)))
    ).scalars()
    return tuple(
        BundleAssertion(channel=r.channel, compact=r.compact)
        for r in sorted(rows, key=lambda r: order[r.id])
    )
