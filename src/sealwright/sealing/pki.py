"""The local PKI that seals documents: a root CA, a document-sealing certificate, a TSA certificate.

Layout of the directory (``0o700``; private keys ``0o600``, refused if group/others can read
them, the way ``ssh`` treats ``~/.ssh``)::

    root-ca.key.pem          root-ca.cert.pem
    document-seal.key.pem    document-seal.cert.pem
    tsa.key.pem              tsa.cert.pem

All keys are ECDSA P-256 with SHA-256 signatures: pyHanko, poppler's ``pdfsig`` (NSS) and
Acrobat all validate them, and they keep the signature container small. The root never signs
documents; it only issues the two leaves and the CRL that is embedded for long-term validation.

Files are created once, under an exclusive lock, each written to a temporary name and renamed
into place; the root certificate is written last, so its presence marks a complete PKI. A
directory holding some files but not the root certificate is refused rather than silently
regenerated, because a new root would orphan every document sealed so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sealwright.clock import Clock
from sealwright.errors import ConfigurationError
from sealwright.keys import files

ROOT_VALIDITY = timedelta(days=20 * 365)
LEAF_VALIDITY = timedelta(days=5 * 365)
#: A leaf this close to expiry is reissued (same root, new key) by ``load_or_create``.
LEAF_RENEWAL_MARGIN = timedelta(days=30)
#: Certificates start a little in the past so verifiers with a slow clock accept them.
BACKDATE = timedelta(minutes=5)
#: How long an embedded CRL claims to be fresh.
CRL_VALIDITY = timedelta(days=7)

# RFC 9336. emailProtection sits next to it because NSS (and so pdfsig, Firefox, Thunderbird)
# checks PDF signers under its "email signer" usage, which demands that purpose when an EKU
# extension is present.
_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_CERT_MODE = 0o644
_DIRECTORY_LABEL = "PKI directory"
_KEY_LABEL = "private key"
_ROOT, _SEAL, _TSA = "root-ca", "document-seal", "tsa"


@dataclass(frozen=True)
class Credential:
    """A private key and the certificate that binds it."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


class LocalPki:
    """The three credentials of a local installation.

    Build with :meth:`load_or_create` (kept on disk) or :meth:`generate` (memory only).
    """

    def __init__(self, *, root: Credential, document_seal: Credential, tsa: Credential) -> None:
        self.root = root
        self.document_seal = document_seal
        self.tsa = tsa

    @classmethod
    def load_or_create(
        cls, directory: Path, *, clock: Clock, org_name: str = "Sealwright"
    ) -> LocalPki:
        """Load the PKI kept in ``directory``, creating it on first use.

        Leaves that have expired or will within :data:`LEAF_RENEWAL_MARGIN` are reissued under
        the existing root; documents sealed earlier keep validating, since they embed their
        own certificate and the root is unchanged.
        """
        files.ensure_private_directory(directory, label=_DIRECTORY_LABEL)
        now = clock.now()
        # Two workers starting at once must not each create a root.
        with files.directory_lock(directory):
            if not (directory / f"{_ROOT}.cert.pem").exists():
                leftovers = sorted(p.name for p in directory.glob("*.pem"))
                if leftovers:
                    raise ConfigurationError(
                        f"incomplete local PKI in {directory} (found {', '.join(leftovers)} "
                        "but no root-ca.cert.pem); move the directory aside to create a new one"
                    )
                return cls._create(directory, now=now, org_name=org_name)
            pki = cls._load(directory)
            return pki._renew_leaves(directory, now=now, org_name=org_name)

    @classmethod
    def generate(cls, *, clock: Clock, org_name: str = "Sealwright") -> LocalPki:
        """A new PKI in memory only: for tests and throw-away demos."""
        return cls._generate(now=clock.now(), org_name=org_name)

    @classmethod
    def _generate(cls, *, now: datetime, org_name: str) -> LocalPki:
        root = _issue_root(now=now, org_name=org_name)
        return cls(
            root=root,
            document_seal=_issue_leaf(root, now=now, org_name=org_name, kind=_SEAL),
            tsa=_issue_leaf(root, now=now, org_name=org_name, kind=_TSA),
        )

    # -- what other modules need -------------------------------------------------------------

    @property
    def ca_pem(self) -> bytes:
        """The root certificate that PDF verifiers must trust (``pdf_roots`` of trust.json)."""
        return self.root.certificate_pem

    @property
    def tsa_root_pem(self) -> bytes:
        """The root of the TSA chain (``tsa_roots`` of trust.json): the same local root."""
        return self.root.certificate_pem

    @property
    def signer(self) -> Credential:
        return self.document_seal

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuers of the sealing certificate, up to and including the root."""
        return (self.root.certificate,)

    @property
    def trust_roots(self) -> tuple[x509.Certificate, ...]:
        return (self.root.certificate,)

    def revocation_lists(self, now: datetime) -> tuple[x509.CertificateRevocationList, ...]:
        """A fresh, empty CRL from the root: the revocation evidence embedded for PAdES B-LT.

        Nothing is ever revoked in place here -- a compromised local PKI is replaced, not
        patched -- so the CRL states "nothing revoked as of ``now``" with the root's signature.
        """
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.certificate.subject)
            .last_update(now - BACKDATE)
            .next_update(now + CRL_VALIDITY)
            # Increasing with time, as CRL numbers must be; microseconds keep two seals in
            # the same second apart.
            .add_extension(x509.CRLNumber(int(now.timestamp() * 1_000_000)), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.root.private_key.public_key()
                ),
                critical=False,
            )
        )
        return (builder.sign(self.root.private_key, hashes.SHA256()),)

    # -- creation and loading ----------------------------------------------------------------

    @classmethod
    def _create(cls, directory: Path, *, now: datetime, org_name: str) -> LocalPki:
        pki = cls._generate(now=now, org_name=org_name)
        root = pki.root
        # Root certificate last: its file is the "PKI complete" marker.
        for name, credential in ((_SEAL, pki.document_seal), (_TSA, pki.tsa)):
            _write_credential(directory, name, credential)
        files.create_private_file(directory / f"{_ROOT}.key.pem", _key_pem(root.private_key))
        files.create_private_file(
            directory / f"{_ROOT}.cert.pem", root.certificate_pem, mode=_CERT_MODE
        )
        return pki

    @classmethod
    def _load(cls, directory: Path) -> LocalPki:
        root = _read_credential(directory, _ROOT)
        pki = cls(
            root=root,
            document_seal=_read_credential(directory, _SEAL),
            tsa=_read_credential(directory, _TSA),
        )
        for name, leaf in ((_SEAL, pki.document_seal), (_TSA, pki.tsa)):
            try:
                leaf.certificate.verify_directly_issued_by(root.certificate)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise ConfigurationError(
                    f"{name}.cert.pem in {directory} was not issued by root-ca.cert.pem"
                ) from exc
        return pki

    def _renew_leaves(self, directory: Path, *, now: datetime, org_name: str) -> LocalPki:
        renewed: dict[str, Credential] = {}
        for name, leaf in ((_SEAL, self.document_seal), (_TSA, self.tsa)):
            if leaf.certificate.not_valid_after_utc - now < LEAF_RENEWAL_MARGIN:
                renewed[name] = _issue_leaf(self.root, now=now, org_name=org_name, kind=name)
                # A crash between the key and the certificate replacement leaves a pair that
                # does not match; loading then refuses it (never seals with it) and says so.
                _write_credential(directory, name, renewed[name], replace=True)
        if not renewed:
            return self
        return LocalPki(
            root=self.root,
            document_seal=renewed.get(_SEAL, self.document_seal),
            tsa=renewed.get(_TSA, self.tsa),
        )


# -- certificate profiles --------------------------------------------------------------------


def _name(org_name: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue_root(*, now: datetime, org_name: str) -> Credential:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(org_name, f"{org_name} Local Root CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(certificate=certificate, private_key=key)


def _issue_leaf(root: Credential, *, now: datetime, org_name: str, kind: str) -> Credential:
    key = ec.generate_private_key(ec.SECP256R1())
    if kind == _SEAL:
        common_name = f"{org_name} Document Seal"
        usage = _key_usage(digital_signature=True, content_commitment=True)
        purposes = x509.ExtendedKeyUsage([_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION])
        purposes_critical = False
    else:
        common_name = f"{org_name} Timestamp Authority"
        usage = _key_usage(digital_signature=True, content_commitment=True)
        # RFC 3161 §2.3: exactly one purpose, id-kp-timeStamping, and the extension critical.
        purposes = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
        purposes_critical = True
    not_after = min(now + LEAF_VALIDITY, root.certificate.not_valid_after_utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(org_name, common_name))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(purposes, critical=purposes_critical)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.private_key.public_key()),
            critical=False,
        )
        .sign(root.private_key, hashes.SHA256())
    )
    return Credential(certificate=certificate, private_key=key)


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


# -- files -----------------------------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted on purpose: the directory's permissions are the protection, as for an ssh
    # host key. Deployments that need more put the sealing key in a KMS/HSM adapter instead.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_credential(
    directory: Path, name: str, credential: Credential, *, replace: bool = False
) -> None:
    # Without ``replace`` a hard link puts each file in place, so none is silently overwritten.
    write = files.replace_private_file if replace else files.create_private_file
    write(directory / f"{name}.key.pem", _key_pem(credential.private_key))
    write(directory / f"{name}.cert.pem", credential.certificate_pem, mode=_CERT_MODE)


def _read_credential(directory: Path, name: str) -> Credential:
    key_path = directory / f"{name}.key.pem"
    cert_path = directory / f"{name}.cert.pem"
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read certificate {cert_path}: {exc}") from exc
    try:
        pem = files.read_private_file(key_path, label=_KEY_LABEL)
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot read private key {key_path}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{key_path} is not an ECDSA private key")
    if key.public_key() != certificate.public_key():
        raise ConfigurationError(f"{key_path} does not match {cert_path}")
    return Credential(certificate=certificate, private_key=key)
