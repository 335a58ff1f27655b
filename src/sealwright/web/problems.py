"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sealwright.errors import (
    AuthenticationFailed,
    Conflict,
    LedgerInconsistent,
    NotFound,
    PdfRejected,
    PermissionDenied,
    RateLimited,
    SealwrightError,
    TimestampUnavailable,
    ValidationError,
    VerificationRequired,
)

PROBLEM_BASE = "https://sealwright.invalid/problems/"
MEDIA_TYPE = "application/problem+json"

_STATUS: list[tuple[type[SealwrightError], int, str]] = [
    (PdfRejected, 422, "Document rejected"),
    (ValidationError, 422, "Invalid request"),
    (AuthenticationFailed, 401, "Authentication failed"),
    (PermissionDenied, 403, "Forbidden"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (VerificationRequired, 409, "Verification required"),
    (RateLimited, 429, "Too many requests"),
    (TimestampUnavailable, 503, "Timestamp authority unavailable"),
    (LedgerInconsistent, 500, "The audit ledger failed an integrity check"),
]


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    body.update(extra)
    # Both schemes are offered (RFC 9449 §7.1): which one failed is not disclosed.
    challenge = 'Bearer error="invalid_token", DPoP error="invalid_token", algs="Ed25519 ES256"'
    headers = {"WWW-Authenticate": challenge} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(exc: SealwrightError) -> JSONResponse:
    for cls, status, title in _STATUS:
        if isinstance(exc, cls):
            extra: dict[str, Any] = {}
            if isinstance(exc, PdfRejected):
                extra["reason"] = exc.reason
            detail = "authentication failed" if status == 401 else str(exc)
            response = problem(status, title, detail, exc.code, **extra)
            if isinstance(exc, RateLimited):
                response.headers["Retry-After"] = str(exc.retry_after)
            if isinstance(exc, TimestampUnavailable):
                response.headers["Retry-After"] = "30"
            return response
    return problem(500, "Internal error", "the request could not be completed", "internal")


def install(app: FastAPI) -> None:
    async def on_sealwright(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SealwrightError)
        return from_error(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(
            422,
            "Invalid request",
            "the request body or parameters are invalid",
            "validation",
            errors=errors,
        )

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem(exc.status_code, str(exc.detail), str(exc.detail), "http")

    app.add_exception_handler(SealwrightError, on_sealwright)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
