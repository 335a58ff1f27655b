"""Signer pages for SMS codes (``sms-otp``) and the carrier's delivery reports.

The code page says plainly when the carrier reported the text undelivered (the signer can
do something about it: ask the sender for the right number, or send a new code); wrong,
expired and unknown codes get the one answer every code page gives.

Delivery reports (``POST /s/sms/status/{ref}``) come from the carrier, not from a browser:
the ``X-Twilio-Signature`` over the exact public URL is checked before anything else, and
a report without a valid one is refused (403) and audited as a denial.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.identity.sms import parse_status_callback
from sealwright.services.ceremony import CeremonyService
from sealwright.services.channel_flow.sms import REPORT_PREFIX, delivery_report
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.policy import Method, RecipientAuth
from sealwright.services.signer_auth.sms_delivery import Delivery, SmsDelivery
from sealwright.services.signer_auth.sms_gateway import STATUS_PATH
from sealwright.web.auth import deny
from sealwright.web.signer_methods import CodeForm, code_page, guarded, submit_code
from sealwright.web.signer_pages import RuntimeDep, denied, masked_phone, same_origin, signer

router = APIRouter(include_in_schema=False)
UNDELIVERED = (
    "We could not deliver the text message to {phone}. Check with the sender that this is "
    "your mobile number, or send a new code."
)
#: A delivery report is a handful of short fields; anything bigger is not one.
MAX_REPORT_BYTES = 16 * 1024


@router.get("/s/sms", response_class=HTMLResponse)
def sms_form(request: Request, rt: RuntimeDep) -> Response:
    def load(
        s: CeremonyService, db: Session, c: SignerContext
    ) -> tuple[SignerContext, Delivery | None]:
        s.method(c, Method.SMS_OTP.value)  # only the recipient's own methods have a page
        return c, SmsDelivery(rt).latest(db, c)

    def run() -> Response:
        ctx, delivery = signer(rt, request, load)
        error = None
        if delivery is not None and delivery.failed:
            phone = RecipientAuth.from_json(ctx.recipient.auth).phone
            error = UNDELIVERED.format(phone=masked_phone(phone))
        return code_page(request, ctx, Method.SMS_OTP, error=error)

    return guarded(request, run)


@router.post("/s/sms")
def sms_submit(request: Request, rt: RuntimeDep, code: CodeForm = "") -> Response:
    return submit_code(request, rt, Method.SMS_OTP, code)


@router.post("/s/sms/send")
def sms_send(request: Request, rt: RuntimeDep) -> Response:
    """A new code (the step-up page's "Text me a new code", the code page's resend)."""
    if not same_origin(request, rt):
        return denied(request)

    def run() -> Response:
        signer(rt, request, lambda s, db, c: s.method(c, Method.SMS_OTP.value).begin(db, c))
        return RedirectResponse("/s/sms", status_code=303)

    return guarded(request, run)


@router.post(STATUS_PATH + "{ref}")
async def sms_status(ref: str, request: Request, rt: RuntimeDep) -> Response:
    body = await request.body()
    if len(body) > MAX_REPORT_BYTES:
        return Response(status_code=413)
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    signature = request.headers.get("x-twilio-signature", "")
    # Twilio signs the URL it called: the one we gave it (on ``public_url``), not whatever
    # a proxy in front of us forwards.
    url = rt.sms.status_url(ref) if rt.sms is not None else ""
    if request.url.query:
        url += "?" + request.url.query
    if rt.sms is None or not rt.sms.valid_report(url, params, signature):
        await run_in_threadpool(
            deny, rt, None, request, "SMS delivery report without a valid X-Twilio-Signature"
        )
        return Response(status_code=403)
    try:
        report = parse_status_callback(dict(params))
    except ValueError:
        return Response(status_code=400)
    if ref.startswith(REPORT_PREFIX):  # a channel's PIN text (C2), not a method's code
        known = await run_in_threadpool(delivery_report, rt, ref, report.status, report.to)
        return Response(status_code=204 if known else 404)
    recorded = await run_in_threadpool(SmsDelivery(rt).report, ref, report)
    return Response(status_code=204 if recorded else 404)
