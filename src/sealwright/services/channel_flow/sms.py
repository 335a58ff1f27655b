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
        return gateway.send(to=to, body=body, ref=f"channel-{reference}")

    host = urlsplit(rt.settings.public_url).hostname or "localhost"
    return SmsPinChannel(k_pin=rt.channel_keys.pin_key, policy=pin_policy(rt), send=send, host=host)
