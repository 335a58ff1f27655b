"""Geolocation from a real (small) MaxMind-format database built here with mmdb-writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sealwright.errors import ConfigurationError
from sealwright.risk.context import GeoPoint, PriorRequest
from sealwright.risk.signals import GeoIpDatabase, Geolocation, enrich
from tests.unit.risk.risk_support import NOW, build_mmdb, make_ctx


@pytest.fixture(scope="module")
def geodb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    database = GeoIpDatabase(build_mmdb(tmp_path_factory.mktemp("geo") / "test.mmdb"))
    yield database
    database.close()


def test_lookup_ipv4_ipv6_and_misses(geodb: GeoIpDatabase) -> None:
    de = geodb.lookup("192.0.2.10")
    assert de is not None
    assert de.country == "DE"
    assert de.lat == pytest.approx(52.52)
    assert de.lon == pytest.approx(13.405)
    assert geodb.lookup("2001:db8:1::9") == GeoPoint("FR", None, None)
    assert geodb.lookup("203.0.113.1") is None
    assert geodb.lookup("not an ip") is None


def test_enrich_fills_current_and_previous(geodb: GeoIpDatabase) -> None:
    ctx = make_ctx({"ip": "198.51.100.4"}, previous=(PriorRequest(at=NOW, ip="192.0.2.1"),))
    filled = enrich(ctx, geodb)
    assert filled.request.geo is not None
    assert filled.request.geo.country == "AU"
    assert filled.previous[0].country == "DE"
    assert filled.previous[0].lat == pytest.approx(52.52)
    supplied = make_ctx({"ip": "198.51.100.4", "geo": GeoPoint("NZ")})
    assert enrich(supplied, geodb).request.geo == GeoPoint("NZ")  # the caller's wins
    assert enrich(ctx, None) is ctx


def test_geolocation_signal_lists(geodb: GeoIpDatabase) -> None:
    signal = Geolocation(deny_countries=frozenset({"AU"}), allow_countries=frozenset({"DE"}))
    au = signal.evaluate(enrich(make_ctx({"ip": "198.51.100.4"}), geodb))
    assert (au.value, au.contribution) == ("AU", 25)
    fr = signal.evaluate(enrich(make_ctx({"ip": "2001:db8:1::1"}), geodb))
    assert (fr.value, fr.contribution) == ("FR", 10)
    de = signal.evaluate(enrich(make_ctx({"ip": "192.0.2.1"}), geodb))
    assert (de.value, de.contribution) == ("DE", 0)
    unknown = signal.evaluate(enrich(make_ctx({"ip": "203.0.113.1"}), geodb))
    assert unknown.contribution == 0
    assert unknown.explanation.startswith("no data")


def test_unreadable_database_is_a_configuration_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mmdb"
    bogus.write_bytes(b"not a database")
    with pytest.raises(ConfigurationError):
        GeoIpDatabase(bogus)
    with pytest.raises(ConfigurationError):
        GeoIpDatabase(tmp_path / "missing.mmdb")
