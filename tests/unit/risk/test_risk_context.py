"""The JSON form of a signal context (what `policy explain --signals` reads)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from sealwright.errors import ValidationError
from sealwright.risk.context import GeoPoint, KnownDevice, MotionResult, context_from_json


def test_full_context() -> None:
    ctx = context_from_json(
        {
            "request": {
                "at": "2026-11-22T12:00:00Z",
                "ip": "192.0.2.1",
                "device_id": "d1",
                "fingerprint_hash": "f1",
                "geo": {"country": "DE", "lat": 52.5, "lon": 13},
            },
            "previous": [{"at": "2026-11-22T11:00:00", "country": "AU", "lat": -33.9}],
            "known_devices": [{"device_id": "d0", "fingerprint_hash": "f0"}],
            "fraud_flags": [{"subject": "sender", "severity": "low"}],
            "document_class": "payroll",
            "transaction_value": 12000,
            "velocity": {"window_seconds": 600, "ip_requests": 4},
            "attestation": "B",
            "motion": {"bot_likeness": 0.2, "similarity": 0.8, "replay": False},
        }
    )
    assert ctx.request.at == datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert ctx.request.geo == GeoPoint("DE", 52.5, 13)
    assert ctx.previous[0].at.tzinfo is UTC  # naive times are UTC
    assert ctx.known_devices == (KnownDevice("d0", "f0"),)
    assert ctx.fraud_flags is not None
    assert ctx.fraud_flags[0].subject == "sender"
    assert ctx.velocity is not None
    assert ctx.velocity.ip_requests == 4
    assert ctx.motion == MotionResult(0.2, 0.8, replay=False)


def test_absent_sections_stay_unknown() -> None:
    ctx = context_from_json({"request": {"at": "2026-11-22T12:00:00+01:00"}})
    assert ctx.known_devices is None
    assert ctx.fraud_flags is None
    assert ctx.velocity is None


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "context"),
        ({"request": {"at": "yesterday"}}, "request.at"),
        ({"request": {"ip": 5}}, "request.ip"),
        ({"transaction_value": True}, "context.transaction_value"),
        ({"previous": {}}, "previous"),
        ({"motion": {"similarity": "high"}}, "motion.similarity"),
        ({"known_devices": [{"fingerprint_hash": "f"}]}, "known_devices[0].device_id"),
        ({"fraud_flags": ["x"]}, "fraud_flags[0]"),
        ({"velocity": {"window_seconds": "hour"}}, "velocity.window_seconds"),
    ],
)
def test_errors_name_the_field(data: object, where: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(where)):
        context_from_json(data)
