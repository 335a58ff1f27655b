"""Short-lived, scoped access tokens: Ed25519-signed JWTs (joserfc, RFC 9864 "Ed25519").

Claims (docs/identity-api.md): ``iss``, ``sub`` (the client), ``aud`` (one audience or a
list), ``tenant``, ``scope``, ``iat``/``nbf``/``exp`` (at most 15 minutes apart), ``jti``,
and the optional restrictions ``folders``, ``envelopes``, ``recipient``, ``single_use``,
``parent`` (the ``jti`` of the token this one was attenuated from) and ``cnf.jkt`` (DPoP).

Every failure to accept a token raises the same opaque AuthenticationFailed: callers learn
nothing an attacker could use. The precise reason is returned separately for the audit log.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from sealwright.clock import Clock
from sealwright.errors import AuthenticationFailed
from sealwright.identity.scopes import (
    API_AUDIENCE,
    AUDIENCES,
    MAX_ENVELOPES,
    Scope,
    format_scopes,
    is_envelope_id,
    is_folder_name,
    parse_scopes,
)

#: The audience of API tokens (kept under its historical name).
AUDIENCE = API_AUDIENCE
ALG = "Ed25519"
MAX_LIFETIME = 900


class TokenKeys(Protocol):
    def current_jwk(self) -> OKPKey: ...

    def joserfc_keyset(self) -> KeySet: ...


@dataclass(frozen=True, slots=True)
class AccessToken:
    client_id: str
    tenant_id: str
    scopes: frozenset[Scope]
    jti: str
    issued_at: int
    expires_at: int
    #: RFC 9449 ``cnf.jkt``: the thumbprint of the client key the token is bound to (DPoP).
    jkt: str | None = None
    audiences: frozenset[str] = frozenset({AUDIENCE})
    #: Folder and envelope restrictions; None means every one of the tenant.
    folders: frozenset[str] | None = None
    envelopes: frozenset[str] | None = None
    #: A signing token acts for this one recipient (of its single envelope) only.
    recipient: str | None = None
    #: Refused on its second presentation (``used_token_ids``).
    single_use: bool = False
    #: The ``jti`` of the token this one was attenuated from.
    parent: str | None = None
    #: SHA-256 (hex) of the signed payload segment: how a delegated token is recognised.
    payload_sha256: str = field(default="", compare=False)


def payload_digest(compact: str) -> str:
    """SHA-256 of the JWS payload segment exactly as signed."""
    parts = compact.split(".")
    return hashlib.sha256(parts[1].encode("ascii") if len(parts) == 3 else b"").hexdigest()


class TokenService:
    def __init__(self, *, keys: TokenKeys, clock: Clock, issuer: str, ttl: int) -> None:
        if not 0 < ttl <= MAX_LIFETIME:
            raise ValueError("access tokens live at most 15 minutes")
        self._keys = keys
        self._clock = clock
        self._issuer = issuer
        self._ttl = ttl

    @property
    def ttl(self) -> int:
        return self._ttl

    def issue(
        self,
        *,
        client_id: str,
        tenant_id: str,
        scopes: frozenset[Scope],
        jkt: str | None = None,
        audiences: frozenset[str] = frozenset({AUDIENCE}),
        folders: frozenset[str] | None = None,
        envelopes: frozenset[str] | None = None,
        recipient: str | None = None,
        single_use: bool = False,
        parent: str | None = None,
        expires_at: int | None = None,
    ) -> tuple[str, AccessToken]:
        """Sign a token. The rules of attenuation are checked by the caller
        (``identity.attenuation``); this only refuses what no token may be."""
        now = int(self._clock.now().timestamp())
        exp = now + self._ttl if expires_at is None else expires_at
        if not now < exp <= now + MAX_LIFETIME:
            raise ValueError("access tokens live at most 15 minutes")
        if not audiences or not audiences <= AUDIENCES:
            raise ValueError("unknown audience")
        if folders is not None and (not folders or not all(map(is_folder_name, folders))):
            raise ValueError("invalid folder restriction")
        if envelopes is not None and not 0 < len(envelopes) <= MAX_ENVELOPES:
            raise ValueError("invalid envelope restriction")
        key = self._keys.current_jwk()
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": client_id,
            "aud": next(iter(audiences)) if len(audiences) == 1 else sorted(audiences),
            "tenant": tenant_id,
            "scope": format_scopes(scopes),
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": jti,
        }
        if folders is not None:
            claims["folders"] = sorted(folders)
        if envelopes is not None:
            claims["envelopes"] = sorted(envelopes)
        if recipient is not None:
            claims["recipient"] = recipient
        if single_use:
            claims["single_use"] = True
        if parent is not None:
            claims["parent"] = parent
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        header = {"alg": ALG, "kid": key.kid, "typ": "at+jwt"}
        compact = jwt.encode(header, claims, key, algorithms=[ALG])
        token = AccessToken(
            client_id=client_id,
            tenant_id=tenant_id,
            scopes=scopes,
            jti=jti,
            issued_at=now,
            expires_at=exp,
            jkt=jkt,
            audiences=audiences,
            folders=folders,
            envelopes=envelopes,
            recipient=recipient,
            single_use=single_use,
            parent=parent,
            payload_sha256=payload_digest(compact),
        )
        return compact, token

    def verify(self, compact: str, *, audience: str | None = AUDIENCE) -> AccessToken:
        token, _reason = self.check(compact, audience=audience)
        if token is None:
            raise AuthenticationFailed()
        return token

    def check(
        self, compact: str, *, audience: str | None = AUDIENCE
    ) -> tuple[AccessToken | None, str]:
        """(token, "") when valid, else (None, reason-for-the-audit-log).

        ``audience``: the service asking, which the token's ``aud`` must name (None: any of
        ours, for the token-exchange endpoint, which accepts tokens meant for either)."""
        try:
            decoded = jwt.decode(compact, self._keys.joserfc_keyset(), algorithms=[ALG])
        except (JoseError, ValueError, TypeError) as exc:
            # TypeError: joserfc's header checks assume well-typed values, so a header such
            # as {"crit": null} raises it before any signature is checked.
            return None, f"undecodable or bad signature: {type(exc).__name__}"
        if decoded.header.get("typ") != "at+jwt":
            return None, "wrong token type"
        c = decoded.claims
        now = int(self._clock.now().timestamp())
        try:
            exp, iat = int(c["exp"]), int(c["iat"])
            audiences = _audiences(c["aud"])
            if c["iss"] != self._issuer or audiences is None:
                return None, "wrong issuer or audience"
            if audience is not None and audience not in audiences:
                return None, "wrong issuer or audience"
            if exp <= now:
                return None, "expired"
            if iat > now + 30 or exp - iat > MAX_LIFETIME:
                return None, "implausible lifetime"
            if int(c.get("nbf", iat)) > now + 30:
                return None, "not yet valid"
            jkt: str | None = None
            if "cnf" in c:
                jkt = c["cnf"]["jkt"]
                if not isinstance(jkt, str) or not jkt:
                    return None, "missing or malformed claims"
            folders = _names(c, "folders", is_folder_name)
            envelopes = _names(c, "envelopes", is_envelope_id)
            recipient = c.get("recipient")
            single_use = c.get("single_use", False)
            parent = c.get("parent")
            if (
                (recipient is not None and not is_envelope_id(recipient))
                or (recipient is not None and (envelopes is None or len(envelopes) != 1))
                or not isinstance(single_use, bool)
                or (parent is not None and not (isinstance(parent, str) and 0 < len(parent) < 65))
            ):
                return None, "missing or malformed claims"
            token = AccessToken(
                client_id=str(c["sub"]),
                tenant_id=str(c["tenant"]),
                scopes=parse_scopes(str(c["scope"])),
                jti=str(c["jti"]),
                issued_at=iat,
                expires_at=exp,
                jkt=jkt,
                audiences=audiences,
                folders=folders,
                envelopes=envelopes,
                recipient=recipient,
                single_use=single_use,
                parent=parent,
                payload_sha256=payload_digest(compact),
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return None, "missing or malformed claims"
        return token, ""


def _audiences(aud: object) -> frozenset[str] | None:
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not values:
        return None
    out = frozenset(v for v in values if isinstance(v, str))
    return out if len(out) == len(values) and out <= AUDIENCES else None


def _names(claims: dict[str, Any], name: str, valid: Any) -> frozenset[str] | None:
    """A restriction claim: absent, or a non-empty list of valid, distinct names."""
    if name not in claims:
        return None
    values = claims[name]
    if not isinstance(values, list) or not 0 < len(values) <= MAX_ENVELOPES:
        raise ValueError(name)
    out = frozenset(values) if all(valid(v) for v in values) else frozenset()
    if len(out) != len(values):
        raise ValueError(name)
    return out


def expires_in(token: AccessToken, now: datetime) -> int:
    return max(0, token.expires_at - int(now.timestamp()))
