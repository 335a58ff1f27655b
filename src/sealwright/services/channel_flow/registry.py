"""Which channel implementation serves which channel name: the one place that wires them.

Each entry builds a :class:`~sealwright.channels.port.VerificationChannel` from the
runtime (its keys, its providers). A name the recipient may be required to pass
(``policy.CHANNELS``) but that has no entry here cannot be started (a configuration error
the flow reports), so a half-wired channel never silently passes.
"""

from __future__ import annotations

from collections.abc import Callable

from sealwright.channels.port import VerificationChannel
from sealwright.channels.video import FaceMatcher
from sealwright.services.runtime import Runtime

ChannelFactory = Callable[[Runtime], VerificationChannel]


def _manual_review(rt: Runtime) -> VerificationChannel:
    from sealwright.channels.review import ManualReviewChannel

    return ManualReviewChannel(ttl_seconds=rt.settings.review_ttl_seconds)


def _assisted(rt: Runtime) -> VerificationChannel:
    from sealwright.channels.review import AssistedChannel

    return AssistedChannel(ttl_seconds=rt.settings.review_ttl_seconds)


def _sms(rt: Runtime) -> VerificationChannel:
    from sealwright.services.channel_flow.sms import sms_channel

    return sms_channel(rt)


def _phone(rt: Runtime) -> VerificationChannel:
    from sealwright.channels.phone import PhoneCallbackChannel
    from sealwright.errors import ConfigurationError
    from sealwright.identity.voice import TwilioVoice
    from sealwright.services.channel_flow.sms import pin_policy

    if rt.sms is None:  # the call goes out on the SMS settings' Twilio account
        raise ConfigurationError("phone-callback needs the twilio_* settings (or the simulator)")
    return PhoneCallbackChannel(
        k_pin=rt.channel_keys.pin_key,
        policy=pin_policy(rt),
        calls=TwilioVoice(rt.sms.account, http=rt.sms.http),
        public_url=rt.settings.public_url,
        provider=rt.settings.sms_mode,
    )


def _qr_device(rt: Runtime) -> VerificationChannel:
    from sealwright.channels.qr_device import QrDeviceChannel, device_key

    return QrDeviceChannel(
        key=device_key(rt.channel_keys.pin_key),
        public_url=rt.settings.public_url,
        ttl_seconds=rt.settings.qr_device_ttl,
    )


def _video(rt: Runtime) -> VerificationChannel:
    from sealwright.channels.video import VideoChannel
    from sealwright.liveness.builtin import HaarLiveness
    from sealwright.services.channel_flow.video_store import VideoStore

    return VideoChannel(
        liveness=HaarLiveness(),
        captures=VideoStore(rt),
        random=rt.random,
        retention_days=rt.settings.video_retention_days,
        faces=_faces(rt),
    )


def _faces(rt: Runtime) -> FaceMatcher | None:
    from sealwright.services.channel_flow.face_templates import FaceTemplates

    return FaceTemplates(rt) if rt.settings.video_face_match == "enrol-and-match" else None


FACTORIES: dict[str, ChannelFactory] = {
    "video": _video,
    "qr-device": _qr_device,
    "phone-callback": _phone,
    "manual-review": _manual_review,
    "assisted": _assisted,
    "sms-otp": _sms,
}


def build_channels(rt: Runtime) -> dict[str, VerificationChannel]:
    return {name: factory(rt) for name, factory in FACTORIES.items()}
