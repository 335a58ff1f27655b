"""The one input of every risk signal: a frozen :class:`SignalContext` (D1).

The caller (the orchestrator) gathers these facts from the request and the database; the
signals only read them. Every field may be missing: a signal without its data contributes 0
and says so. :func:`context_from_json` reads the JSON form used by ``sealwright policy
explain --signals`` (documented in ``docs/risk.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sealwright.errors import ValidationError

__all__ = [
    "FraudFlag",
    "GeoPoint",
    "KnownDevice",
    "MotionResult",
    "PriorRequest",
    "RequestInfo",
    "SignalContext",
    "VelocityCounts",
    "context_from_json",
]


@dataclass(frozen=True)
class GeoPoint:
    """Where an address is, as far as an offline database knows (country, coordinates)."""

    country: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class RequestInfo:
    """The request being assessed."""

    at: datetime
    ip: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    fingerprint_hash: str | None = None
    geo: GeoPoint | None = None


@dataclass(frozen=True)
class PriorRequest:
    """One earlier request of the same recipient (for impossible travel)."""

    at: datetime
    ip: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class KnownDevice:
    """A device already seen for this signer identity."""

    device_id: str
    fingerprint_hash: str | None = None


@dataclass(frozen=True)
class FraudFlag:
    """A fraud flag on the signer identity (``signer``) or the envelope's sender."""

    subject: str
    severity: str


@dataclass(frozen=True)
class VelocityCounts:
    """Counts in the caller's window (the current request included)."""

    window_seconds: int
    identity_envelopes: int | None = None
    identity_verifications: int | None = None
    ip_requests: int | None = None


@dataclass(frozen=True)
class MotionResult:
    """The precomputed signing-motion analysis (``risk.motion.MotionAssessment``):
    bot-likeness and similarity in 0..1, replay of an earlier signature."""

    bot_likeness: float | None = None
    similarity: float | None = None
    replay: bool | None = None

    @classmethod
    def of(cls, analysis: Any) -> MotionResult:
        """The three scalars of a ``MotionAssessment`` (or anything shaped like it)."""
        return cls(
            bot_likeness=getattr(analysis, "bot_likeness", None),
            similarity=getattr(analysis, "similarity", None),
            replay=getattr(analysis, "replay", None),
        )


@dataclass(frozen=True)
class SignalContext:
    request: RequestInfo
    previous: tuple[PriorRequest, ...] = ()
    known_devices: tuple[KnownDevice, ...] | None = None
    fraud_flags: tuple[FraudFlag, ...] | None = None
    document_class: str | None = None
    transaction_value: float | None = None
    velocity: VelocityCounts | None = None
    #: STIR/SHAKEN attestation of the phone channel's call: "A", "B", "C" or "none".
    attestation: str | None = None
    motion: MotionResult | None = None


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValidationError(f"{where}: expected an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{where}: not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _opt(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ValidationError(f"{where}.{key}: wrong type")
    return value


def _required(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}.{key}: required string")
    return value


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where}: expected an object")
    return value


def _list(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ValidationError(f"{where}: expected a list")
    return value


_NUM = (int, float)


def _geo(data: Mapping[str, Any], where: str) -> GeoPoint:
    return GeoPoint(
        country=_opt(data, "country", str, where),
        lat=_opt(data, "lat", _NUM, where),
        lon=_opt(data, "lon", _NUM, where),
    )


def context_from_json(data: object) -> SignalContext:
    """A :class:`SignalContext` from its JSON form; ``ValidationError`` names the field."""
    root = _obj(data, "context")
    req = _obj(root.get("request", {}), "request")
    geo = req.get("geo")
    request = RequestInfo(
        at=_time(req["at"], "request.at") if "at" in req else datetime.now(UTC),
        ip=_opt(req, "ip", str, "request"),
        user_agent=_opt(req, "user_agent", str, "request"),
        device_id=_opt(req, "device_id", str, "request"),
        fingerprint_hash=_opt(req, "fingerprint_hash", str, "request"),
        geo=_geo(_obj(geo, "request.geo"), "request.geo") if geo is not None else None,
    )
    previous = tuple(
        PriorRequest(
            at=_time(_obj(item, f"previous[{i}]").get("at"), f"previous[{i}].at"),
            ip=_opt(item, "ip", str, f"previous[{i}]"),
            country=_opt(item, "country", str, f"previous[{i}]"),
            lat=_opt(item, "lat", _NUM, f"previous[{i}]"),
            lon=_opt(item, "lon", _NUM, f"previous[{i}]"),
        )
        for i, item in enumerate(_list(root.get("previous", []), "previous"))
    )
    known = root.get("known_devices")
    flags = root.get("fraud_flags")
    velocity = root.get("velocity")
    motion = root.get("motion")
    return SignalContext(
        request=request,
        previous=previous,
        known_devices=None
        if known is None
        else tuple(
            KnownDevice(
                device_id=_required(
                    _obj(d, f"known_devices[{i}]"), "device_id", f"known_devices[{i}]"
                ),
                fingerprint_hash=_opt(d, "fingerprint_hash", str, f"known_devices[{i}]"),
            )
            for i, d in enumerate(_list(known, "known_devices"))
        ),
        fraud_flags=None
        if flags is None
        else tuple(
            FraudFlag(
                subject=str(_obj(f, f"fraud_flags[{i}]").get("subject", "signer")),
                severity=str(f.get("severity", "medium")),
            )
            for i, f in enumerate(_list(flags, "fraud_flags"))
        ),
        document_class=_opt(root, "document_class", str, "context"),
        transaction_value=_opt(root, "transaction_value", _NUM, "context"),
        velocity=None
        if velocity is None
        else VelocityCounts(
            window_seconds=_opt(_obj(velocity, "velocity"), "window_seconds", int, "velocity")
            or 3600,
            identity_envelopes=_opt(velocity, "identity_envelopes", int, "velocity"),
            identity_verifications=_opt(velocity, "identity_verifications", int, "velocity"),
            ip_requests=_opt(velocity, "ip_requests", int, "velocity"),
        ),
        attestation=_opt(root, "attestation", str, "context"),
        motion=None
        if motion is None
        else MotionResult(
            bot_likeness=_opt(_obj(motion, "motion"), "bot_likeness", _NUM, "motion"),
            similarity=_opt(motion, "similarity", _NUM, "motion"),
            replay=_opt(motion, "replay", bool, "motion"),
        ),
    )
