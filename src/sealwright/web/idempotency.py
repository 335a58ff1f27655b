"""``Idempotency-Key`` on POST (G1): a retried request gets the first answer again; the same
key with a different request is refused. The record is written in the request's own unit of
work, so it exists exactly when the work was done."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.errors import Conflict, ValidationError
from sealwright.storage.models import IdempotencyRecord
from sealwright.web.auth import Caller

HEADER = "Idempotency-Key"


def key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise ValidationError(f"{HEADER} must be 1 to 200 printable characters")
    return key


def fingerprint(request: Request, body_digest: str) -> str:
    text = f"{request.method} {request.url.path}?{request.url.query} {body_digest}"
    return hashlib.sha256(text.encode()).hexdigest()


def replay(session: Session, caller: Caller, key: str | None, fp: str) -> Response | None:
    if key is None:
        return None
    record = session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == caller.token.client_id, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()
    if record is None:
        return None
    if record.fingerprint != fp:
        raise Conflict(f"this {HEADER} was used for a different request")
    return Response(
        record.body,
        status_code=record.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def respond(
    session: Session,
    caller: Caller,
    key: str | None,
    fp: str,
    clock: Clock,
    status: int,
    content: Any,
) -> JSONResponse:
    response = JSONResponse(content, status_code=status)
    if key is not None:
        session.add(
            IdempotencyRecord(
                client_id=caller.token.client_id,
                key=key,
                fingerprint=fp,
                status_code=status,
                body=bytes(response.body),
                created_at=clock.now(),
            )
        )
        session.flush()
    return response
