"""Sealwright's one exception tree.

    SealwrightError
    ├── ConfigurationError          settings that cannot work
    ├── NotFound                    the object does not exist (or the caller may not know it does)
    ├── Conflict                    the object is in a state that forbids the action
    │   └── InvalidTransition       an envelope/recipient state machine refused a move
    ├── ValidationError             a request is well-formed but its content is unacceptable
    │   └── PdfRejected             a document failed intake (reason code in ``.reason``)
    ├── AuthenticationFailed        opaque: credentials, OTPs, links, tokens -- never says why
    ├── StepUpRequired              a signer must verify again before signing (B6)
    ├── PermissionDenied            authenticated, but not allowed to touch this object/action
    ├── RateLimited                 too many attempts; ``.retry_after`` seconds
    ├── CryptoError                 a key, a ciphertext or a signature did not check out
    │   ├── DecryptionFailed        AEAD tag mismatch or unwrap failure
    │   └── ProofError              a Merkle proof or checkpoint did not verify
    ├── TimestampUnavailable        the timestamp authority failed; sealing is retried later
    ├── LedgerInconsistent          the stored log does not extend its last signed checkpoint
    ├── DeliveryFailed              an outbound message (email) was not accepted; ``.permanent``
    └── VerificationFailed          an evidence bundle did not verify (details in the report)

Adapters translate library exceptions into these with ``raise ... from``. Authentication
failures reach users as one opaque error; the precise reason goes to the audit ledger.
"""

from __future__ import annotations


class SealwrightError(Exception):
    """Base of every error Sealwright raises on purpose."""

    #: A stable, machine-readable code used in problem+json ``type`` URIs.
    code: str = "error"
    #: True when the unit of work must still commit before the error propagates (its audit
    #: event, an attempt counter): see ``storage.db.Database.transaction``.
    commit: bool = False


class ConfigurationError(SealwrightError):
    code = "configuration"


class NotFound(SealwrightError):
    code = "not-found"


class Conflict(SealwrightError):
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid-transition"


class ValidationError(SealwrightError):
    code = "validation"


class PdfRejected(ValidationError):
    """A document failed intake. ``reason`` is one of: ``empty``, ``too-large``,
    ``not-pdf``, ``malformed``, ``encrypted``."""

    code = "pdf-rejected"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class AuthenticationFailed(SealwrightError):
    """Deliberately uninformative: never subclass by reason, never put the reason in args."""

    code = "authentication-failed"

    def __init__(self) -> None:
        super().__init__("authentication failed")


class StepUpRequired(SealwrightError):
    """The signer's freshest verification is too old to sign with: they must verify again
    (services/signer_auth/step_up.py states the rule). Not an AuthenticationFailed: the
    signer is who they were; the answer is a "verify again" page, not the opaque one. The
    refusal's audit event is already in the unit of work, hence ``commit``."""

    code = "step-up-required"
    commit = True

    def __init__(self) -> None:
        super().__init__("verify again before signing")


class VerificationRequired(SealwrightError):
    """ "Sign" pressed while a required out-of-band channel (C) is unpassed. The refusal's
    audit event is in the unit of work, hence ``commit``; ``channels`` names what is left
    (not secret: the signer's own page lists them)."""

    code = "verification-required"
    commit = True

    def __init__(self, channels: tuple[str, ...]) -> None:
        super().__init__("complete these verification steps first: " + ", ".join(channels))
        self.channels = channels


class PermissionDenied(SealwrightError):
    code = "permission-denied"


class RateLimited(SealwrightError):
    code = "rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class CryptoError(SealwrightError):
    code = "crypto"


class DecryptionFailed(CryptoError):
    code = "decryption-failed"


class ProofError(CryptoError):
    code = "proof"


class TimestampUnavailable(SealwrightError):
    code = "timestamp-unavailable"


class LedgerInconsistent(SealwrightError):
    """The stored audit log does not extend the last checkpoint signed (changed, deleted or
    reordered events, or an older database restored): no new checkpoint is signed over it."""

    code = "ledger-inconsistent"


class VerificationFailed(SealwrightError):
    code = "verification-failed"


class DeliveryFailed(SealwrightError):
    """An outbound message was not handed over. ``permanent`` is true when the receiving
    side refused it for good (an SMTP 5xx reply), so retrying the same message is futile."""

    code = "delivery-failed"

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent
