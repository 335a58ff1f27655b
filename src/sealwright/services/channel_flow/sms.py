"""Wiring of the SMS PIN channel (C2) to the runtime: k_pin, the PIN policy from the
settings, and the SMS gateway the ``sms-otp`` method uses (the carrier simulator by
default)."""

from __future__ import annotations

from urllib.parse import urlsplit

from sealwright.channels.pin import PinPolicy
from sealwright.channels.sms import SmsPinChannel
from sealwright.errors import ConfigurationError
from sealwright.services.runtime import Runtime


def pin_policy(rt: Runtime) -> PinPolicy:
    s = rt.settings
    return PinPolicy(ttl_seconds=s.pin_ttl, digits=s.pin_digits, max_attempts=s.pin_max_attempts)


def sms_channel(rt: Runtime) -> SmsPinChannel:
    gateway = rt.sms

    def send(to: str, body: str, reference: str) -> str:
        if gateway is None:
            raise ConfigurationError("no SMS gateway is configured")
        return gateway.send(to=to, body=body, ref=f"{REPORT_PREFIX}{reference}")

    host = urlsplit(rt.settings.public_url).hostname or "localhost"
    return SmsPinChannel(k_pin=rt.channel_keys.pin_key, policy=pin_policy(rt), send=send, host=host)


#: The delivery-report reference of a channel text (``sms_gateway.status_url(ref)``).
REPORT_PREFIX = "channel-"


def delivery_report(rt: Runtime, ref: str, status: str, to: str) -> bool:
    """A signed delivery report for a channel text: a final failure ends the run
    (``undeliverable``, so the risk plan can fall back); False when it names no run of
    ours or another number than the recipient's."""
    from sealwright.channels.port import SignerEvidence
    from sealwright.channels.sms import DELIVERY_REPORT
    from sealwright.identity.sms import FINAL_FAILURES
    from sealwright.services.channel_flow.flow import ChannelFlow
    from sealwright.services.signer_auth.policy import RecipientAuth
    from sealwright.storage.models import ChannelVerification, Recipient

    verification_id = ref.removeprefix(REPORT_PREFIX)
    with rt.db.transaction() as session:
        row = session.get(ChannelVerification, verification_id)
        if row is None or row.channel != "sms-otp":
            return False
        recipient = session.get(Recipient, row.recipient_id)
        phone = RecipientAuth.from_json(recipient.auth if recipient else None).phone
        if to and to != phone:
            return False
        if status in FINAL_FAILURES and row.status == "pending":
            ChannelFlow(rt).complete(
                session, verification_id, SignerEvidence(DELIVERY_REPORT, status), by="carrier"
            )
    return True
