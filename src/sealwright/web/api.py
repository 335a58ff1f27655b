"""The REST API (G1): envelopes, documents, fields, sending, voiding, sealed PDFs, evidence."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.envelopes import Rect
from sealwright.domain.events import EventTag
from sealwright.errors import NotFound, PdfRejected, ValidationError
from sealwright.identity.scopes import Scope, allows
from sealwright.keys.aead import decrypt_stream
from sealwright.services.envelopes import (
    EnvelopeService,
    FieldSpec,
    RecipientSpec,
    sealed_aad,
)
from sealwright.services.evidence_export import export_bundle
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import RecipientAuth
from sealwright.storage.models import Envelope
from sealwright.web import idempotency as idem
from sealwright.web.auth import Caller, envelope_for, runtime, scoped
from sealwright.web.schemas import (
    DocumentOut,
    EnvelopeIn,
    EnvelopeOut,
    EnvelopePage,
    EnvelopeSummary,
    FieldOut,
    FieldsIn,
    RecipientOut,
    SealOut,
    VoidIn,
)

router = APIRouter(prefix="/v1", tags=["envelopes"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]
# What each route needs, declared with the route (web/auth.py; the authorisation-matrix
# test reads these): the scope, the path parameter naming the envelope, the action name.
Creator = Annotated[Caller, Depends(scoped(Scope.ENVELOPES_WRITE, creates=True))]
Lister = Annotated[Caller, Depends(scoped(Scope.ENVELOPES_READ))]
Reader = Annotated[Caller, Depends(scoped(Scope.ENVELOPES_READ, envelope="envelope_id"))]
Writer = Annotated[Caller, Depends(scoped(Scope.ENVELOPES_WRITE, envelope="envelope_id"))]
Sender = Annotated[
    Caller,
    Depends(scoped(Scope.ENVELOPES_SEND, envelope="envelope_id", action="envelope:send")),
]
Voider = Annotated[
    Caller,
    Depends(scoped(Scope.ENVELOPES_VOID, envelope="envelope_id", action="envelope:void")),
]
Downloader = Annotated[
    Caller,
    Depends(scoped(Scope.ENVELOPES_READ, envelope="envelope_id", action="document:download")),
]
Exporter = Annotated[
    Caller,
    Depends(scoped(Scope.EVIDENCE_READ, envelope="envelope_id", action="evidence:export")),
]


def envelope_out(session: Session, env: Envelope) -> EnvelopeOut:
    docs = EnvelopeService.documents(session, env.id)
    return EnvelopeOut(
        id=env.id,
        title=env.title,
        status=env.status,
        status_reason=env.status_reason,
        document_class=env.document_class,
        transaction_value=env.transaction_value,
        folder=env.folder,
        created_at=env.created_at,
        sent_at=env.sent_at,
        completed_at=env.completed_at,
        expires_at=env.expires_at,
        max_auth_age_seconds=env.max_auth_age,
        seal=SealOut(status=env.seal_status, error=env.seal_error),
        documents=[
            DocumentOut(
                id=d.id,
                name=d.name,
                sha256=d.sha256,
                size=d.size,
                pages=len(d.page_sizes["pages"]),
                sealed_sha256=d.sealed_sha256,
            )
            for d in docs
        ],
        recipients=[
            RecipientOut(
                id=r.id,
                name=r.name,
                email=r.email,
                role=r.role,
                routing_order=r.routing_order,
                status=r.status,
                signed_at=r.signed_at,
                auth_methods=[m.value for m in RecipientAuth.from_json(r.auth).methods],
                phone=RecipientAuth.from_json(r.auth).phone,
                verification_channels=list(RecipientAuth.from_json(r.auth).channels),
                risk_based=RecipientAuth.from_json(r.auth).risk_based,
            )
            for r in EnvelopeService.recipients(session, env.id)
        ],
        fields=[
            FieldOut(
                id=f.id,
                document_id=f.document_id,
                recipient_id=f.recipient_id,
                kind=f.kind,
                page=f.page,
                x=f.x,
                y=f.y,
                width=f.width,
                height=f.height,
                required=f.required,
                label=f.label,
                filled=f.value is not None,
            )
            for f in EnvelopeService.fields(session, env.id)
        ],
    )


def _json(model: Any) -> Any:
    return jsonable_encoder(model)


async def _body_digest(request: Request) -> str:
    return hashlib.sha256(await request.body()).hexdigest()


Action = Callable[[Session, Envelope | None], tuple[int, Any]]


async def _post(
    rt: Runtime,
    request: Request,
    caller: Caller,
    envelope_id: str | None,
    action: Action,
    *,
    body_digest: str | None = None,
) -> Response:
    """The shape of every POST: load the envelope through the caller's tenant (first, so a
    denial commits alone), replay an ``Idempotency-Key`` answer, else act and remember."""
    key = idem.key_of(request)
    fp = idem.fingerprint(request, body_digest or await _body_digest(request))

    def work() -> Response:
        with rt.db.transaction() as session:
            env = envelope_for(rt, session, caller, envelope_id, request) if envelope_id else None
            if (again := idem.replay(session, caller, key, fp)) is not None:
                return again
            status, content = action(session, env)
            return idem.respond(session, caller, key, fp, rt.clock, status, _json(content))

    return await run_in_threadpool(work)


def _env(env: Envelope | None) -> Envelope:
    assert env is not None  # _post loads it whenever the route names one
    return env


@router.post("/envelopes", status_code=201, response_model=EnvelopeOut)
async def create_envelope(
    body: EnvelopeIn, request: Request, caller: Creator, rt: RuntimeDep
) -> Response:

    def act(session: Session, _: Envelope | None) -> tuple[int, Any]:
        env = EnvelopeService(rt).create(
            session,
            tenant_id=caller.tenant_id,
            actor=caller.actor,
            title=body.title,
            message=body.message,
            recipients=[
                RecipientSpec(
                    r.name,
                    str(r.email),
                    r.role,
                    r.routing_order,
                    auth=RecipientAuth.build(
                        r.auth_methods,
                        phone=r.phone,
                        access_code=r.access_code,
                        channels=r.verification_channels,
                        who=f"recipient {n}",
                        risk_based=r.risk_based,
                    ),
                )
                for n, r in enumerate(body.recipients, start=1)
            ],
            expires_in_days=body.expires_in_days or rt.settings.envelope_expires_in_days,
            document_class=body.document_class,
            transaction_value=body.transaction_value,
            max_auth_age=body.max_auth_age_seconds,
            folder=body.folder,
            reminders=body.reminders.model_dump() if body.reminders else None,
        )
        return 201, envelope_out(session, env)

    return await _post(rt, request, caller, None, act)


@router.get("/envelopes", response_model=EnvelopePage)
def list_envelopes(
    caller: Lister,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    folder: Annotated[str | None, Query(max_length=50)] = None,
) -> EnvelopePage:
    """The caller's envelopes: only those in its tenant, folders and envelopes."""
    token = caller.token
    if folder is not None and not allows(token.folders, folder):
        return EnvelopePage(items=[], next_cursor=None)
    with rt.db.transaction() as session:
        q = select(Envelope).where(Envelope.tenant_id == caller.tenant_id)
        if folder is not None:
            q = q.where(Envelope.folder == folder)
        if token.folders is not None:
            q = q.where(Envelope.folder.in_(sorted(token.folders)))
        if token.envelopes is not None:
            q = q.where(Envelope.id.in_(sorted(token.envelopes)))
        if cursor:
            try:
                after = base64.urlsafe_b64decode(cursor.encode()).decode()
            except ValueError:
                raise ValidationError("invalid cursor") from None
            q = q.where(Envelope.id > after)
        rows = list(session.execute(q.order_by(Envelope.id).limit(limit + 1)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            base64.urlsafe_b64encode(rows[-1].id.encode()).decode() if more and rows else None
        )
        return EnvelopePage(
            items=[
                EnvelopeSummary(
                    id=e.id,
                    title=e.title,
                    status=e.status,
                    folder=e.folder,
                    created_at=e.created_at,
                )
                for e in rows
            ],
            next_cursor=next_cursor,
        )


@router.get("/envelopes/{envelope_id}", response_model=EnvelopeOut)
def get_envelope(envelope_id: str, request: Request, caller: Reader, rt: RuntimeDep) -> EnvelopeOut:
    with rt.db.transaction() as session:
        env = envelope_for(rt, session, caller, envelope_id, request)
        return envelope_out(session, env)


@router.post(
    "/envelopes/{envelope_id}/documents",
    status_code=201,
    response_model=DocumentOut,
    openapi_extra={
        "requestBody": {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "required": True,
        }
    },
)
async def add_document(
    envelope_id: str,
    request: Request,
    caller: Writer,
    rt: RuntimeDep,
    name: Annotated[str, Query(min_length=1, max_length=300)],
) -> Response:
    """Upload one PDF as the raw request body (``Content-Type: application/pdf``)."""
    limit = rt.settings.max_document_bytes
    with tempfile.TemporaryFile() as spool:
        size = 0
        digest = hashlib.sha256()
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                break  # stop reading: the rest is never buffered
            digest.update(chunk)
            spool.write(chunk)

        def act(session: Session, env: Envelope | None) -> tuple[int, Any]:
            service = EnvelopeService(rt)
            if size > limit:
                service.reject_document(
                    session,
                    _env(env),
                    actor=caller.actor,
                    error=PdfRejected("too-large", f"the document exceeds {limit} bytes"),
                )
            spool.seek(0)
            doc = service.add_document(
                session, _env(env), actor=caller.actor, name=name, stream=spool
            )
            return 201, DocumentOut(
                id=doc.id,
                name=doc.name,
                sha256=doc.sha256,
                size=doc.size,
                pages=len(doc.page_sizes["pages"]),
                sealed_sha256=None,
            )

        return await _post(rt, request, caller, envelope_id, act, body_digest=digest.hexdigest())


@router.post("/envelopes/{envelope_id}/fields", status_code=201, response_model=EnvelopeOut)
async def place_fields(
    envelope_id: str, body: FieldsIn, request: Request, caller: Writer, rt: RuntimeDep
) -> Response:

    def act(session: Session, env: Envelope | None) -> tuple[int, Any]:
        specs = [
            FieldSpec(
                f.document_id,
                f.recipient_id,
                f.kind,
                Rect(f.page, f.x, f.y, f.width, f.height),
                f.required,
                f.label,
            )
            for f in body.fields
        ]
        EnvelopeService(rt).place_fields(session, _env(env), actor=caller.actor, fields=specs)
        return 201, envelope_out(session, _env(env))

    return await _post(rt, request, caller, envelope_id, act)


@router.post("/envelopes/{envelope_id}/send", response_model=EnvelopeOut)
async def send_envelope(
    envelope_id: str, request: Request, caller: Sender, rt: RuntimeDep
) -> Response:

    def act(session: Session, env: Envelope | None) -> tuple[int, Any]:
        EnvelopeService(rt).send(session, _env(env), actor=caller.actor)
        return 200, envelope_out(session, _env(env))

    return await _post(rt, request, caller, envelope_id, act)


@router.post("/envelopes/{envelope_id}/void", response_model=EnvelopeOut)
async def void_envelope(
    envelope_id: str, body: VoidIn, request: Request, caller: Voider, rt: RuntimeDep
) -> Response:

    def act(session: Session, env: Envelope | None) -> tuple[int, Any]:
        EnvelopeService(rt).void(session, _env(env), actor=caller.actor, reason=body.reason)
        return 200, envelope_out(session, _env(env))

    return await _post(rt, request, caller, envelope_id, act)


@router.get(
    "/envelopes/{envelope_id}/documents/{document_id}/sealed",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/pdf": {}}}},
)
def sealed_document(
    envelope_id: str, document_id: str, request: Request, caller: Downloader, rt: RuntimeDep
) -> StreamingResponse:
    with rt.db.transaction() as session:
        env = envelope_for(rt, session, caller, envelope_id, request)
        doc = next(
            (d for d in EnvelopeService.documents(session, env.id) if d.id == document_id), None
        )
        if doc is None or doc.sealed_blob_key is None:
            raise NotFound("no sealed document with that id (yet)")
        blob_key = doc.sealed_blob_key
        rt.audit.append(
            session,
            EventTag.SEALED_DOWNLOADED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor=caller.actor,
            data={"document": doc.id},
        )

    def chunks() -> Iterator[bytes]:
        yield from decrypt_stream(
            rt.blobs.get(blob_key), keyring=rt.keyring, aad=sealed_aad(document_id)
        )

    return StreamingResponse(
        chunks(),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document_id}.sealed.pdf"'},
    )


@router.get(
    "/envelopes/{envelope_id}/evidence", responses={200: {"content": {"application/zip": {}}}}
)
def evidence(envelope_id: str, request: Request, caller: Exporter, rt: RuntimeDep) -> Response:
    with rt.db.transaction() as session:
        envelope_for(rt, session, caller, envelope_id, request)
    data = export_bundle(rt, envelope_id, actor=caller.actor, tenant_id=caller.tenant_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{envelope_id}.zip"'},
    )
