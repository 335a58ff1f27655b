"""The second-device ("qr-device") channel's pages (C4, docs/channel-qr-device.md).

* ``GET /s/device-qr/{verification_id}``: the QR image the signing page shows (signer
  cookie, the signer's own pending run). The token is derived here, on demand, and never
  stored; fetching the image records a keyed tag of the signing page's IP address in the
  run's state, so the confirmation can say whether the phone came from the same address.
* ``GET /s/device/{token}``: the phone's page (no signer cookie: it is another device):
  what is being confirmed -- the envelope's title and the signer's initials, nothing
  more -- and a Confirm button.
* ``POST /s/device/{token}``: completes the run with evidence ``device-token``.

A malformed, unknown, wrong, expired or used token gets one "not valid" page and a
``signer:device:refused`` event with the reason, and changes nothing else; malformed,
unknown and wrong tokens count against the client IP like guessed signing links. The
paths carry the token, so the access log redacts them (``web/auth.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sealwright.channels.port import SignerEvidence
from sealwright.channels.qr import render_svg
from sealwright.channels.qr_device import (
    EVIDENCE_KIND,
    SIGNER_IP,
    QrDeviceChannel,
    parse_token,
    user_agent_hash,
)
from sealwright.domain.events import EventTag
from sealwright.errors import ConfigurationError, RateLimited
from sealwright.services.ceremony import GUESS_SCOPE, UNATTRIBUTED, CeremonyService
from sealwright.services.channel_flow.flow import ChannelFlow, channels
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.services.throttle import Backoff, Throttle
from sealwright.storage.models import ChannelVerification, Envelope, Recipient
from sealwright.web.signer_channels import own_run
from sealwright.web.signer_methods import guarded
from sealwright.web.signer_pages import (
    RuntimeDep,
    client_ip,
    denied,
    page,
    same_origin,
    signer,
    throttled,
)

router = APIRouter(include_in_schema=False)

NAME = "qr-device"


@dataclass(frozen=True)
class _Run:
    row: ChannelVerification
    envelope: Envelope
    recipient: Recipient


def device_channel(rt: Runtime) -> QrDeviceChannel:
    found = channels(rt).get(NAME)
    if not isinstance(found, QrDeviceChannel):
        raise ConfigurationError("the qr-device channel is not available here")
    return found


@router.get("/s/device-qr/{verification_id}")
def device_qr(verification_id: str, request: Request, rt: RuntimeDep) -> Response:
    """The signing page's QR image, made on demand from the derived token."""

    def load(s: CeremonyService, db: Session, c: SignerContext) -> str:
        row = own_run(db, c, verification_id)
        if row.channel != NAME or row.status != "pending":
            return ""
        channel = device_channel(rt)
        if SIGNER_IP not in row.state:
            locked = db.get(ChannelVerification, row.id, with_for_update=True)
            assert locked is not None
            locked.state = {**locked.state, SIGNER_IP: channel.ip_tag(row.id, client_ip(request))}
        return channel.url(row.id, row.nonce)

    def run() -> Response:
        url = signer(rt, request, load)
        if not url:
            return Response(status_code=404, headers={"Cache-Control": "no-store"})
        svg = render_svg(url, scale=5)
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    return guarded(request, run)


@router.get("/s/device/{token}", response_class=HTMLResponse)
def phone_page(token: str, request: Request, rt: RuntimeDep) -> Response:
    def run() -> Response:
        with rt.db.transaction() as db:
            found = _check(rt, db, token, request)
            if isinstance(found, str):
                return _invalid(request)
            return page(
                request,
                "device.html",
                title=found.envelope.title,
                initials=_initials(found.recipient.name),
                token=token,
                done=False,
            )

    return _throttled(request, run)


@router.post("/s/device/{token}", response_class=HTMLResponse)
def phone_confirm(token: str, request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return denied(request)
    channel = device_channel(rt)

    def run() -> Response:
        with rt.db.transaction() as db:
            found = _check(rt, db, token, request)
            if isinstance(found, str):
                return _invalid(request)
            answer = {
                "token": token,
                "device": user_agent_hash(request.headers.get("user-agent", "")),
                "ip": channel.ip_tag(found.row.id, client_ip(request)),
            }
            row = ChannelFlow(rt).complete(
                db, found.row.id, SignerEvidence(EVIDENCE_KIND, json.dumps(answer)), by="signer"
            )
            if row.status != "passed":
                return _invalid(request)
            return page(request, "device.html", title=found.envelope.title, done=True)

    return _throttled(request, run)


# -- helpers ---------------------------------------------------------------------------------


def _check(rt: Runtime, db: Session, token: str, request: Request) -> _Run | str:
    """The run the token opens, or (after an event and, for guesses, a counted failure) the
    reason it does not."""
    throttle = Throttle(clock=rt.clock, pepper=rt.otp_pepper)
    ip = client_ip(request)
    if ip:
        throttle.check(db, (GUESS_SCOPE, ip))
    run_id = parse_token(token)
    row = db.get(ChannelVerification, run_id) if run_id else None
    if row is None or row.channel != NAME:
        return _refuse(rt, db, throttle, ip, None, "malformed" if run_id is None else "unknown")
    env, recipient = db.get(Envelope, row.envelope_id), db.get(Recipient, row.recipient_id)
    assert env is not None
    assert recipient is not None
    found = _Run(row, env, recipient)
    channel = device_channel(rt)
    if not channel.token_matches(token, row.id, row.nonce):
        return _refuse(rt, db, throttle, ip, found, "wrong-token")
    if row.status != "pending":
        return _refuse(rt, db, None, ip, found, f"run is {row.status}")
    if channel.expired(row.state, rt.clock.now()):
        return _refuse(rt, db, None, ip, found, "expired")
    return found


def _refuse(
    rt: Runtime,
    db: Session,
    throttle: Throttle | None,
    ip: str,
    found: _Run | None,
    reason: str,
) -> str:
    rt.audit.append(
        db,
        EventTag.DEVICE_LINK_REFUSED,
        tenant=found.envelope.tenant_id if found else UNATTRIBUTED,
        envelope=found.envelope.id if found else None,
        actor="anonymous",
        data={
            "verification": found.row.id if found else None,
            "recipient": found.recipient.id if found else None,
            "reason": reason,
        },
    )
    if throttle is not None and ip:
        s = rt.settings
        backoff = Backoff(s.link_guess_free_attempts, s.auth_backoff_base, s.auth_backoff_max)
        throttle.failure(db, GUESS_SCOPE, ip, backoff)
    return reason


def _throttled(request: Request, run: Callable[[], Response]) -> Response:
    try:
        return run()
    except RateLimited as exc:
        return throttled(request, exc.retry_after)


def _invalid(request: Request) -> Response:
    return page(request, "device_invalid.html", status=404)


def _initials(name: str) -> str:
    return " ".join(f"{part[:1].upper()}." for part in name.split()[:3]) or "—"
