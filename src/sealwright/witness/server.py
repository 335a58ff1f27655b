"""The witness over HTTP (ASGI, FastAPI): the tlog-witness routes and one extension.

- ``POST /add-checkpoint`` -- tlog-witness; the submission prefix is the server root.
- ``GET /<origin hash>/checkpoint`` -- tlog-witness "Monitor Retrieval Mechanism": the
  latest cosigned checkpoint, the origin hash being lowercase hex SHA-256 of the origin.
- ``GET /checkpoint/{origin}`` -- Sealwright extension, the same note addressed by the
  origin itself (percent-encoded as needed), for people with ``curl``; not in the spec.

Both reads answer 404 if the witness never cosigned for that origin. Bodies are plain
text; refusals carry a one-line reason. The blocking work (fsync, signing) runs in the
thread pool so the event loop keeps serving.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from sealwright.witness.errors import OldSizeMismatch, WitnessRefused
from sealwright.witness.protocol import (
    MAX_REQUEST_BYTES,
    SIZE_MEDIA_TYPE,
    format_size,
)
from sealwright.witness.service import Witness

__all__ = ["create_witness_app"]

_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")
_NOTE_TYPE = "text/plain; charset=utf-8"


def create_witness_app(witness: Witness) -> FastAPI:
    # No OpenAPI pages: the interface is the C2SP text protocol, not JSON.
    app = FastAPI(title="Sealwright witness", docs_url=None, redoc_url=None, openapi_url=None)

    def _refusal(status: int, reason: str) -> Response:
        return PlainTextResponse(reason + "\n", status_code=status)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await _read_body(request, MAX_REQUEST_BYTES)
        if body is None:
            return _refusal(413, f"request body larger than {MAX_REQUEST_BYTES} bytes")
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, body)
        except OldSizeMismatch as exc:
            # Set by hand: Starlette would append "; charset=utf-8" to a text/ media type,
            # and the spec fixes the Content-Type to exactly this value.
            return Response(
                format_size(exc.witness_size),
                status_code=409,
                headers={"Content-Type": SIZE_MEDIA_TYPE},
            )
        except WitnessRefused as exc:
            return _refusal(exc.status, exc.reason)
        return Response(lines.encode("utf-8"), media_type=_NOTE_TYPE)

    def _note(note: str | None, what: str) -> Response:
        if note is None:
            return _refusal(404, f"no cosigned checkpoint for {what}")
        return Response(note.encode("utf-8"), media_type=_NOTE_TYPE)

    @app.get("/checkpoint/{origin:path}")
    async def checkpoint_by_origin(origin: str) -> Response:
        note = await run_in_threadpool(witness.latest, origin)
        return _note(note, repr(origin))

    @app.get("/{digest}/checkpoint")
    async def checkpoint_by_hash(digest: str) -> Response:
        if not _ORIGIN_HASH.fullmatch(digest):
            return _refusal(404, "not a lowercase hex SHA-256 origin hash")
        note = await run_in_threadpool(witness.latest_by_origin_hash, digest)
        return _note(note, f"origin hash {digest}")

    return app


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` once it exceeds ``limit`` (without reading the rest)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
