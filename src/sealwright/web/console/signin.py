"""Console sign-in through OIDC SSO only (B7), and sign-out.

``/console/login/start`` begins an authorization-code flow (PKCE, state, nonce) and keeps
the request server-side, encrypted, under the hash of a one-time cookie that binds the
flow to this browser: a callback carried to another browser (login CSRF) finds nothing.
That cookie is SameSite=Lax because the provider's redirect back is a cross-site
navigation; the session cookie is Strict, so the callback answers with a page that moves on
by itself rather than a redirect (a Strict cookie set in a cross-site redirect chain would
not come back on its next hop).

The operator is whoever the verified ID token's (iss, sub) names -- never an email. An
unknown identity, a disabled operator, a replayed or expired callback and a token that
does not verify all get the same page; the ledger gets the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from hashlib import sha256
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import AuthenticationFailed, ConfigurationError, CryptoError
from sealwright.identity.oidc import AuthRequest, OidcClient, OidcProvider, OidcRejected
from sealwright.identity.secrets import new_token, token_digest
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.services import console_sessions
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.operators import find_by_identity, operator_actor
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ConsoleLogin, Operator
from sealwright.web.auth import UNATTRIBUTED, runtime
from sealwright.web.console.guard import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Stage,
    console_context,
    needs,
)
from sealwright.web.console.render import page

# The guard on the router too: a route that forgot its context parameter is still checked.
router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_context)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
SignedIn = Annotated[ConsoleContext | None, Depends(console_context)]
#: Seconds a user has at the identity provider before the sign-in must start again.
LOGIN_SECONDS = 600
CALLBACK_PATH = "/console/callback"


def redirect_uri(rt: Runtime) -> str:
    return rt.settings.public_url.rstrip("/") + CALLBACK_PATH


def client_secret(rt: Runtime) -> str:
    settings = rt.settings
    if settings.console_oidc_client_secret is not None:
        return settings.console_oidc_client_secret.get_secret_value()
    if settings.console_oidc_client_secret_file is not None:
        try:
            return settings.console_oidc_client_secret_file.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigurationError("cannot read the console OIDC client secret file") from exc
    raise ConfigurationError(
        "set SEALWRIGHT_CONSOLE_OIDC_CLIENT_SECRET or SEALWRIGHT_CONSOLE_OIDC_CLIENT_SECRET_FILE"
    )


@contextmanager
def oidc_client(rt: Runtime) -> Iterator[OidcClient]:
    """A client for one sign-in step. Discovery and keys are fetched per step: sign-ins are
    rare, and nothing outlives the request (no connection pool to close at shutdown)."""
    settings = rt.settings
    if not settings.console_oidc_issuer or not settings.console_oidc_client_id:
        raise ConfigurationError("the console's identity provider is not configured")
    provider = OidcProvider(
        issuer=settings.console_oidc_issuer,
        client_id=settings.console_oidc_client_id,
        client_secret=client_secret(rt),
        redirect_uri=redirect_uri(rt),
    )
    with httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
        client = OidcClient(provider, http=http, clock=rt.clock)
        yield client


def _login_aad(binding_hash: str) -> bytes:
    return f"sealwright:console-login:{binding_hash}".encode()


def _identity_digest(issuer: str, subject: str) -> str:
    """Names an unknown identity in the ledger without writing the identity itself."""
    return sha256(f"{issuer}\n{subject}".encode()).hexdigest()


@router.get("/login", response_class=HTMLResponse)
@needs(Stage.PUBLIC)
def login_page(request: Request, rt: RuntimeDep, _: SignedIn) -> Response:
    configured = bool(rt.settings.console_oidc_issuer and rt.settings.console_oidc_client_id)
    return page(
        request, "console/login.html", status=200 if configured else 503, configured=configured
    )


@router.get("/login/start")
@needs(Stage.PUBLIC)
def login_start(request: Request, rt: RuntimeDep, _: SignedIn) -> Response:
    try:
        with oidc_client(rt) as client:
            auth = client.begin()
    except (ConfigurationError, OidcRejected) as exc:
        _refuse_signin(rt, None, f"cannot begin: {getattr(exc, 'reason', str(exc))}")
        return _refused(request)
    binding = new_token()
    binding_hash = token_digest(binding)
    now = rt.clock.now()
    stored = json.dumps(
        {
            "url": auth.url,
            "state": auth.state,
            "nonce": auth.nonce,
            "code_verifier": auth.code_verifier,
        }
    ).encode()
    with rt.db.transaction() as db:
        # Housekeeping: sign-ins nobody finished are worth nothing once expired.
        db.execute(delete(ConsoleLogin).where(ConsoleLogin.expires_at < now))
        db.add(
            ConsoleLogin(
                binding_hash=binding_hash,
                request=encrypt_bytes(
                    stored, keyring=rt.keyring, aad=_login_aad(binding_hash), random=rt.random
                ),
                created_at=now,
                expires_at=now + timedelta(seconds=LOGIN_SECONDS),
            )
        )
    response = RedirectResponse(auth.url, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        binding,
        max_age=LOGIN_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        secure=_secure(rt),
        samesite="lax",
    )
    return response


@router.get("/callback")
@needs(Stage.PUBLIC)
def callback(request: Request, rt: RuntimeDep, _: SignedIn) -> Response:
    params = request.query_params
    try:
        auth = _take_login(rt, request.cookies.get(LOGIN_COOKIE))
        if "error" in params:
            error = params["error"]
            reason = error if error.replace("_", "").isalpha() and len(error) < 64 else "other"
            raise OidcRejected(f"provider answered error {reason}")
        with oidc_client(rt) as client:
            claims = client.finish(
                auth,
                code=params.get("code", ""),
                state=params.get("state", ""),
                iss=params.get("iss"),
            )
    except OidcRejected as exc:
        _refuse_signin(rt, None, exc.reason)
        return _refused(request)
    except ConfigurationError as exc:
        _refuse_signin(rt, None, str(exc))
        return _refused(request)
    try:
        token = _open_session(rt, str(claims["iss"]), str(claims["sub"]))
    except AuthenticationFailed:
        return _refused(request)
    response = page(request, "console/continue.html", target="/console/second-factor")
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        secure=_secure(rt),
        samesite="strict",
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
@needs(Stage.SIGNED_IN)
def logout(request: Request, rt: RuntimeDep, ctx: SignedIn) -> Response:
    assert ctx is not None
    with rt.db.transaction() as db:
        found = console_sessions.resolve(rt, db, ctx.token)
        if found.context is not None:
            console_sessions.end(rt, db, found.context)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _take_login(rt: Runtime, binding: str | None) -> AuthRequest:
    """The sign-in this browser started, used up now whatever happens next."""
    if not binding:
        raise OidcRejected("callback without the sign-in cookie")
    binding_hash = token_digest(binding)
    with rt.db.transaction() as db:
        row = db.get(ConsoleLogin, binding_hash)
        if row is None:
            raise OidcRejected("callback for an unknown sign-in")
        if row.used_at is not None:
            raise OidcRejected("callback for a sign-in already used")
        row.used_at = rt.clock.now()
        if row.used_at >= row.expires_at:
            error = OidcRejected("callback after the sign-in expired")
            error.commit = True  # keep it used
            raise error
        try:
            stored = json.loads(
                decrypt_bytes(row.request, keyring=rt.keyring, aad=_login_aad(binding_hash))
            )
        except CryptoError:
            error = OidcRejected("stored sign-in request does not decrypt")
            error.commit = True
            raise error from None
    return AuthRequest(
        url=stored["url"],
        state=stored["state"],
        nonce=stored["nonce"],
        code_verifier=stored["code_verifier"],
    )


def _open_session(rt: Runtime, issuer: str, subject: str) -> str:
    with rt.db.transaction() as db:
        operator = find_by_identity(db, issuer, subject)
        if operator is None:
            _refuse_signin(
                rt, None, "unknown identity", identity=_identity_digest(issuer, subject), db=db
            )
            raise _Refused()
        if operator.disabled_at is not None:
            _refuse_signin(rt, operator, "operator disabled", db=db)
            raise _Refused()
        token = console_sessions.start(rt, db, operator)
        rt.audit.append(
            db,
            EventTag.CONSOLE_SIGNIN_PASSED,
            tenant=operator.tenant_id,
            actor=operator_actor(operator),
            data={"operator": operator.id, "method": "oidc", "issuer": issuer},
        )
        return token


class _Refused(AuthenticationFailed):
    commit = True


def _refuse_signin(
    rt: Runtime,
    operator: Operator | None,
    reason: str,
    *,
    identity: str | None = None,
    db: Session | None = None,
) -> None:
    data = {"reason": reason, "method": "oidc"}
    if identity is not None:
        data["identity"] = identity
    if operator is not None:
        data["operator"] = operator.id

    def write(session: Session) -> None:
        rt.audit.append(
            session,
            EventTag.CONSOLE_SIGNIN_REFUSED,
            tenant=operator.tenant_id if operator is not None else UNATTRIBUTED,
            actor=operator_actor(operator) if operator is not None else "anonymous",
            data=data,
        )

    if db is not None:
        write(db)
        return
    with rt.db.transaction() as session:
        write(session)


def _refused(request: Request) -> Response:
    response = page(request, "console/refused.html", status=401)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


def _secure(rt: Runtime) -> bool:
    return rt.settings.public_url.startswith("https")
