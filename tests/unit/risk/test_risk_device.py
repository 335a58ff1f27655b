"""Device novelty: new identifier, changed fingerprint, first device, no history."""

from __future__ import annotations

import pytest

from sealwright.risk.context import KnownDevice
from sealwright.risk.signals import DeviceNovelty
from tests.unit.risk.risk_support import make_ctx

KNOWN = (KnownDevice("dev-1", "fp-aaa"), KnownDevice("dev-2", "fp-bbb"))


@pytest.mark.parametrize(
    ("device", "fingerprint", "value", "points"),
    [
        ("dev-1", "fp-aaa", "known", 0),
        ("dev-1", "fp-zzz", "changed", 10),
        ("dev-9", "fp-zzz", "new", 15),
        ("dev-9", "fp-bbb", "known-fingerprint", 0),
        (None, "fp-bbb", "known", 0),
        (None, "fp-zzz", "changed", 15),
    ],
)
def test_novelty(device: str | None, fingerprint: str, value: str, points: int) -> None:
    ctx = make_ctx({"device_id": device, "fingerprint_hash": fingerprint}, known_devices=KNOWN)
    result = DeviceNovelty().evaluate(ctx)
    assert (result.value, result.contribution) == (value, points)
    assert result.facts["known_devices"] == 2


def test_first_device_and_missing_data() -> None:
    signal = DeviceNovelty(no_history_points=7)
    first = signal.evaluate(make_ctx({"device_id": "d"}, known_devices=()))
    assert (first.value, first.contribution) == ("first", 7)
    unknown = signal.evaluate(make_ctx({"device_id": "d"}))
    assert unknown.contribution == 0
    assert unknown.explanation.startswith("no data")
    bare = signal.evaluate(make_ctx(known_devices=KNOWN))
    assert bare.contribution == 0
    assert bare.explanation.startswith("no data")
