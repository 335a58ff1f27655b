"""Per-IP rate limits (B8) on the signer pages, the embedded-signing entry, the console's
sign-in steps and the OAuth token endpoint, counted in the database (services/throttle.py)
so that every API process enforces the same limit.

Past the limit a request gets 429 with Retry-After and never reaches its handler. Only the
first refusal of each window is written to the ledger (``api:rate:limited``): a flood must
not be able to grow the audit log at the flooder's pace.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from sealwright.domain.events import EventTag
from sealwright.services.runtime import Runtime
from sealwright.services.throttle import RATE_WINDOW, Throttle
from sealwright.web.auth import UNATTRIBUTED, redact_path
from sealwright.web.client_address import client_ip
from sealwright.web.problems import problem

#: Unauthenticated entry points that write a row or an event per request share one limit.
_SIGNER_PREFIXES = ("/sign/", "/s/", "/embedded/", "/console/login/start", "/console/callback")
_TOKEN_PATH = "/oauth/token"  # noqa: S105 -- a path, not a secret
#: A carrier's signed callbacks (voice TwiML, gather and status; SMS delivery reports) come
#: from a few carrier addresses at the carrier's pace: a per-IP limit would throttle every
#: signer's call at once. Each is refused (403, audited) unless X-Twilio-Signature checks.
_CARRIER = re.compile(r"/s/voice/[0-9a-f]{32}/(?:twiml|spoken|gather|status)|/s/sms/status/[^/]+")


def _limit_for(rt: Runtime, path: str) -> tuple[str, int] | None:
    if _CARRIER.fullmatch(path):
        return None
    if path == _TOKEN_PATH:
        return "rate:token", rt.settings.token_rate_limit
    if path.startswith(_SIGNER_PREFIXES):
        return "rate:signer", rt.settings.signer_rate_limit
    return None


def count_request(rt: Runtime, scope: str, limit: int, ip: str, path: str) -> bool:
    """Count one request; False when it is over the limit (the first such is audited)."""
    throttle = Throttle(clock=rt.clock, pepper=rt.otp_pepper)
    with rt.db.transaction() as session:
        count = throttle.hit(session, scope, ip)
        if count == limit + 1:
            rt.audit.append(
                session,
                EventTag.RATE_LIMITED,
                tenant=UNATTRIBUTED,
                actor="anonymous",
                data={"scope": scope, "path": redact_path(path), "limit_per_minute": limit},
            )
    return count <= limit


def install(app: FastAPI, rt: Runtime) -> None:
    @app.middleware("http")
    async def rate_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        limited = _limit_for(rt, request.url.path)
        ip = client_ip(request)
        if limited is not None and ip:
            scope, limit = limited
            ok = await run_in_threadpool(count_request, rt, scope, limit, ip, request.url.path)
            if not ok:
                retry = str(int(RATE_WINDOW.total_seconds()))
                response = problem(
                    429, "Too many requests", "too many requests; slow down", "rate-limited"
                )
                response.headers["Retry-After"] = retry
                return response
        return await call_next(request)
