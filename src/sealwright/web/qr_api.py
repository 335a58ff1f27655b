"""Online verification of signed QR codes (C4): ``POST /v1/qr/verify``.

The same checks as the offline verifier (``channels/qr.py``, ``sealwright qr verify``),
against the service's own QR keys (current and retired) **and** the partner organisations'
keys configured in ``qr_partner_keys_file`` (a JWKS of public Ed25519 keys, loaded and
validated when the app is built: a bad file stops the start with a ConfigurationError).

An API client with the ``qr:verify`` scope sends ``{"code": "SW1:...", "doc_hash": hex?}``
and gets the verified claims, or a 422 problem naming the check that refused the code
(``reason``: ``expired``, ``unknown-key``, ``bad-signature``, ...). Every call appends
``api:qr:verified`` or ``api:qr:refused`` with the client as actor
(``services/qr_verification.py``) -- never the code itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sealwright.channels.qr import QrRejected
from sealwright.identity.scopes import Scope
from sealwright.services.qr_partners import load_partner_keys
from sealwright.services.qr_verification import verify_qr_code
from sealwright.services.runtime import Runtime
from sealwright.web.auth import Caller, runtime, scoped
from sealwright.web.problems import problem

__all__ = ["install", "router"]

router = APIRouter()

Verifier = Annotated[Caller, Depends(scoped(Scope.QR_VERIFY))]


class QrVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The QR text as a scanner shows it; a real code is a few hundred characters.
    code: str = Field(min_length=1, max_length=4096)
    doc_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


def install(app: FastAPI, rt: Runtime) -> None:
    """Load the partner keys now (the start fails on a bad file) and add the routes: this
    API's, and the console's page (``web/console_qr.py``)."""
    from sealwright.web import console_qr

    app.state.qr_partner_keys = load_partner_keys(rt.settings)
    app.include_router(router)
    app.include_router(console_qr.router)


@router.post("/v1/qr/verify")
def verify_qr(body: QrVerifyRequest, request: Request, caller: Verifier) -> JSONResponse:
    check = verify_qr_code(
        runtime(request),
        request.app.state.qr_partner_keys,
        body.code,
        body.doc_hash,
        tenant=caller.tenant_id,
        actor=caller.actor,
        who={"client": caller.token.client_id},
    )
    if not check.ok:
        code = QrRejected.code
        return problem(422, "QR code not verified", check.message, code, reason=check.reason)
    return JSONResponse(dict(check.claims))
