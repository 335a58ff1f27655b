"""Signer routes of the video channel (C3): consent, chunked upload, finish.

Under ``/s/channels/v/{verification_id}/video/`` (the signer cookie's path), for the
signer's own pending ``video`` run only; everything else gets the one opaque answer.

* ``POST .../consent`` (form ``consent=video-recording-v1``): the signer agrees to the
  recording and its biometric processing; then back to the run's page.
* ``POST .../chunks?seq=N`` (raw bytes, ``Content-Type: video/webm`` or ``video/mp4``, at
  most 1 MiB; at most 50 MiB in all): in order from 0; a repeated ``seq`` with the same bytes
  is accepted again (retries), ``seq=0`` with other bytes starts over.
* ``POST .../finish`` (JSON ``{"sha256": hex of SHA-256(video || nonce)}``): assembles the
  encrypted recording and hands it to the channel; answers ``{"status", "reason",
  "attempts_left"}``, 422 when the hash does not match the stored bytes.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.channels.port import SignerEvidence
from sealwright.channels.video import CONSENT_TEXT, MAX_ATTEMPTS
from sealwright.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    RateLimited,
    SealwrightError,
    ValidationError,
)
from sealwright.services.ceremony import CeremonyService
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.channel_flow.video_store import MAX_CHUNK, VideoStore
from sealwright.services.signer_audit import SignerContext
from sealwright.storage.models import ChannelVerification
from sealwright.web.signer_pages import RuntimeDep, denied, json_refusal, same_origin, signer

router = APIRouter(include_in_schema=False)
BASE = "/s/channels/v/{verification_id}/video"
HASH_MISMATCH = "the video's hash does not match its bytes: the upload was changed or cut"


def _run(
    s: CeremonyService, db: Session, ctx: SignerContext, verification_id: str
) -> ChannelVerification:
    """The signer's own pending video run (as for the generic channel pages: only after
    the signer's methods and the consent to electronic records)."""
    s.require_verified(db, ctx)
    if ctx.session.consent_at is None:
        raise NotFound("verification not found")
    run = db.get(ChannelVerification, verification_id)
    if run is None or run.recipient_id != ctx.recipient.id or run.channel != "video":
        raise NotFound("verification not found")
    if run.status != "pending":
        raise Conflict(f"this verification is {run.status}")
    if run.expires_at <= s.rt.clock.now():
        raise Conflict("this verification has expired: start a new one")
    return run


def _answer(fn: Any) -> Response:
    try:
        return fn()  # type: ignore[no-any-return]
    except RateLimited as exc:
        return json_refusal(429, exc.retry_after)
    except AuthenticationFailed:
        return json_refusal(401)
    except NotFound:
        return JSONResponse({"error": "not found"}, status_code=404)
    except (Conflict, ValidationError) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)


async def _body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    parts, size = [], 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            return None
        parts.append(piece)
    return b"".join(parts)


@router.post(BASE + "/consent")
async def video_consent(verification_id: str, request: Request, rt: RuntimeDep) -> Response:
    form = await request.form()
    given = form.get("consent") == CONSENT_TEXT

    def act(s: CeremonyService, db: Session, c: SignerContext) -> None:
        run = _run(s, db, c, verification_id)
        if given:
            ChannelFlow(rt).complete(
                db, run.id, SignerEvidence("consent", CONSENT_TEXT), by="signer",
                recipient_id=c.recipient.id,
            )

    def go() -> Response:
        if not same_origin(request, rt):
            return denied(request)
        try:
            signer(rt, request, act)
        except AuthenticationFailed:
            return denied(request)
        except SealwrightError:
            pass  # a finished or foreign run: its page says what there is to say
        return RedirectResponse(f"/s/channels/v/{verification_id}", status_code=303)

    return await run_in_threadpool(go)


@router.post(BASE + "/chunks")
async def video_chunk(
    verification_id: str, seq: int, request: Request, rt: RuntimeDep
) -> Response:
    data = await _body(request, MAX_CHUNK)
    if data is None:
        return JSONResponse({"error": f"a chunk is at most {MAX_CHUNK} bytes"}, status_code=413)
    content_type = request.headers.get("content-type", "")

    def act(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        run = _run(s, db, c, verification_id)
        if run.state.get("consent_at") is None:
            raise Conflict("consent to the recording first")
        if seq < 0:
            raise ValidationError("seq is 0 or more")
        rec = VideoStore(rt).put_chunk(db, run, seq, data, content_type)
        return {"upload": rec.id, "received": rec.chunks, "bytes": rec.size}

    def go() -> Response:
        if not same_origin(request, rt):
            return json_refusal(401)
        return JSONResponse(signer(rt, request, act))

    return await run_in_threadpool(_answer, go)


@router.post(BASE + "/finish")
async def video_finish(verification_id: str, request: Request, rt: RuntimeDep) -> Response:
    raw = await _body(request, 4096)
    try:
        client_hash = str(json.loads(raw or b"{}").get("sha256", ""))
    except (ValueError, AttributeError):
        return JSONResponse({"error": "send {\"sha256\": hex}"}, status_code=400)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        run = _run(s, db, c, verification_id)
        store = VideoStore(rt)
        rec = store.finish(db, run)
        with store.bound(db):
            ChannelFlow(rt).complete(
                db, run.id, SignerEvidence("video", f"{rec.id}:{client_hash}"),
                by="signer", recipient_id=c.recipient.id,
            )
        attempts = run.state.get("attempts")
        used = attempts if isinstance(attempts, int) else 0
        return {
            "status": run.status,
            "reason": run.state.get("last_reason"),
            "attempts_left": 0 if run.status != "pending" else max(0, MAX_ATTEMPTS - used),
        }

    def go() -> Response:
        if not same_origin(request, rt):
            return json_refusal(401)
        body = signer(rt, request, act)
        if body["reason"] == "hash-mismatch":
            return JSONResponse({**body, "error": HASH_MISMATCH}, status_code=422)
        return JSONResponse(body)

    return await run_in_threadpool(_answer, go)

