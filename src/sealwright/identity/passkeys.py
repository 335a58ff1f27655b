"""Passkeys (WebAuthn) for signers and operators, on py_webauthn.

Two ceremonies, each in two halves around the browser's ``navigator.credentials`` call:

- registration: ``registration_options`` -> ``create()`` in the browser ->
  ``verify_registration`` -> a ``Passkey`` the caller stores with the person;
- authentication: ``authentication_options`` -> ``get()`` -> ``verify_authentication``
  -> the new signature counter the caller stores back on the passkey.

The caller keeps each ``Challenge.challenge`` server-side, bound to the person and the
ceremony, and consumes it on the first verification attempt whatever the outcome: that,
not this module, makes a response single use. The signature counter is a second line: a
response whose counter does not move forward (an authenticator cloned, or a response
replayed) is refused, unless the authenticator keeps no counter at all (both counts 0, as
synced passkeys do).

Policy (see docs/identity-factors.md): user verification (PIN or biometric) required by
default, which makes a passkey a multi-factor authenticator (NIST SP 800-63B); attestation
"none" -- we trust the key the person registered, not the maker of the device, so no
vendor certificates are needed or consulted; ES256, EdDSA and RS256 keys accepted.

Every failure raises ``PasskeyRejected``, an AuthenticationFailed that says nothing to the
user; its ``reason`` is for the audit ledger only.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sealwright.clock import Random, SystemRandom
from sealwright.errors import AuthenticationFailed

#: Ed25519, P-256 and RSA PKCS#1 v1.5 (Windows Hello): what passkey providers create.
ALGORITHMS: tuple[COSEAlgorithmIdentifier, ...] = (
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
#: 256 bits: WebAuthn asks for at least 16 random bytes.
CHALLENGE_BYTES = 32
#: A hint to the browser; the caller's own challenge lifetime is what is enforced.
TIMEOUT_MS = 180_000
#: A browser's credential JSON is a few kilobytes; refuse anything far bigger unparsed.
MAX_CREDENTIAL_JSON = 64 * 1024
#: WebAuthn §7.1 step 22 / §7.2: relying parties ignore credential ids longer than this.
MAX_CREDENTIAL_ID = 1023
#: WebAuthn §5.4.3: a user handle is 1 to 64 bytes.
MAX_USER_ID = 64
_MAX_REASON = 300
_SECURE_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class PasskeyRejected(AuthenticationFailed):
    """A passkey ceremony failed. Users see only "authentication failed" (the inherited
    message and code); ``reason`` says precisely why, for the audit ledger."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the passkeys are for. ``id`` is a domain (the passkey is scoped to it and its
    subdomains); ``origin`` is the exact scheme://host[:port] the pages are served from."""

    id: str
    name: str
    origin: str

    def __post_init__(self) -> None:
        if not self.id or not self.name:
            raise ValueError("relying party id and name must not be empty")
        parts = urlsplit(self.origin)
        host = (parts.hostname or "").lower()
        if parts.path or parts.query or parts.fragment or parts.username:
            raise ValueError("origin must be scheme://host[:port] only")
        secure = parts.scheme == "https" or (parts.scheme == "http" and host in _SECURE_LOCAL_HOSTS)
        if not secure:
            raise ValueError("origin must be https (or http on localhost)")
        if self.id != self.id.lower():
            # Browsers hash the lower-case domain: a mixed-case id would never match.
            raise ValueError("relying party id must be lower case")
        if host != self.id and not host.endswith("." + self.id):
            raise ValueError("relying party id must be the origin's host or a parent domain")


@dataclass(frozen=True, slots=True)
class Passkey:
    """A registered credential as the caller stores it. Only ``public_key`` is needed to
    verify; the rest decides policy (``user_verified``, ``backed_up``: a synced passkey)
    and helps the browser (``transports``). ``aaguid`` names the authenticator model as it
    claims (unattested, informational)."""

    credential_id: bytes
    public_key: bytes  # COSE_Key, as the authenticator sent it
    sign_count: int
    transports: tuple[str, ...]
    user_verified: bool
    aaguid: str
    backed_up: bool = False
    attestation_format: str = "none"


@dataclass(frozen=True, slots=True)
class Challenge:
    """``options_json`` goes to the browser (``PublicKeyCredential.parseCreationOptionsFromJSON``
    / ``parseRequestOptionsFromJSON``); ``challenge`` stays on the server until verified."""

    options_json: str
    challenge: bytes


def registration_options(
    rp: RelyingParty,
    *,
    user_id: bytes,
    user_name: str,
    display_name: str,
    exclude: Sequence[bytes] = (),
    require_user_verification: bool = True,
    random: Random | None = None,
) -> Challenge:
    """Options for ``navigator.credentials.create()``. ``user_id`` is an opaque handle (not
    an email address: authenticators may show it to anyone holding the device); ``exclude``
    lists the person's existing credential ids so the same authenticator is not added twice."""
    if not 1 <= len(user_id) <= MAX_USER_ID:
        raise ValueError(f"user_id must be 1 to {MAX_USER_ID} bytes")
    if not user_name:
        raise ValueError("user_name must not be empty")
    challenge = _new_challenge(random)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_id,
        user_name=user_name,
        user_display_name=display_name or user_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            # A discoverable credential is what makes it a passkey; a security key without
            # room for one still works.
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=_uv(require_user_verification),
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=bytes(c)) for c in exclude],
        supported_pub_key_algs=list(ALGORITHMS),
    )
    return Challenge(options_json=options_to_json(options), challenge=challenge)


def verify_registration(
    rp: RelyingParty,
    *,
    credential_json: str,
    challenge: bytes,
    require_user_verification: bool = True,
) -> Passkey:
    """Check a ``create()`` response against the challenge issued for it: type, challenge,
    origin, RP id hash, user presence (and verification), key algorithm and the attestation
    statement's own consistency. Returns the passkey to store."""
    _check_challenge(challenge)
    _check_size(credential_json)
    try:
        credential = parse_registration_credential_json(credential_json)
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_presence=True,
            require_user_verification=require_user_verification,
            supported_pub_key_algs=list(ALGORITHMS),
        )
    except Exception as exc:
        # Hostile input can surface any library exception from deep in CBOR, COSE or
        # certificate parsing; every one of them means "not a valid credential".
        raise PasskeyRejected(_reason("registration", exc)) from exc
    if len(verified.credential_id) > MAX_CREDENTIAL_ID:
        raise PasskeyRejected("registration: credential id longer than 1023 bytes")
    transports = tuple(t.value for t in credential.response.transports or ())
    return Passkey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        user_verified=verified.user_verified,
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
        attestation_format=AttestationFormat(verified.fmt).value,  # may arrive as a str
    )


def authentication_options(
    rp: RelyingParty,
    *,
    allow: Sequence[bytes],
    require_user_verification: bool = True,
    random: Random | None = None,
) -> Challenge:
    """Options for ``navigator.credentials.get()``, limited to the person's credentials
    (``allow``). An empty ``allow`` asks for any discoverable passkey of this RP: the
    caller must then find the passkey by the response's credential id."""
    challenge = _new_challenge(random)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=bytes(c)) for c in allow],
        user_verification=_uv(require_user_verification),
    )
    return Challenge(options_json=options_to_json(options), challenge=challenge)


def verify_authentication(
    rp: RelyingParty,
    *,
    credential_json: str,
    challenge: bytes,
    passkey: Passkey,
    require_user_verification: bool = True,
    user_id: bytes | None = None,
) -> int:
    """Check a ``get()`` response: it must come from ``passkey`` (same credential id, a
    signature by its key over the authenticator data and the client data), answer
    ``challenge`` on ``rp``'s origin and RP id, with the user present (and verified), and
    move the signature counter forward. Returns the new counter to store. With ``user_id``,
    a response whose user handle names someone else is refused as well."""
    _check_challenge(challenge)
    _check_size(credential_json)
    try:
        credential = parse_authentication_credential_json(credential_json)
    except Exception as exc:
        raise PasskeyRejected(_reason("authentication", exc)) from exc
    # py_webauthn verifies against whatever key it is given, so the binding of the response
    # to this passkey is checked here.
    if not hmac.compare_digest(credential.raw_id, passkey.credential_id):
        raise PasskeyRejected("authentication: credential is not the registered passkey")
    handle = credential.response.user_handle
    if user_id is not None and handle is not None and not hmac.compare_digest(handle, user_id):
        raise PasskeyRejected("authentication: user handle names another user")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            # 0 turns py_webauthn's own counter check off: it runs before the signature
            # check, and the audit reason should only blame the counter of a response whose
            # signature is genuine. The same rule is applied below.
            credential_current_sign_count=0,
            require_user_verification=require_user_verification,
        )
    except Exception as exc:
        raise PasskeyRejected(_reason("authentication", exc)) from exc
    new, stored = verified.new_sign_count, passkey.sign_count
    if (new or stored) and new <= stored:
        raise PasskeyRejected(
            f"authentication: signature counter {new} not above stored {stored}"
            " (cloned authenticator or replayed response)"
        )
    return new


def _uv(required: bool) -> UserVerificationRequirement:
    return (
        UserVerificationRequirement.REQUIRED if required else UserVerificationRequirement.PREFERRED
    )


def _new_challenge(random: Random | None) -> bytes:
    challenge = (random or SystemRandom()).token_bytes(CHALLENGE_BYTES)
    if len(challenge) != CHALLENGE_BYTES:
        raise ValueError("the random source returned the wrong number of bytes")
    return challenge


def _check_challenge(challenge: bytes) -> None:
    # An empty expected challenge is a caller bug that would make any replay match.
    if len(challenge) < 16:
        raise ValueError("challenge must be the one issued (at least 16 bytes)")


def _check_size(credential_json: str) -> None:
    if not isinstance(credential_json, str) or len(credential_json) > MAX_CREDENTIAL_JSON:
        raise PasskeyRejected("credential JSON missing or larger than 64 KiB")


def _reason(stage: str, exc: Exception) -> str:
    # Library messages quote client-supplied values (the origin): keep them on one line
    # and printable so an audit record cannot be forged or garbled through them.
    text = " ".join(f"{stage}: {type(exc).__name__}: {exc}".split())
    return "".join(c if c.isprintable() else "?" for c in text)[:_MAX_REASON]
