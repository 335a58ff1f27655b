"""Certificate profiles of the local PKI (in memory; files are tested in integration)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from sealwright.clock import FixedClock
from sealwright.sealing.pki import LocalPki

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def extension(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> Any:
    return certificate.extensions.get_extension_for_oid(oid)


def test_root_is_a_ca_that_only_issues(session_pki: LocalPki) -> None:
    root = session_pki.root.certificate
    constraints = extension(root, ExtensionOID.BASIC_CONSTRAINTS)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = extension(root, ExtensionOID.KEY_USAGE).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert not usage.digital_signature
    assert root.subject == root.issuer
    assert isinstance(session_pki.root.private_key, ec.EllipticCurvePrivateKey)
    assert session_pki.root.private_key.curve.name == "secp256r1"


def test_document_seal_certificate_is_for_signing_documents(session_pki: LocalPki) -> None:
    seal = session_pki.signer.certificate
    assert session_pki.signer is session_pki.document_seal
    seal.verify_directly_issued_by(session_pki.root.certificate)
    assert not extension(seal, ExtensionOID.BASIC_CONSTRAINTS).value.ca
    usage = extension(seal, ExtensionOID.KEY_USAGE)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.content_commitment  # a.k.a. nonRepudiation
    purposes = extension(seal, ExtensionOID.EXTENDED_KEY_USAGE).value
    assert set(purposes) == {DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION}


def test_tsa_certificate_has_only_the_critical_time_stamping_purpose(
    session_pki: LocalPki,
) -> None:
    tsa = session_pki.tsa.certificate
    tsa.verify_directly_issued_by(session_pki.root.certificate)
    purposes = extension(tsa, ExtensionOID.EXTENDED_KEY_USAGE)
    assert purposes.critical
    assert list(purposes.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_trust_file_pems_are_the_root(session_pki: LocalPki) -> None:
    root = session_pki.root.certificate
    assert x509.load_pem_x509_certificate(session_pki.ca_pem) == root
    assert x509.load_pem_x509_certificate(session_pki.tsa_root_pem) == root
    assert session_pki.chain == (root,)
    assert session_pki.trust_roots == (root,)


def test_revocation_list_is_fresh_empty_and_signed_by_the_root(
    session_pki: LocalPki, clock: FixedClock
) -> None:
    (crl,) = session_pki.revocation_lists(clock.now())
    root = session_pki.root.certificate
    assert crl.issuer == root.subject
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert len(crl) == 0
    assert crl.last_update_utc <= clock.now() < crl.next_update_utc  # type: ignore[operator]


def test_validity_follows_the_injected_clock(clock: FixedClock) -> None:
    pki = LocalPki.generate(clock=clock, org_name="Example Org")
    for credential in (pki.root, pki.document_seal, pki.tsa):
        certificate = credential.certificate
        assert certificate.not_valid_before_utc <= clock.now()
        assert clock.now() - certificate.not_valid_before_utc < timedelta(hours=1)
        assert "Example Org" in certificate.subject.rfc4514_string()
    assert pki.document_seal.certificate.not_valid_after_utc > clock.now() + timedelta(days=4 * 365)
