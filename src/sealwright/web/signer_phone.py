"""Phone callback (C1) over HTTP: the carrier's side of the call, and the signer's choice
of confirmation mode.

The carrier (Twilio, or the development simulator) calls ``/s/voice/{run}/...``:

- ``twiml``: the call's instructions when the phone is answered;
- ``spoken``: the ``<Redirect>`` after the PIN was said to the end (speak mode);
- ``gather``: the keys pressed (dtmf mode); answers with what the call says next;
- ``status``: call progress (ringing, busy, no-answer, completed, ...).

Each request must carry ``X-Twilio-Signature`` over the exact public URL we gave the
carrier (``public_url`` + path, never what a proxy forwards) and its form; one without is
refused with 403 and audited as a denial, and changes nothing. The signer's page starts a
run in a chosen mode with ``POST /s/voice/start`` (form field ``mode``: speak or dtmf);
``POST /s/channels/phone-callback/start`` starts one in speak mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sealwright.channels.phone import GOODBYE, MODES, NAME, PhoneCallbackChannel, VoicePaths
from sealwright.channels.port import VerificationRequest
from sealwright.errors import ConfigurationError
from sealwright.identity.voice import parse_call_status, parse_gather
from sealwright.services.ceremony import CeremonyService
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.storage.models import ChannelVerification, Recipient
from sealwright.web.auth import deny
from sealwright.web.signer_channels import guarded, ready, redirect_or_list
from sealwright.web.signer_pages import RuntimeDep, denied, page, same_origin, signer

router = APIRouter(include_in_schema=False)
#: A carrier callback is a handful of short fields; anything bigger is not one.
MAX_CALLBACK_BYTES = 16 * 1024
_REF = re.compile(r"[0-9a-f]{32}")
XML = "application/xml"
Params = list[tuple[str, str]]


def phone_channel(rt: Runtime) -> PhoneCallbackChannel:
    channel = ChannelFlow(rt).channel(NAME)
    if not isinstance(channel, PhoneCallbackChannel):
        raise ConfigurationError("phone-callback is not the phone callback channel")
    return channel


# -- the signer's choice -------------------------------------------------------------------


@router.post("/s/voice/start")
def start(
    request: Request, rt: RuntimeDep, mode: Annotated[str, Form(max_length=10)] = "speak"
) -> Response:
    """A new call in ``mode``: the call says the PIN (speak) or asks for the one the page
    shows (dtmf). The mode is set before the commit, so before the call is placed."""
    if not same_origin(request, rt):
        return denied(request)
    if mode not in MODES:
        return page(request, "denied.html", status=400)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> str:
        flow = ready(s, db, c)
        channel = phone_channel(rt)
        row = flow.start(
            db, c.envelope, c.recipient, NAME, session_hash=c.session.token_hash, actor="signer"
        )
        state, display = channel.with_mode(flow.request(db, row, c.recipient), row.state, mode)
        row.state, row.display = state, display
        return row.id

    return guarded(
        request, lambda: redirect_or_list(request, rt, lambda: signer(rt, request, act))
    )


# -- the carrier's requests ----------------------------------------------------------------


async def _verified(request: Request, rt: Runtime, ref: str, step: str) -> Params | Response:
    """The callback's form if its signature is the carrier's; else the refusal to send."""
    if _REF.fullmatch(ref) is None:
        return Response(status_code=404)
    if len(await request.body()) > MAX_CALLBACK_BYTES:
        return Response(status_code=413)
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    url = VoicePaths(rt.settings.public_url).url(ref, step)
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    if rt.sms is None or not rt.sms.valid_report(url, params, signature):
        await run_in_threadpool(
            deny, rt, None, request, f"voice {step} request without a valid X-Twilio-Signature"
        )
        return Response(status_code=403)
    return params


def _twiml(text: str) -> Response:
    return Response(text, media_type=XML, headers={"Cache-Control": "no-store"})


Step = Callable[[Session, ChannelFlow, PhoneCallbackChannel, ChannelVerification], str]


def _in_run(rt: Runtime, ref: str, step: Step, *, idle: str = GOODBYE) -> str:
    """Run ``step`` on a pending phone-callback run in one transaction; ``idle`` if the
    run is unknown, another channel's, or finished."""
    flow = ChannelFlow(rt)
    channel = phone_channel(rt)
    with rt.db.transaction() as session:
        row = session.get(ChannelVerification, ref, with_for_update=True)
        if row is None or row.channel != NAME or row.status != "pending":
            return idle
        return step(session, flow, channel, row)


def _request(session: Session, flow: ChannelFlow, row: ChannelVerification) -> VerificationRequest:
    recipient = session.get(Recipient, row.recipient_id)
    assert recipient is not None  # a foreign key
    return flow.request(session, row, recipient)


@router.post(VoicePaths.PREFIX + "{ref}/twiml")
async def twiml(ref: str, request: Request, rt: RuntimeDep) -> Response:
    params = await _verified(request, rt, ref, "twiml")
    if isinstance(params, Response):
        return params
    call_sid = dict(params).get("CallSid", "")

    def step(
        session: Session, flow: ChannelFlow, ch: PhoneCallbackChannel, row: ChannelVerification
    ) -> str:
        placed = str(row.state.get("call_sid") or "")
        if rt.clock.now() >= row.expires_at or (placed and placed != call_sid):
            return GOODBYE
        return ch.twiml(_request(session, flow, row), row.state)

    return _twiml(await run_in_threadpool(_in_run, rt, ref, step))


@router.post(VoicePaths.PREFIX + "{ref}/spoken")
async def spoken(ref: str, request: Request, rt: RuntimeDep) -> Response:
    params = await _verified(request, rt, ref, "spoken")
    if isinstance(params, Response):
        return params
    fields = {"call_sid": dict(params).get("CallSid", ""), "event": "spoken"}

    def step(
        session: Session, flow: ChannelFlow, ch: PhoneCallbackChannel, row: ChannelVerification
    ) -> str:
        evidence = ch.carrier_evidence(ref, "call-event", fields)
        flow.complete(session, ref, evidence, by="carrier")
        return ch.after_spoken()

    return _twiml(await run_in_threadpool(_in_run, rt, ref, step))


@router.post(VoicePaths.PREFIX + "{ref}/gather")
async def gather(ref: str, request: Request, rt: RuntimeDep) -> Response:
    params = await _verified(request, rt, ref, "gather")
    if isinstance(params, Response):
        return params
    try:
        keyed = parse_gather(dict(params))
    except ValueError:
        return Response(status_code=400)
    fields = {"call_sid": keyed.call_sid, "digits": keyed.digits}

    def step(
        session: Session, flow: ChannelFlow, ch: PhoneCallbackChannel, row: ChannelVerification
    ) -> str:
        flow.complete(session, ref, ch.carrier_evidence(ref, "dtmf", fields), by="carrier")
        _show_call(row)
        return ch.after_gather(_request(session, flow, row), row.status)

    return _twiml(await run_in_threadpool(_in_run, rt, ref, step))


@router.post(VoicePaths.PREFIX + "{ref}/status")
async def status(ref: str, request: Request, rt: RuntimeDep) -> Response:
    params = await _verified(request, rt, ref, "status")
    if isinstance(params, Response):
        return params
    try:
        report = parse_call_status(dict(params))
    except ValueError:
        return Response(status_code=400)
    fields = {"call_sid": report.call_sid, "status": report.status}
    if report.attestation:
        fields["attestation"] = report.attestation
    if report.answered_by:
        fields["answered_by"] = report.answered_by

    def step(
        session: Session, flow: ChannelFlow, ch: PhoneCallbackChannel, row: ChannelVerification
    ) -> str:
        evidence = ch.carrier_evidence(ref, "call-status", fields)
        flow.complete(session, ref, evidence, by="carrier")
        _show_call(row)
        return ""

    await run_in_threadpool(_in_run, rt, ref, step, idle="")
    return Response(status_code=204)


def _show_call(row: ChannelVerification) -> None:
    """Let the signer's page follow the call (ringing, answered, ...); once the run is over,
    a PIN the page showed (dtmf mode) is not kept there."""
    shown = {**row.display, "call": str(row.state.get("call_status") or "")}
    if row.status != "pending":
        shown.pop("pin", None)
    if shown != row.display:
        row.display = shown
