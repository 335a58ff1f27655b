"""Impossible travel: great-circle distance over elapsed time, country change, no data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sealwright.risk.context import GeoPoint, PriorRequest
from sealwright.risk.signals import ImpossibleTravel
from sealwright.risk.signals.travel import great_circle_km
from tests.unit.risk.risk_support import NOW, make_ctx

BERLIN = (52.52, 13.405)
PARIS = (48.8566, 2.3522)
SYDNEY = (-33.87, 151.21)


def test_great_circle_known_distances() -> None:
    assert great_circle_km(*BERLIN, *PARIS) == pytest.approx(878, abs=5)
    assert great_circle_km(*BERLIN, *SYDNEY) == pytest.approx(16_090, rel=0.01)
    assert great_circle_km(*BERLIN, *BERLIN) == 0


def prior(minutes_ago: float, where: tuple[float, float], country: str) -> PriorRequest:
    return PriorRequest(
        at=NOW - timedelta(minutes=minutes_ago), country=country, lat=where[0], lon=where[1]
    )


def test_berlin_to_sydney_in_an_hour_is_impossible() -> None:
    ctx = make_ctx({"geo": GeoPoint("AU", *SYDNEY)}, previous=(prior(60, BERLIN, "DE"),))
    result = ImpossibleTravel().evaluate(ctx)
    assert result.contribution == 35 + 10  # impossible speed + country change
    assert result.facts["country_change"] == "DE->AU"
    assert isinstance(result.value, int)
    assert result.value > 15_000
    assert "km/h" in result.explanation


def test_berlin_to_paris_in_two_hours_is_plausible_but_a_country_change() -> None:
    ctx = make_ctx({"geo": GeoPoint("FR", *PARIS)}, previous=(prior(120, BERLIN, "DE"),))
    result = ImpossibleTravel().evaluate(ctx)
    assert result.contribution == 10
    assert result.value == pytest.approx(439, abs=5)


def test_speed_limit_is_configurable() -> None:
    ctx = make_ctx({"geo": GeoPoint("FR", *PARIS)}, previous=(prior(120, BERLIN, "FR"),))
    assert ImpossibleTravel(max_speed_kmh=300).evaluate(ctx).contribution == 35
    assert ImpossibleTravel(max_speed_kmh=900).evaluate(ctx).contribution == 0


def test_small_distances_are_geolocation_noise() -> None:
    near = (52.6, 13.5)  # ~12 km: a city-level database cannot tell these apart
    ctx = make_ctx({"geo": GeoPoint("DE", *near)}, previous=(prior(0.1, BERLIN, "DE"),))
    assert ImpossibleTravel().evaluate(ctx).contribution == 0


def test_latest_located_prior_is_compared() -> None:
    old = prior(600, SYDNEY, "AU")
    recent = prior(60, PARIS, "FR")
    ctx = make_ctx({"geo": GeoPoint("DE", *BERLIN)}, previous=(recent, old))
    result = ImpossibleTravel().evaluate(ctx)
    assert result.facts["distance_km"] == pytest.approx(878, abs=5)
    assert result.contribution == 10  # FR -> DE only


@pytest.mark.parametrize(
    "ctx",
    [
        make_ctx({"geo": GeoPoint("DE", *BERLIN)}),
        make_ctx(previous=(prior(60, BERLIN, "DE"),)),
        make_ctx({"geo": GeoPoint(None)}, previous=(PriorRequest(at=NOW),)),
    ],
)
def test_no_data(ctx: object) -> None:
    result = ImpossibleTravel().evaluate(ctx)  # type: ignore[arg-type]
    assert result.contribution == 0
    assert result.explanation.startswith("no data")
