"""The facts the risk signals read (D1), gathered from the request and the database.

:class:`RequestSignals` is what the web layer hands over (address, user agent, languages,
the ``sw_device`` cookie). :func:`gather` turns it, the recipient's earlier observations,
the devices seen for the signer identity across envelopes, the envelope's class and value,
velocity counts and the latest phone callback's attestation into a
:class:`~sealwright.risk.context.SignalContext`. Addresses are stored only as an HMAC
under the service's pepper (:func:`ip_ref`); coordinates are rounded to 0.1 degree.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sealwright.risk.context import (
    GeoPoint,
    KnownDevice,
    MotionResult,
    PriorRequest,
    RequestInfo,
    SignalContext,
    VelocityCounts,
)
from sealwright.risk.signals.geolocation import GeoIpDatabase
from sealwright.services.runtime import Runtime
from sealwright.storage.models import (
    ChannelVerification,
    Envelope,
    Recipient,
    SignerObservation,
)

__all__ = ["RequestSignals", "fingerprint", "gather", "geo_of", "ip_ref"]

VELOCITY_WINDOW = 3600
ATTESTATIONS = frozenset({"A", "B", "C"})
_GEO: dict[str, GeoIpDatabase] = {}
_GEO_LOCK = threading.Lock()


@dataclass(frozen=True)
class RequestSignals:
    """One signer request, as the web layer saw it."""

    ip: str | None = None
    user_agent: str = ""
    accept_language: str = ""
    device_id: str | None = None


def ip_ref(pepper: bytes, ip: str | None) -> str | None:
    """A pseudonym of an address: HMAC-SHA256 under the service's pepper (never the IP)."""
    if not ip:
        return None
    return hmac.new(pepper, b"ip\x00" + ip.encode(), hashlib.sha256).hexdigest()


def fingerprint(info: RequestSignals) -> str:
    data = f"{info.user_agent}\x00{info.accept_language}".encode()
    return hashlib.sha256(data).hexdigest()


def geo_of(rt: Runtime, ip: str | None) -> GeoPoint | None:
    """Country and coordinates (rounded to 0.1 degree) from the operator's database."""
    path = rt.settings.geoip_database
    if not path or not ip:
        return None
    with _GEO_LOCK:
        database = _GEO.get(path)
        if database is None:
            database = _GEO[path] = GeoIpDatabase(Path(path))
    point = database.lookup(ip)
    if point is None:
        return None
    return GeoPoint(
        country=point.country,
        lat=None if point.lat is None else round(point.lat, 1),
        lon=None if point.lon is None else round(point.lon, 1),
    )


def observations(session: Session, recipient_id: str) -> list[SignerObservation]:
    q = (
        select(SignerObservation)
        .where(SignerObservation.recipient_id == recipient_id)
        .order_by(SignerObservation.at, SignerObservation.id)
    )
    return list(session.execute(q).scalars())


def attestation(session: Session, recipient_id: str) -> str | None:
    """The STIR/SHAKEN attestation of this recipient's latest finished phone callback."""
    q = (
        select(ChannelVerification)
        .where(
            ChannelVerification.recipient_id == recipient_id,
            ChannelVerification.channel == "phone-callback",
            ChannelVerification.status.not_in(("pending", "superseded")),
        )
        .order_by(ChannelVerification.started_at.desc(), ChannelVerification.id.desc())
    )
    row = session.execute(q).scalars().first()
    if row is None:
        return None
    found = row.state.get("attestation")
    return found if found in ATTESTATIONS else None


def gather(
    session: Session,
    *,
    envelope: Envelope,
    recipient: Recipient,
    identity: str,
    request: RequestInfo,
    ip_pseudonym: str | None,
    motion: MotionResult | None,
    attested: str | None,
) -> SignalContext:
    """The context of one assessment; ``request`` is the current one (not yet stored)."""
    prior = observations(session, recipient.id)
    seen = session.execute(
        select(SignerObservation.device_id, SignerObservation.fingerprint)
        .where(SignerObservation.identity == identity, SignerObservation.device_id.is_not(None))
        .distinct()
    ).all()
    since = request.at - timedelta(seconds=VELOCITY_WINDOW)
    envelopes = _count(
        session,
        func.count(func.distinct(SignerObservation.recipient_id)),
        SignerObservation.identity == identity,
        since,
    )
    mine_counted = any(o.at >= since for o in prior)
    from_ip = (
        _count(session, func.count(), SignerObservation.ip_ref == ip_pseudonym, since)
        if ip_pseudonym
        else 0
    )
    return SignalContext(
        request=request,
        previous=tuple(
            PriorRequest(at=o.at, country=o.country, lat=o.lat, lon=o.lon) for o in prior
        ),
        known_devices=tuple(
            KnownDevice(device_id=str(d), fingerprint_hash=f) for d, f in seen if d is not None
        ),
        document_class=envelope.document_class,
        transaction_value=None
        if envelope.transaction_value is None
        else float(envelope.transaction_value),
        velocity=VelocityCounts(
            window_seconds=VELOCITY_WINDOW,
            identity_envelopes=envelopes + (0 if mine_counted else 1),
            ip_requests=from_ip + 1,
        ),
        attestation=attested,
        motion=motion,
    )


def _count(session: Session, what: object, where: object, since: datetime) -> int:
    q = select(what).where(where, SignerObservation.at >= since)  # type: ignore[call-overload]
    return int(session.execute(q).scalar_one() or 0)
