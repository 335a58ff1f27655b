"""Impossible travel and country change between a recipient's successive requests (D1).

The distance is the great-circle (haversine) distance between the current request's
coordinates and the latest earlier request that has coordinates; the implied speed is
distance / elapsed time. A speed above ``max_speed_kmh`` (900 km/h: an airliner) is
impossible travel. Distances under ``min_distance_km`` are ignored: offline geolocation is
only accurate to a city or a region. A different country from the previous request adds
``country_change_points`` even when the speed is possible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import Fact, SignalResult, no_data

__all__ = ["EARTH_RADIUS_KM", "ImpossibleTravel", "great_circle_km"]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class ImpossibleTravel:
    name = "impossible-travel"

    def __init__(
        self,
        *,
        max_speed_kmh: float = 900.0,
        min_distance_km: float = 100.0,
        points: int = 35,
        country_change_points: int = 10,
    ) -> None:
        self.max_speed_kmh = max_speed_kmh
        self.min_distance_km = min_distance_km
        self.points = points
        self.country_change_points = country_change_points

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImpossibleTravel:
        return cls(
            max_speed_kmh=config.get("max_speed_kmh", 900.0),
            min_distance_km=config.get("min_distance_km", 100.0),
            points=config.get("points", 35),
            country_change_points=config.get("country_change_points", 10),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        now, geo = ctx.request.at, ctx.request.geo
        earlier = sorted((p for p in ctx.previous if p.at <= now), key=lambda p: p.at)
        if not earlier:
            return no_data(self.name, "no earlier request of this recipient")
        if geo is None:
            return no_data(self.name, "location of the current request unknown")
        facts: dict[str, Fact] = {}
        points, reasons = 0, []
        last_country = next((p.country for p in reversed(earlier) if p.country), None)
        if last_country and geo.country and last_country.upper() != geo.country.upper():
            points += self.country_change_points
            facts["country_change"] = f"{last_country.upper()}->{geo.country.upper()}"
            reasons.append(f"country changed from {last_country.upper()} to {geo.country.upper()}")
        located = [(p.at, p.lat, p.lon) for p in earlier if p.lat is not None and p.lon is not None]
        speed: float | None = None
        if located and geo.lat is not None and geo.lon is not None:
            at, lat, lon = located[-1]
            km = great_circle_km(lat, lon, geo.lat, geo.lon)
            hours = max((now - at).total_seconds(), 1.0) / 3600
            speed = km / hours
            facts.update(distance_km=round(km), elapsed_s=round(hours * 3600))
            facts["speed_kmh"] = round(speed)
            if km >= self.min_distance_km and speed > self.max_speed_kmh:
                points += self.points
                reasons.append(
                    f"{round(km)} km in {round(hours * 60)} min implies {round(speed)} km/h "
                    f"> {round(self.max_speed_kmh)} km/h"
                )
        if not facts:
            return no_data(self.name, "no comparable location in the earlier requests")
        if not reasons:
            reasons.append("travel between requests is plausible")
        value: Fact = round(speed) if speed is not None else None
        return SignalResult(self.name, value, points, "; ".join(reasons), facts)
