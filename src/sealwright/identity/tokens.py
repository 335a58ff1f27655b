"""Short-lived, scoped access tokens: Ed25519-signed JWTs (joserfc, RFC 9864 "Ed25519").

Every failure to accept a token raises the same opaque AuthenticationFailed: callers learn
nothing an attacker could use. The precise reason is returned separately for the audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from sealwright.clock import Clock
from sealwright.errors import AuthenticationFailed
from sealwright.identity.scopes import Scope, format_scopes, parse_scopes

AUDIENCE = "sealwright-api"
ALG = "Ed25519"


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


class TokenService:
    def __init__(self, *, keys: TokenKeys, clock: Clock, issuer: str, ttl: int) -> None:
        if not 0 < ttl <= 900:
            raise ValueError("access tokens live at most 15 minutes")
        self._keys = keys
        self._clock = clock
        self._issuer = issuer
        self._ttl = ttl

    def issue(
        self,
        *,
        client_id: str,
        tenant_id: str,
        scopes: frozenset[Scope],
        jkt: str | None = None,
    ) -> tuple[str, AccessToken]:
        now = int(self._clock.now().timestamp())
        token = AccessToken(
            client_id=client_id,
            tenant_id=tenant_id,
            scopes=scopes,
            jti=uuid.uuid4().hex,
            issued_at=now,
            expires_at=now + self._ttl,
            jkt=jkt,
        )
        key = self._keys.current_jwk()
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": client_id,
            "aud": AUDIENCE,
            "tenant": tenant_id,
            "scope": format_scopes(scopes),
            "iat": token.issued_at,
            "nbf": token.issued_at,
            "exp": token.expires_at,
            "jti": token.jti,
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        header = {"alg": ALG, "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, key, algorithms=[ALG]), token

    def verify(self, compact: str) -> AccessToken:
        token, _reason = self.check(compact)
        if token is None:
            raise AuthenticationFailed()
        return token

    def check(self, compact: str) -> tuple[AccessToken | None, str]:
        """(token, "") when valid, else (None, reason-for-the-audit-log)."""
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
            if c["iss"] != self._issuer or c["aud"] != AUDIENCE:
                return None, "wrong issuer or audience"
            if exp <= now:
                return None, "expired"
            if iat > now + 30 or exp - iat > 900:
                return None, "implausible lifetime"
            if int(c.get("nbf", iat)) > now + 30:
                return None, "not yet valid"
            jkt: str | None = None
            if "cnf" in c:
                jkt = c["cnf"]["jkt"]
                if not isinstance(jkt, str) or not jkt:
                    return None, "missing or malformed claims"
            token = AccessToken(
                client_id=str(c["sub"]),
                tenant_id=str(c["tenant"]),
                scopes=parse_scopes(str(c["scope"])),
                jti=str(c["jti"]),
                issued_at=iat,
                expires_at=exp,
                jkt=jkt,
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return None, "missing or malformed claims"
        return token, ""


def expires_in(token: AccessToken, now: datetime) -> int:
    return max(0, token.expires_at - int(now.timestamp()))
