"""DPoP proofs (RFC 9449): sender-constrained access tokens for API clients that opt in.

A client signs a short JWT (``typ: dpop+jwt``) per request with its own key, whose public
half travels in the proof's header. The token endpoint binds the access token to that key's
RFC 7638 thumbprint (``cnf.jkt``); a resource request must then carry a fresh proof signed
by the same key, naming the request's method and URL and the hash of the access token.

Pure: time comes from the injected clock, replay state from the injected ``ReplayCache``
(in the service: ``services.token_state.DatabaseReplayCache``, shared by every API process).
Every failure raises the same opaque AuthenticationFailed; ``check`` returns the precise
reason for the audit log, like ``TokenService.check``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, import_key, thumbprint

from sealwright.clock import Clock
from sealwright.errors import AuthenticationFailed

TYP = "dpop+jwt"
#: Asymmetric algorithms only: "none" and MACs (HS256, ...) can never prove possession.
ALGORITHMS: dict[str, tuple[str, str]] = {"Ed25519": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
#: Proofs are accepted within this many seconds either side of the server's clock.
MAX_SKEW = 60
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_PROOF_CHARS = 8192
_MAX_JTI_CHARS = 256
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True, slots=True)
class DPoPProof:
    jkt: str
    jti: str
    htm: str
    htu: str
    iat: int


class ReplayCache(Protocol):
    def claim(self, key: str, until: int) -> str:
        """Remember ``key`` until the Unix time ``until``: "" when it was new, else the
        reason it is refused (seen before within its window, or no room to remember it)."""
        ...


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim: base64url(SHA-256(ASCII access token)), unpadded."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalise_htu(url: str) -> str | None:
    """RFC 9449 §4.3: the URL without query and fragment, after RFC 3986 syntax-based and
    scheme-based normalisation (case, percent-encoding, dot segments, default port, empty
    path). None when it is no absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _remove_dot_segments(_normalise_percent(parts.path)) or "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def _normalise_percent(path: str) -> str:
    def fix(m: re.Match[str]) -> str:
        char = unquote(m.group(0))
        return char if char in _UNRESERVED else m.group(0).upper()

    return _PCT.sub(fix, quote(path, safe="/%:@!$&'()*+,;=-._~"))


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out)


class DPoPVerifier:
    def __init__(
        self,
        *,
        clock: Clock,
        replay: ReplayCache,
        algorithms: frozenset[str] = frozenset(ALGORITHMS),
        max_skew: int = MAX_SKEW,
    ) -> None:
        unknown = algorithms - set(ALGORITHMS)
        if unknown or not algorithms:
            raise ValueError(f"unsupported DPoP algorithms: {sorted(unknown)}")
        self._clock = clock
        self._replay = replay
        self._algorithms = algorithms
        self._max_skew = max_skew

    def verify(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        jkt: str | None = None,
    ) -> DPoPProof:
        checked, _reason = self.check(
            proof, method=method, url=url, access_token=access_token, jkt=jkt
        )
        if checked is None:
            raise AuthenticationFailed()
        return checked

    def check(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        jkt: str | None = None,
    ) -> tuple[DPoPProof | None, str]:
        """(proof, "") when valid (its jti is then spent), else (None, reason-for-the-log).

        ``access_token``: the token the request presents (``ath`` must match); ``jkt``: the
        thumbprint the token is bound to (the proof's key must have it)."""
        if len(proof) > _MAX_PROOF_CHARS:
            return None, "dpop proof too large"
        try:
            header: dict[str, Any] = dict(jws.extract_compact(proof.encode("ascii")).protected)
        except (JoseError, ValueError, TypeError, UnicodeEncodeError) as exc:
            return None, f"undecodable dpop proof: {type(exc).__name__}"
        if header.get("typ") != TYP:
            return None, "dpop proof has wrong typ"
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            return None, "dpop proof alg not allowed"
        key, reason = _public_key(header.get("jwk"), alg)
        if key is None:
            return None, reason
        try:
            decoded = jwt.decode(proof, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            return None, f"dpop proof signature invalid: {type(exc).__name__}"
        key_jkt = thumbprint(key.as_dict(private=False))
        if jkt is not None and not hmac.compare_digest(key_jkt, jkt):
            return None, "dpop proof key does not match the token binding"
        c = decoded.claims
        jti, htm, htu, iat = c.get("jti"), c.get("htm"), c.get("htu"), c.get("iat")
        if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI_CHARS:
            return None, "dpop proof jti missing or malformed"
        if not isinstance(htm, str) or htm != method:
            return None, "dpop proof htm does not match the request method"
        expected = normalise_htu(url)
        if not isinstance(htu, str) or expected is None or normalise_htu(htu) != expected:
            return None, "dpop proof htu does not match the request url"
        if not isinstance(iat, int) or isinstance(iat, bool):
            return None, "dpop proof iat missing or malformed"
        now = int(self._clock.now().timestamp())
        if abs(now - iat) > self._max_skew:
            return None, "dpop proof iat outside the accepted window"
        if access_token is not None:
            ath = c.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode(), access_token_hash(access_token).encode()
            ):
                return None, "dpop proof ath does not match the access token"
        refused = self._replay.claim(f"{key_jkt}:{jti}", iat + self._max_skew)
        if refused:
            return None, refused
        return DPoPProof(jkt=key_jkt, jti=jti, htm=htm, htu=htu, iat=iat), ""


def _public_key(jwk: object, alg: str) -> tuple[OKPKey | ECKey | None, str]:
    if not isinstance(jwk, dict):
        return None, "dpop proof has no jwk header"
    if _PRIVATE_MEMBERS & jwk.keys():
        return None, "dpop proof jwk contains private key material"
    kty, crv = ALGORITHMS[alg]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        return None, "dpop proof jwk does not fit its alg"
    try:
        key = import_key(jwk)
    except (JoseError, ValueError, TypeError) as exc:
        return None, f"dpop proof jwk unusable: {type(exc).__name__}"
    if not isinstance(key, OKPKey | ECKey) or key.is_private:
        return None, "dpop proof jwk contains private key material"
    return key, ""
