"""OpenID Connect relying party: authorization code flow with PKCE, for signers who prove
who they are at an external identity provider and for operators' console SSO.

``begin`` builds the authorization URL (state, nonce, PKCE S256) from the provider's
discovery document; the caller keeps the returned ``AuthRequest`` server-side (never in a
cookie the browser could swap) and hands it to ``finish`` with what came back to the
redirect URI. ``finish`` exchanges the code and verifies the ID token itself: the code
travels through the browser, so everything it buys must be checked here.

Every failure raises ``OidcRejected``: an ``AuthenticationFailed`` (one opaque answer to the
user) whose ``reason`` goes to the audit ledger. Reasons never contain codes, tokens or
secrets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sealwright.clock import Clock, SystemClock
from sealwright.errors import AuthenticationFailed, ConfigurationError

#: Asymmetric algorithms only. "none" proves nothing, and HS* would be keyed with the client
#: secret: anyone holding our configuration could then mint identities, and the provider's
#: signature would no longer be evidence that the *provider* vouched for the user.
ID_TOKEN_ALGORITHMS = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
        "Ed25519",
    }
)
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_MAX_TOKEN_CHARS = 16_384
_LOOPBACK_NAMES = frozenset({"localhost"})


class OidcRejected(AuthenticationFailed):
    """An OIDC login did not check out. ``str()`` stays the opaque "authentication failed";
    ``reason`` is for the audit ledger only."""

    code = "authentication-failed"

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    #: The method this client is registered with at the provider; None picks the first of
    #: client_secret_basic, client_secret_post that the provider advertises.
    token_endpoint_auth_method: str | None = None


@dataclass(frozen=True)
class AuthRequest:
    url: str = field(repr=False)
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    #: When set, the ID token's ``auth_time`` must be at most this many seconds old (step-up).
    max_age: int | None = None


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_secure_url(name: str, url: str) -> None:
    """HTTPS everywhere, except plain HTTP on loopback (development and tests)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise ConfigurationError(f"OIDC {name} must be an absolute https URL: {url!r}")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(f"OIDC {name} must use https unless on loopback: {url!r}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class OidcClient:
    """One relying party registration at one provider. Thread-safe; discovery and JWKS are
    cached (discovery for ``metadata_ttl`` seconds, JWKS until an unknown ``kid`` shows up,
    then fetched again once per login attempt)."""

    def __init__(
        self,
        provider: OidcProvider,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        leeway: int = 30,
        max_token_age: int = 600,
        metadata_ttl: int = 3600,
    ) -> None:
        _require_secure_url("issuer", provider.issuer)
        _require_secure_url("redirect_uri", provider.redirect_uri)
        if "openid" not in provider.scopes:
            raise ConfigurationError("OIDC scopes must include 'openid'")
        method = provider.token_endpoint_auth_method
        if method is not None and method not in _AUTH_METHODS:
            raise ConfigurationError(f"unsupported token endpoint auth method {method!r}")
        self.provider = provider
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self._clock = clock or SystemClock()
        self._leeway = leeway
        self._max_token_age = max_token_age
        self._metadata_ttl = metadata_ttl
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at: datetime | None = None
        self._jwks: KeySet | None = None

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> OidcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two halves of a login -------------------------------------------------------

    def begin(
        self,
        *,
        login_hint: str | None = None,
        max_age: int | None = None,
        prompt: str | None = None,
    ) -> AuthRequest:
        """A fresh authorization request. ``max_age`` asks the provider to re-authenticate
        a user whose session there is older (and ``finish`` checks ``auth_time``);
        ``prompt="login"`` forces it."""
        meta = self.metadata()
        methods = meta.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise OidcRejected("provider does not support PKCE S256")
        state, nonce = _b64url(secrets.token_bytes(32)), _b64url(secrets.token_bytes(32))
        verifier = _b64url(secrets.token_bytes(48))
        params = {
            "response_type": "code",
            "client_id": self.provider.client_id,
            "redirect_uri": self.provider.redirect_uri,
            "scope": " ".join(self.provider.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64url(hashlib.sha256(verifier.encode("ascii")).digest()),
            "code_challenge_method": "S256",
        }
        if login_hint is not None:
            params["login_hint"] = login_hint
        if max_age is not None:
            if max_age < 0:
                raise ValueError("max_age must not be negative")
            params["max_age"] = str(max_age)
        if prompt is not None:
            params["prompt"] = prompt
        endpoint = str(meta["authorization_endpoint"])
        sep = "&" if urlsplit(endpoint).query else "?"
        return AuthRequest(
            url=f"{endpoint}{sep}{urlencode(params)}",
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            max_age=max_age,
        )

    def finish(
        self, request: AuthRequest, *, code: str, state: str, iss: str | None = None
    ) -> dict[str, Any]:
        """The verified claims of the user who came back with ``code`` and ``state``.
        Pass ``iss`` when the redirect carried one (RFC 9207): it must name this provider."""
        if not _equal(state, request.state):
            raise OidcRejected("state mismatch")
        if iss is not None and iss != self.provider.issuer:
            raise OidcRejected("authorization response from another issuer")
        if not code or len(code) > _MAX_TOKEN_CHARS:
            raise OidcRejected("authorization code missing or malformed")
        tokens = self._exchange(code, request.code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcRejected("token response has no id_token")
        claims = self.verify_id_token(id_token, nonce=request.nonce, max_age=request.max_age)
        access_token = tokens.get("access_token")
        if "email" not in claims and isinstance(access_token, str):
            claims = self._with_userinfo(claims, access_token)
        return claims

    # -- ID token ------------------------------------------------------------------------

    def verify_id_token(
        self, id_token: str, *, nonce: str, max_age: int | None = None
    ) -> dict[str, Any]:
        """OIDC Core §3.1.3.7: signature, alg, iss, aud/azp, exp, iat, nonce (and auth_time
        when ``max_age`` is set). Returns the claims; raises ``OidcRejected``."""
        if len(id_token) > _MAX_TOKEN_CHARS:
            raise OidcRejected("id_token too large")
        try:
            header = dict(jws.extract_compact(id_token.encode("ascii")).protected)
        except (JoseError, ValueError, TypeError, UnicodeEncodeError) as exc:
            raise OidcRejected(f"id_token undecodable: {type(exc).__name__}") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._allowed_algorithms():
            raise OidcRejected("id_token alg not allowed")
        kid = header.get("kid")
        key = self._key_for(kid if isinstance(kid, str) else None, alg)
        try:
            token = jwt.decode(id_token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcRejected(f"id_token signature invalid: {type(exc).__name__}") from exc
        claims = dict(token.claims)
        self._check_claims(claims, nonce=nonce, max_age=max_age)
        return claims

    def _allowed_algorithms(self) -> frozenset[str]:
        advertised = self.metadata().get("id_token_signing_alg_values_supported")
        if not isinstance(advertised, list):
            return frozenset({"RS256"})  # the default OIDC Discovery prescribes
        return ID_TOKEN_ALGORITHMS & {a for a in advertised if isinstance(a, str)}

    def _check_claims(self, claims: dict[str, Any], *, nonce: str, max_age: int | None) -> None:
        now = self._clock.now().timestamp()
        if claims.get("iss") != self.provider.issuer:
            raise OidcRejected("id_token issuer mismatch")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or self.provider.client_id not in audiences:
            raise OidcRejected("id_token audience is another client")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.provider.client_id:
            raise OidcRejected("id_token authorized party is another client")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise OidcRejected("id_token has no subject")
        exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
        if exp is None or iat is None:
            raise OidcRejected("id_token exp or iat missing")
        if now > exp + self._leeway:
            raise OidcRejected("id_token expired")
        if iat > now + self._leeway:
            raise OidcRejected("id_token issued in the future")
        if now - iat > self._max_token_age + self._leeway:
            raise OidcRejected("id_token issued too long ago")
        got_nonce = claims.get("nonce")
        if not isinstance(got_nonce, str) or not _equal(got_nonce, nonce):
            raise OidcRejected("id_token nonce mismatch")
        if max_age is not None:
            auth_time = _number(claims.get("auth_time"))
            if auth_time is None:
                raise OidcRejected("id_token has no auth_time although max_age was asked")
            if now - auth_time > max_age + self._leeway:
                raise OidcRejected("authentication at the provider is older than max_age")

    # -- provider metadata and keys --------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, checked and cached."""
        with self._lock:
            now = self._clock.now()
            fresh = (
                self._metadata is not None
                and self._metadata_at is not None
                and 0 <= (now - self._metadata_at).total_seconds() < self._metadata_ttl
            )
            if not fresh:
                url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
                meta = self._get_json(url, "discovery")
                # OIDC Discovery §4.3: the document must name exactly the issuer we asked.
                if meta.get("issuer") != self.provider.issuer:
                    raise OidcRejected("discovery issuer mismatch")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    value = meta.get(name)
                    if not isinstance(value, str):
                        raise OidcRejected(f"discovery lacks {name}")
                    try:
                        _require_secure_url(name, value)
                    except ConfigurationError as exc:
                        raise OidcRejected(f"discovery {name} not https") from exc
                self._metadata, self._metadata_at = meta, now
            assert self._metadata is not None
            return self._metadata

    def _key_for(self, kid: str | None, alg: str) -> Any:
        with self._lock:
            cached = self._jwks
        keys = cached or self._fetch_jwks()
        key = _select_key(keys, kid, alg)
        if key is None and cached is not None:
            keys = self._fetch_jwks()  # the provider may have rotated its keys
            key = _select_key(keys, kid, alg)
        if key is None:
            raise OidcRejected("id_token signed with an unknown key")
        return key

    def _fetch_jwks(self) -> KeySet:
        doc = self._get_json(str(self.metadata()["jwks_uri"]), "jwks")
        raw = doc.get("keys")
        if not isinstance(raw, list):
            raise OidcRejected("jwks has no keys")
        usable = [
            k
            for k in raw
            if isinstance(k, dict)
            and k.get("use", "sig") == "sig"
            and not ({"d", "p", "q", "k"} & k.keys())
        ]
        try:
            keys = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcRejected(f"jwks unusable: {type(exc).__name__}") from exc
        with self._lock:
            self._jwks = keys
        return keys

    # -- HTTP ----------------------------------------------------------------------------

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OidcRejected(f"{what} unreachable: {type(exc).__name__}") from exc
        return _json_object(response, what)

    def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        meta = self.metadata()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.provider.redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        method = self.provider.token_endpoint_auth_method or self._auth_method(meta)
        if method == "client_secret_basic":
            # RFC 6749 §2.3.1: both halves form-urlencoded before the Basic encoding.
            client_id, secret = self.provider.client_id, self.provider.client_secret
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            data["client_id"] = self.provider.client_id
            data["client_secret"] = self.provider.client_secret
        try:
            response = self._http.post(str(meta["token_endpoint"]), data=data, headers=headers)
        except httpx.HTTPError as exc:
            raise OidcRejected(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            error = _error_code(response)
            raise OidcRejected(f"token endpoint refused the code: {error}")
        tokens = _json_object(response, "token response")
        if str(tokens.get("token_type", "")).lower() not in ("bearer", "dpop"):
            raise OidcRejected("token response has an unexpected token_type")
        return tokens

    @staticmethod
    def _auth_method(meta: Mapping[str, Any]) -> str:
        supported = meta.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        for method in _AUTH_METHODS:
            if isinstance(supported, list) and method in supported:
                return method
        raise OidcRejected("provider supports no client secret authentication")

    def _with_userinfo(self, claims: dict[str, Any], access_token: str) -> dict[str, Any]:
        """Providers that follow OIDC Core to the letter put profile claims only at the
        userinfo endpoint; fetch them there. ID token claims win over userinfo ones."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return claims
        try:
            _require_secure_url("userinfo_endpoint", endpoint)
            response = self._http.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        except ConfigurationError as exc:
            raise OidcRejected("discovery userinfo_endpoint not https") from exc
        except httpx.HTTPError as exc:
            raise OidcRejected(f"userinfo unreachable: {type(exc).__name__}") from exc
        info = _json_object(response, "userinfo")
        # OIDC Core §5.3.2: a userinfo answer about anyone else must not be used.
        if info.get("sub") != claims["sub"]:
            raise OidcRejected("userinfo subject differs from the id_token's")
        return {**info, **claims}


def _select_key(keys: KeySet, kid: str | None, alg: str) -> Any:
    kty = _KEY_TYPES.get(alg[:2])
    candidates = [
        k
        for k in keys.keys
        if k.key_type == kty and (kid is None or k.kid == kid) and k.get("alg", alg) == alg
    ]
    # Without a kid, only an unambiguous key will do.
    return candidates[0] if len(candidates) == 1 else None


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise OidcRejected(f"{what} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise OidcRejected(f"{what} is not JSON") from exc
    if not isinstance(body, dict):
        raise OidcRejected(f"{what} is not a JSON object")
    return body


def _error_code(response: httpx.Response) -> str:
    """The OAuth ``error`` code only (a fixed vocabulary); descriptions may echo input."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, str) and error.replace("_", "").isalpha() and len(error) < 64:
        return error
    return f"HTTP {response.status_code}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def claims_match_recipient(claims: Mapping[str, Any], *, email: str) -> bool:
    """True when the verified claims name exactly this recipient's address and the provider
    says it verified it (``email_verified`` is the JSON boolean true, not a string).

    The domain is compared case-insensitively (DNS names are) after IDNA encoding, so
    ``Bücher.example`` and ``xn--bcher-kva.example`` match; the local part is compared
    exactly, because RFC 5321 §2.4 leaves its case to the receiving host and a provider
    account ``Alice@`` need not be the same mailbox as ``alice@``. A false "no" only sends
    the signer back to the sender; a false "yes" would let someone else sign."""
    if claims.get("email_verified") is not True:
        return False
    claimed = claims.get("email")
    if not isinstance(claimed, str):
        return False
    a, b = _split_address(claimed), _split_address(email)
    return a is not None and b is not None and a == b


def _split_address(address: str) -> tuple[str, str] | None:
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain:
        return None
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return local, ascii_domain.rstrip(".")
