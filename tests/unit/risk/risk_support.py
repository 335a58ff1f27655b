"""Shared builders of the risk unit tests (pure: no I/O beyond tmp_path)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]

from sealwright.risk.context import RequestInfo, SignalContext

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_ctx(request: dict[str, Any] | None = None, **fields: Any) -> SignalContext:
    return SignalContext(request=RequestInfo(at=NOW, **(request or {})), **fields)


def build_mmdb(path: Path) -> Path:
    """A small MaxMind-format database: 192.0.2.0/24 Berlin (DE), 198.51.100.0/24 Sydney
    (AU), 2001:db8:1::/48 France without coordinates."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["192.0.2.0/24"]),
        {"country": {"iso_code": "DE"}, "location": {"latitude": 52.52, "longitude": 13.405}},
    )
    writer.insert_network(
        IPSet(["198.51.100.0/24"]),
        {"country": {"iso_code": "AU"}, "location": {"latitude": -33.87, "longitude": 151.21}},
    )
    writer.insert_network(IPSet(["2001:db8:1::/48"]), {"country": {"iso_code": "FR"}})
    writer.to_db_file(str(path))
    return path
