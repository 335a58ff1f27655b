"""A small, real world for evidence-bundle tests, generated fresh (no key files on disk).

* a PKI: a document-seal CA and seal certificate, a separate TSA CA and TSA certificate;
* a PDF made with reportlab and sealed with pyHanko (PAdES, with an RFC 3161 signature
  timestamp from pyHanko's DummyTimeStamper using our TSA certificate);
* a ledger holding the events of two envelopes and one envelope-less event, a Merkle
  tree over them and a checkpoint signed by the log key;
* the bundle contents of envelope A, a manifest signer and the matching trust store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers, timestamps
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.pdfgen import canvas

from sealwright.clock import rfc3339
from sealwright.evidence.bundle import (
    BundleContents,
    EnvelopeSummary,
    LedgerEntry,
    SealedDocument,
    build_bundle,
)
from sealwright.evidence.container import read_container, write_container
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.ledger.canonical import canonicalize, parse_canonical
from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from sealwright.ledger.events import event_leaf_hash
from sealwright.ledger.merkle import MerkleTree

ORIGIN = "sealwright.test/log"
TENANT = "tenant-1"
ENVELOPE_A = "env-a"
ENVELOPE_B = "env-b"
DOC_ID = "doc-1"
T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
EXPORTED_AT = datetime(2025, 3, 2, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Credential:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sealwright Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _usage(*, sign: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(cn: str) -> Credential:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(key, cert)


def make_leaf(ca: Credential, cn: str, *, tsa: bool = False) -> Credential:
    # pyHanko's DummyTimeStamper signs with RSA only.
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if tsa
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if tsa:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return Credential(key, builder.sign(ca.key, hashes.SHA256()))


@dataclass(frozen=True)
class Pki:
    ca: Credential
    seal: Credential
    tsa_ca: Credential
    tsa: Credential


def make_pki() -> Pki:
    ca, tsa_ca = make_ca("Test Seal CA"), make_ca("Test TSA CA")
    return Pki(
        ca, make_leaf(ca, "Test Document Seal"), tsa_ca, make_leaf(tsa_ca, "Test TSA", tsa=True)
    )


def make_pdf(text: str = "Contract: the parties agree.") -> bytes:
    out = BytesIO()
    page = canvas.Canvas(out, invariant=1)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def _asn1(cert: x509.Certificate) -> Any:
    return translate_pyca_cryptography_cert_to_asn1(cert)


def _store(cert: x509.Certificate) -> Any:
    return SimpleCertificateStore.from_certs([_asn1(cert)])  # type: ignore[no-untyped-call]


def seal_pdf(
    pdf: bytes, pki: Pki, *, timestamp: bool = True, field: str = "SealwrightSeal"
) -> bytes:
    signer = signers.SimpleSigner(
        signing_cert=_asn1(pki.seal.cert),
        signing_key=translate_pyca_cryptography_key_to_asn1(pki.seal.key),
        cert_registry=_store(pki.ca.cert),
    )
    stamper = timestamps.DummyTimeStamper(
        tsa_cert=_asn1(pki.tsa.cert),
        tsa_key=translate_pyca_cryptography_key_to_asn1(pki.tsa.key),
        certs_to_embed=_store(pki.tsa_ca.cert),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES
    )
    pdf_signer = signers.PdfSigner(meta, signer, timestamper=stamper if timestamp else None)
    out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
    return bytes(out.getvalue())


# -- the ledger ---------------------------------------------------------------------------


@dataclass
class Ledger:
    """An append-only list of events with the per-envelope seq/prev bookkeeping."""

    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    clock: datetime = T0

    def append(
        self,
        tag: str,
        envelope: str | None,
        data: dict[str, Any] | None = None,
        *,
        tenant: str = TENANT,
    ) -> int:
        own = [e for e in self.events if envelope is not None and e["envelope"] == envelope]
        self.clock += timedelta(seconds=5)
        self.events.append(
            {
                "v": 1,
                "id": uuid.uuid4().hex,
                "tag": tag,
                "tenant": tenant,
                "envelope": envelope,
                "seq": None if envelope is None else len(own),
                "prev": None if not own else event_leaf_hash(own[-1]).hex(),
                "time": rfc3339(self.clock),
                "actor": "system",
                "data": data or {},
            }
        )
        return len(self.events) - 1

    def tree(self) -> MerkleTree:
        return MerkleTree([event_leaf_hash(e) for e in self.events])


def make_ledger(original: bytes, sealed: bytes, *, complete: bool = True) -> Ledger:
    ledger = Ledger()
    ledger.append("api:envelope:created", ENVELOPE_A)
    ledger.append("api:envelope:created", ENVELOPE_B)
    ledger.append(
        "api:document:added",
        ENVELOPE_A,
        {"document": DOC_ID, "sha256": hashlib.sha256(original).hexdigest(), "size": len(original)},
    )
    ledger.append("api:token:issued", None, {"client": "c1"})
    ledger.append("signer:otp:passed", ENVELOPE_A, {"recipient": "r1"})
    ledger.append("signer:otp:failed", ENVELOPE_B, {"recipient": "r9"})
    ledger.append("signer:document:signed", ENVELOPE_A, {"recipient": "r1"})
    ledger.append(
        "system:document:sealed",
        ENVELOPE_A,
        {"document": DOC_ID, "sha256": hashlib.sha256(sealed).hexdigest()},
    )
    if complete:
        ledger.append("system:envelope:completed", ENVELOPE_A)
    ledger.append("api:envelope:created", ENVELOPE_B, tenant=TENANT)
    return ledger


@dataclass(frozen=True)
class World:
    pki: Pki
    original_pdf: bytes
    sealed_pdf: bytes
    ledger: Ledger
    log_signer: NoteSigner
    manifest_signer: Ed25519ManifestSigner
    contents: BundleContents
    trust: TrustStore
    bundle: bytes


def contents_for(
    ledger: Ledger,
    *,
    envelope: str,
    documents: tuple[SealedDocument, ...],
    log_signer: NoteSigner,
    jwks: dict[str, Any],
    pki: Pki,
    pick: Callable[[dict[str, Any]], bool] | None = None,
) -> BundleContents:
    """Bundle contents for ``envelope``: its events (or those ``pick`` selects), their
    proofs and a checkpoint over the whole ledger."""
    tree = ledger.tree()
    checkpoint = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root), [log_signer])
    chosen = pick or (lambda e: e["envelope"] == envelope)
    entries = tuple(
        LedgerEntry(i, e, tuple(tree.inclusion_proof(i)))
        for i, e in enumerate(ledger.events)
        if chosen(e)
    )
    return BundleContents(
        envelope=EnvelopeSummary(
            id=envelope,
            tenant=TENANT,
            title="Supply agreement",
            status="completed",
            created_at=T0,
            completed_at=T0 + timedelta(minutes=5),
        ),
        documents=documents,
        events=entries,
        checkpoint=checkpoint,
        jwks=jwks,
        certificates_pem=(pki.ca.pem, pki.seal.pem, pki.tsa_ca.pem, pki.tsa.pem),
    )


def make_trust(
    pki: Pki, log_signer: NoteSigner, manifest_signer: Ed25519ManifestSigner, **changes: Any
) -> TrustStore:
    trust = TrustStore(
        log_origin=ORIGIN,
        checkpoint_keys=(log_signer.verifier,),
        manifest_keys=(
            ManifestKey(
                manifest_signer.kid, manifest_signer.private_key.public_key().public_bytes_raw()
            ),
        ),
        pdf_roots=(pki.ca.pem,),
        tsa_roots=(pki.tsa_ca.pem,),
    )
    return dataclasses.replace(trust, **changes)


def make_world(pki: Pki, original_pdf: bytes, sealed_pdf: bytes) -> World:
    ledger = make_ledger(original_pdf, sealed_pdf)
    log_signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    manifest_signer = Ed25519ManifestSigner(Ed25519PrivateKey.generate(), "evidence-2025")
    document = SealedDocument(
        id=DOC_ID,
        name="agreement.pdf",
        sha256=hashlib.sha256(original_pdf).hexdigest(),
        size=len(original_pdf),
        sealed_pdf=sealed_pdf,
    )
    contents = contents_for(
        ledger,
        envelope=ENVELOPE_A,
        documents=(document,),
        log_signer=log_signer,
        jwks={"keys": [manifest_signer.public_jwk()]},
        pki=pki,
    )
    return World(
        pki=pki,
        original_pdf=original_pdf,
        sealed_pdf=sealed_pdf,
        ledger=ledger,
        log_signer=log_signer,
        manifest_signer=manifest_signer,
        contents=contents,
        trust=make_trust(pki, log_signer, manifest_signer),
        bundle=build_bundle(contents, manifest_signer, EXPORTED_AT),
    )


# -- tampering ----------------------------------------------------------------------------


def recontain(bundle: bytes, changes: dict[str, bytes | None]) -> bytes:
    """Change entries and rebuild a canonical container, *without* re-signing anything:
    what an attacker without the manifest key can do."""
    entries: dict[str, bytes] = dict(read_container(bundle))
    for name, data in changes.items():
        if data is None:
            entries.pop(name, None)
        else:
            entries[name] = data
    return write_container(entries)


def resign(
    bundle: bytes,
    signer: Ed25519ManifestSigner,
    changes: dict[str, bytes | None],
    *,
    manifest_edit: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    """Change entries, then fix the manifest's file and sealed-document hashes and sign it
    again with the real key: what a compromised database feeding an honest exporter
    produces. Only the ledger and PDF signatures can catch this."""
    entries: dict[str, bytes] = dict(read_container(bundle))
    for name, data in changes.items():
        if data is None:
            entries.pop(name, None)
        else:
            entries[name] = data
    manifest = parse_canonical(entries["manifest.json"])
    manifest["files"] = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in sorted(entries.items())
        if name not in ("manifest.json", "manifest.jws")
    }
    for doc in manifest["documents"]:
        if doc["sealed_path"] in entries:
            doc["sealed_sha256"] = hashlib.sha256(entries[doc["sealed_path"]]).hexdigest()
    if manifest_edit is not None:
        manifest_edit(manifest)
    entries["manifest.json"] = canonicalize(manifest)
    entries["manifest.jws"] = signer.sign(entries["manifest.json"]).encode("ascii")
    return write_container(entries)
