"""IP geolocation from an offline MaxMind-format (.mmdb) database the operator supplies (D1).

No package on the index ships a current, cleanly licensed country database (see
docs/risk.md), so the database is the operator's: GeoLite2-Country / -City, DB-IP Lite or
any mmdb with ``country.iso_code`` (and optionally ``location.latitude``/``longitude``).
:func:`enrich` fills the context's geo fields from the database before the signals run;
the :class:`Geolocation` signal scores the country against configured lists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import maxminddb

from sealwright.errors import ConfigurationError
from sealwright.risk.context import GeoPoint, SignalContext
from sealwright.risk.signals.base import SignalResult, no_data

__all__ = ["GeoIpDatabase", "GeoLookup", "Geolocation", "enrich"]


class GeoLookup(Protocol):
    def lookup(self, ip: str) -> GeoPoint | None: ...


class GeoIpDatabase:
    """A read-only mmdb opened once (memory-mapped); ``lookup`` never raises."""

    def __init__(self, path: Path) -> None:
        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigurationError(f"cannot open geolocation database {path}") from exc

    def close(self) -> None:
        self._reader.close()

    def lookup(self, ip: str) -> GeoPoint | None:
        try:
            record = self._reader.get(ip)
        except (ValueError, maxminddb.InvalidDatabaseError):
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country")
        location = record.get("location")
        iso = country.get("iso_code") if isinstance(country, dict) else None
        lat = location.get("latitude") if isinstance(location, dict) else None
        lon = location.get("longitude") if isinstance(location, dict) else None
        return GeoPoint(
            country=iso if isinstance(iso, str) else None,
            lat=float(lat) if isinstance(lat, int | float) else None,
            lon=float(lon) if isinstance(lon, int | float) else None,
        )


def enrich(ctx: SignalContext, geo: GeoLookup | None) -> SignalContext:
    """``ctx`` with geo filled in from ``geo`` wherever the caller did not supply it."""
    if geo is None:
        return ctx
    request = ctx.request
    if request.geo is None and request.ip:
        request = dataclasses.replace(request, geo=geo.lookup(request.ip))
    previous = []
    for prior in ctx.previous:
        if prior.ip and (prior.country is None or prior.lat is None):
            point = geo.lookup(prior.ip)
            if point is not None:
                prior = dataclasses.replace(
                    prior,
                    country=prior.country or point.country,
                    lat=prior.lat if prior.lat is not None else point.lat,
                    lon=prior.lon if prior.lon is not None else point.lon,
                )
        previous.append(prior)
    return dataclasses.replace(ctx, request=request, previous=tuple(previous))


class Geolocation:
    """Points for a country on the deny list, or outside a non-empty allow list."""

    name = "geolocation"

    def __init__(
        self,
        *,
        deny_countries: frozenset[str] = frozenset(),
        deny_points: int = 25,
        allow_countries: frozenset[str] = frozenset(),
        outside_allow_points: int = 10,
    ) -> None:
        self.deny = frozenset(c.upper() for c in deny_countries)
        self.deny_points = deny_points
        self.allow = frozenset(c.upper() for c in allow_countries)
        self.outside_allow_points = outside_allow_points

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Geolocation:
        return cls(
            deny_countries=frozenset(config.get("deny_countries", [])),
            deny_points=config.get("deny_points", 25),
            allow_countries=frozenset(config.get("allow_countries", [])),
            outside_allow_points=config.get("outside_allow_points", 10),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        geo = ctx.request.geo
        if geo is None or not geo.country:
            return no_data(self.name, "country of the client address unknown")
        country = geo.country.upper()
        facts = {"country": country}
        if country in self.deny:
            return SignalResult(
                self.name,
                country,
                self.deny_points,
                f"country {country} is on the deny list",
                facts,
            )
        if self.allow and country not in self.allow:
            return SignalResult(
                self.name,
                country,
                self.outside_allow_points,
                f"country {country} is outside the allowed countries",
                facts,
            )
        return SignalResult(self.name, country, 0, f"country {country} raises no concern", facts)
