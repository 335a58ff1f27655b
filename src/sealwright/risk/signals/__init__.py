"""Risk signals (D1): one plug-in per module, all reading one :class:`SignalContext`.

:func:`build_signals` builds the standard set from the ``signals`` section of a policy
(each signal's parameters; a signal set to ``false`` there is switched off).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sealwright.risk.signals.attestation import TelephonyAttestation
from sealwright.risk.signals.base import Signal, SignalResult, no_data
from sealwright.risk.signals.device import DeviceNovelty
from sealwright.risk.signals.document import DocumentSensitivity
from sealwright.risk.signals.fraud import FraudFlags
from sealwright.risk.signals.geolocation import GeoIpDatabase, Geolocation, GeoLookup, enrich
from sealwright.risk.signals.ip_reputation import IpList, IpReputation
from sealwright.risk.signals.motion import SigningMotion
from sealwright.risk.signals.travel import ImpossibleTravel
from sealwright.risk.signals.velocity import Velocity

__all__ = [
    "SIGNAL_NAMES",
    "DeviceNovelty",
    "DocumentSensitivity",
    "FraudFlags",
    "GeoIpDatabase",
    "GeoLookup",
    "Geolocation",
    "ImpossibleTravel",
    "IpList",
    "IpReputation",
    "Signal",
    "SignalResult",
    "SigningMotion",
    "TelephonyAttestation",
    "Velocity",
    "build_signals",
    "enrich",
    "no_data",
]

_BUILDERS: dict[str, Callable[[Mapping[str, Any], Path | None], Signal]] = {
    "ip-reputation": IpReputation.from_config,
    "geolocation": lambda c, _: Geolocation.from_config(c),
    "impossible-travel": lambda c, _: ImpossibleTravel.from_config(c),
    "device-novelty": lambda c, _: DeviceNovelty.from_config(c),
    "fraud-flags": lambda c, _: FraudFlags.from_config(c),
    "document": lambda c, _: DocumentSensitivity.from_config(c),
    "velocity": lambda c, _: Velocity.from_config(c),
    "telephony-attestation": lambda c, _: TelephonyAttestation.from_config(c),
    "signing-motion": lambda c, _: SigningMotion.from_config(c),
}

#: Every standard signal, in the order the score lists them.
SIGNAL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_signals(
    config: Mapping[str, Any] | None = None, *, base: Path | None = None
) -> tuple[Signal, ...]:
    """The standard signals with their parameters from ``config`` (a policy's ``signals``
    section); ``base`` is the directory that relative list files are read from."""
    config = config or {}
    out = []
    for name, build in _BUILDERS.items():
        section = config.get(name, {})
        if section is False:
            continue
        out.append(build(section if isinstance(section, Mapping) else {}, base))
    return tuple(out)
