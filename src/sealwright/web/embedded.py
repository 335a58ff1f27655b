"""``POST /embedded/sign``: embedded signing (B3, ``services/embedded_signing.py``).

The integrator's page sends the signer's browser here with a form POST whose ``token``
field holds a recipient-bound signing token. Only POST: a token in a URL would end up in
proxy logs, browser history and ``Referer`` headers, and mail scanners that fetch URLs
would spend it. The request comes from the integrator's site, so the usual same-origin
check does not apply; the token itself is the credential.

The answer sets the signer-session cookie and shows a page whose link continues to the
first authentication step. It does not redirect: the cookie is ``SameSite=Strict``, and a
redirect started by another site's POST would arrive without it; a click on our own page
is a same-site navigation that carries it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from sealwright.errors import AuthenticationFailed
from sealwright.services.ceremony import CeremonyService
from sealwright.services.embedded_signing import PATH, open_session
from sealwright.services.runtime import Runtime
from sealwright.web.auth import client_usage, runtime
from sealwright.web.signer_pages import client_ip, denied, next_url, page, set_session_cookie

router = APIRouter(include_in_schema=False)


@router.post(PATH)
def embedded_sign(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    token: Annotated[str, Form(max_length=8192)] = "",
) -> Response:
    try:
        with rt.db.transaction() as session:
            session_token, ctx = open_session(
                rt, session, token, usage=client_usage(request), client_ip=client_ip(request)
            )
            state = CeremonyService(rt).auth_state(session, ctx)
            target = next_url(state, ctx)
            title, name = ctx.envelope.title, ctx.recipient.name
    except AuthenticationFailed:
        return denied(request)
    response = page(request, "embedded.html", title=title, name=name, next_url=target)
    set_session_cookie(response, rt, session_token)
    return response
