"""Evidence bundles: build one per envelope, verify it offline (docs/evidence-bundle.md)."""

from sealwright.evidence.bundle import (
    BundleContents,
    EnvelopeSummary,
    LedgerEntry,
    SealedDocument,
    build_bundle,
)
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner, ManifestSigner
from sealwright.evidence.report import CHECK_NAMES, Check, VerificationReport
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.evidence.verify import verify_bundle

__all__ = [
    "CHECK_NAMES",
    "BundleContents",
    "Check",
    "Ed25519ManifestSigner",
    "EnvelopeSummary",
    "LedgerEntry",
    "ManifestKey",
    "ManifestSigner",
    "SealedDocument",
    "TrustStore",
    "VerificationReport",
    "build_bundle",
    "verify_bundle",
]
