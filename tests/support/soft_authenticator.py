"""A FIDO2 / WebAuthn authenticator in software, together with the browser half around it.

It does what a platform authenticator and the browser do for a relying party's page:

- ``create(options_json, origin=...)`` takes the JSON of ``PublicKeyCredentialCreationOptions``
  (as ``passkeys.registration_options`` emits it), makes a P-256 key pair, and returns the
  ``PublicKeyCredential`` a browser's ``navigator.credentials.create()`` yields, serialised
  like its ``toJSON()``: base64url fields, ``response.clientDataJSON``,
  ``response.attestationObject`` (CBOR: fmt "none", empty attStmt, authData with the
  attested credential data and the COSE key), ``transports``, ``clientExtensionResults``.
- ``get(options_json, origin=...)`` takes ``PublicKeyCredentialRequestOptions`` JSON, picks
  one of its credentials, advances its signature counter and returns the assertion:
  ``authenticatorData``, an ES256 ``signature`` over authData || SHA-256(clientDataJSON),
  ``userHandle``.

Nothing is mocked: the bytes are the ones WebAuthn Level 3 §6.1 (authenticator data),
§6.5 (attestation object), §5.8.1 (client data) and CTAP2 canonical CBOR define, so
py_webauthn verifies them exactly as it verifies a browser's. Unlike a browser, it lets a
test choose the origin and RP id it claims and whether the user was verified -- which is
how the tests play a phishing page, a modified client or a weaker authenticator. ``clone``
copies keys and counters, like an extracted authenticator would.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Authenticator data flags (WebAuthn §6.1).
UP = 0x01  # user present
UV = 0x04  # user verified
BE = 0x08  # backup eligible
BS = 0x10  # backed up
AT = 0x40  # attested credential data included

ES256 = -7
#: An AAGUID of our own (random, fixed): it identifies the model, never the device.
SOFT_AAGUID = bytes.fromhex("5eabf1f2a1c94d8e9f3b7a6c0d2e4f81")


class NotAllowedError(Exception):
    """What the browser raises when no credential or algorithm fits the options."""


class InvalidStateError(Exception):
    """What the browser raises when an excluded credential lives on this authenticator."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Credential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int


class SoftAuthenticator:
    """One authenticator (think: one phone or one security key) holding any number of
    discoverable ES256 credentials.

    ``user_verification``: whether it verifies the user (PIN / biometric) and sets UV;
    ``counter_step``: how much the signature counter grows per assertion (0 = a counter-less
    authenticator, as synced passkeys are); ``backup_eligible``/``backed_up``: the BE/BS
    flags of a synced passkey; ``credential_id_bytes``: the length of the ids it makes.
    """

    def __init__(
        self,
        *,
        aaguid: bytes = SOFT_AAGUID,
        user_verification: bool = True,
        counter_step: int = 1,
        transports: tuple[str, ...] = ("internal", "hybrid"),
        backup_eligible: bool = False,
        backed_up: bool = False,
        attachment: str = "platform",
        credential_id_bytes: int = 32,
    ) -> None:
        if len(aaguid) != 16:
            raise ValueError("an AAGUID is 16 bytes")
        self.aaguid = aaguid
        self.user_verification = user_verification
        self.counter_step = counter_step
        self.transports = transports
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.attachment = attachment
        self.credential_id_bytes = credential_id_bytes
        self._credentials: dict[bytes, _Credential] = {}

    # -- the two ceremonies ------------------------------------------------------------

    def create(
        self,
        options_json: str | dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        user_verified: bool | None = None,
    ) -> str:
        """``navigator.credentials.create({publicKey: options})`` on a page at ``origin``.
        ``rp_id`` overrides the options' ``rp.id`` (a lying client); ``user_verified``
        overrides the authenticator's UV capability for this one call."""
        options = _load(options_json)
        rp_id = rp_id if rp_id is not None else options["rp"]["id"]
        if not any(p.get("alg") == ES256 for p in options.get("pubKeyCredParams", [])):
            raise NotAllowedError("ES256 not among pubKeyCredParams")
        for descriptor in options.get("excludeCredentials", []):
            known = self._credentials.get(unb64url(descriptor["id"]))
            if known is not None and known.rp_id == rp_id:
                raise InvalidStateError("an excluded credential is on this authenticator")

        credential = _Credential(
            credential_id=os.urandom(self.credential_id_bytes),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id,
            user_handle=unb64url(options["user"]["id"]),
            sign_count=0,
        )
        self._credentials[credential.credential_id] = credential

        cose_key = cose_es256(credential.private_key.public_key())
        attested = (
            self.aaguid
            + len(credential.credential_id).to_bytes(2, "big")
            + credential.credential_id
            + cose_key
        )
        auth_data = self._auth_data(rp_id, credential.sign_count, user_verified, AT) + attested
        attestation_object = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": auth_data}, canonical=True
        )
        client_data = client_data_json("webauthn.create", options["challenge"], origin)
        spki = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return json.dumps(
            {
                "id": b64url(credential.credential_id),
                "rawId": b64url(credential.credential_id),
                "type": "public-key",
                "authenticatorAttachment": self.attachment,
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation_object),
                    "authenticatorData": b64url(auth_data),
                    "transports": list(self.transports),
                    "publicKey": b64url(spki),
                    "publicKeyAlgorithm": ES256,
                },
                "clientExtensionResults": {},
            }
        )

    def get(
        self,
        options_json: str | dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        user_verified: bool | None = None,
        credential_id: bytes | None = None,
    ) -> str:
        """``navigator.credentials.get({publicKey: options})`` on a page at ``origin``.
        Uses the first allowed credential it holds for the RP (or ``credential_id``);
        ``rp_id`` and ``user_verified`` override what the authenticator data claims."""
        options = _load(options_json)
        # The credential is looked up under the RP it was made for; ``rp_id`` only changes
        # the RP id hash the authenticator data claims.
        credential = self._pick(options, options["rpId"], credential_id)
        claimed = rp_id if rp_id is not None else options["rpId"]
        credential.sign_count += self.counter_step
        auth_data = self._auth_data(claimed, credential.sign_count, user_verified, 0)
        client_data = client_data_json("webauthn.get", options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(credential.credential_id),
                "rawId": b64url(credential.credential_id),
                "type": "public-key",
                "authenticatorAttachment": self.attachment,
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(credential.user_handle),
                },
                "clientExtensionResults": {},
            }
        )

    # -- test levers -------------------------------------------------------------------

    def clone(self) -> SoftAuthenticator:
        """A copy with the same keys and counters, as if the secrets had been extracted."""
        twin = copy.copy(self)
        twin._credentials = {
            cid: _Credential(c.credential_id, c.private_key, c.rp_id, c.user_handle, c.sign_count)
            for cid, c in self._credentials.items()
        }
        return twin

    def sign_count(self, credential_id: bytes) -> int:
        return self._credentials[credential_id].sign_count

    @property
    def credential_ids(self) -> list[bytes]:
        return list(self._credentials)

    # -- internals ---------------------------------------------------------------------

    def _pick(
        self, options: dict[str, Any], rp_id: str, credential_id: bytes | None
    ) -> _Credential:
        allowed = [unb64url(d["id"]) for d in options.get("allowCredentials", [])]
        candidates = [credential_id] if credential_id is not None else allowed
        if not candidates:  # discoverable credential flow: any of ours for this RP
            candidates = [cid for cid, c in self._credentials.items() if c.rp_id == rp_id]
        for cid in candidates:
            found = self._credentials.get(cid)
            if found is not None and found.rp_id == rp_id:
                return found
        raise NotAllowedError("no credential for this relying party on this authenticator")

    def _auth_data(
        self, rp_id: str, sign_count: int, user_verified: bool | None, extra_flags: int
    ) -> bytes:
        uv = self.user_verification if user_verified is None else user_verified
        flags = UP | extra_flags
        flags |= UV if uv else 0
        flags |= BE if self.backup_eligible else 0
        flags |= BS if self.backed_up else 0
        return (
            hashlib.sha256(rp_id.encode("utf-8")).digest()
            + bytes([flags])
            + sign_count.to_bytes(4, "big")
        )


def cose_es256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 9053 / 8152 COSE_Key of an EC2 P-256 key, in CTAP2 canonical CBOR."""
    numbers = public_key.public_numbers()
    return cbor2.dumps(
        {
            1: 2,  # kty: EC2
            3: ES256,  # alg
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        },
        canonical=True,
    )


def client_data_json(kind: str, challenge_b64url: str, origin: str) -> bytes:
    """CollectedClientData as browsers serialise it (WebAuthn §5.8.1.1: compact JSON,
    ``type``, ``challenge``, ``origin``, ``crossOrigin`` in that order)."""
    return json.dumps(
        {"type": kind, "challenge": challenge_b64url, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode("utf-8")


def _load(options_json: str | dict[str, Any]) -> dict[str, Any]:
    options = json.loads(options_json) if isinstance(options_json, str) else options_json
    if not isinstance(options, dict):
        raise TypeError("options must be a JSON object")
    return options
