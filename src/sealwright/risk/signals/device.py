"""Device novelty: a device identifier, or its fingerprint, never seen for this signer (D1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import SignalResult, no_data

__all__ = ["DeviceNovelty"]


class DeviceNovelty:
    name = "device-novelty"

    def __init__(
        self,
        *,
        new_device_points: int = 15,
        changed_fingerprint_points: int = 10,
        no_history_points: int = 5,
    ) -> None:
        self.new_device_points = new_device_points
        self.changed_fingerprint_points = changed_fingerprint_points
        self.no_history_points = no_history_points

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeviceNovelty:
        return cls(
            new_device_points=config.get("new_device_points", 15),
            changed_fingerprint_points=config.get("changed_fingerprint_points", 10),
            no_history_points=config.get("no_history_points", 5),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        device, fingerprint = ctx.request.device_id, ctx.request.fingerprint_hash
        if not device and not fingerprint:
            return no_data(self.name, "no device identifier or fingerprint")
        known = ctx.known_devices
        if known is None:
            return no_data(self.name, "device history not available")
        if not known:
            return SignalResult(
                self.name,
                "first",
                self.no_history_points,
                "first device ever seen for this signer",
                {"known_devices": 0},
            )
        facts = {"known_devices": len(known)}
        same_id = [d for d in known if device and d.device_id == device]
        if device and not same_id:
            if fingerprint and any(d.fingerprint_hash == fingerprint for d in known):
                return SignalResult(
                    self.name,
                    "known-fingerprint",
                    0,
                    "new device identifier but a known fingerprint",
                    facts,
                )
            return SignalResult(
                self.name,
                "new",
                self.new_device_points,
                "device never seen for this signer",
                facts,
            )
        pool = same_id or list(known)
        if fingerprint and not any(d.fingerprint_hash == fingerprint for d in pool):
            points = self.changed_fingerprint_points if same_id else self.new_device_points
            what = "known device, changed fingerprint" if same_id else "fingerprint never seen"
            return SignalResult(self.name, "changed", points, what, facts)
        return SignalResult(self.name, "known", 0, "device already seen for this signer", facts)
