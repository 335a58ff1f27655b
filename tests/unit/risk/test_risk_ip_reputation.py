"""IP reputation: deny lists add, allow lists subtract, IPv4 and IPv6, files, no data."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealwright.errors import ConfigurationError
from sealwright.risk.signals import IpList, IpReputation
from tests.unit.risk.risk_support import make_ctx

TOR = IpList.build("tor-exits", 30, ["185.220.101.0/24", "2001:db8:dead::/48"])
CORP = IpList.build("corporate", -15, ["10.20.0.0/16", "2001:db8:c0::/48"])


@pytest.mark.parametrize(
    ("ip", "points", "lists"),
    [
        ("185.220.101.7", 30, "tor-exits"),
        ("2001:db8:dead:1::5", 30, "tor-exits"),
        ("10.20.3.4", -15, "corporate"),
        ("2001:db8:c0::1", -15, "corporate"),
        ("::ffff:185.220.101.9", 30, "tor-exits"),  # IPv4-mapped IPv6 is the IPv4 address
        ("198.51.100.1", 0, ""),
    ],
)
def test_lists_by_version(ip: str, points: int, lists: str) -> None:
    result = IpReputation([TOR, CORP]).evaluate(make_ctx({"ip": ip}))
    assert result.contribution == points
    assert result.facts["lists"] == lists
    assert ip not in result.explanation  # the address never reaches the evidence
    assert ip not in str(result.facts)


def test_every_matching_list_contributes() -> None:
    broad = IpList.build("hosting", 10, ["185.220.0.0/16"])
    result = IpReputation([TOR, broad]).evaluate(make_ctx({"ip": "185.220.101.1"}))
    assert result.contribution == 40
    assert "tor-exits (+30)" in result.explanation
    assert "hosting (+10)" in result.explanation


@pytest.mark.parametrize("ip", [None, "", "not-an-ip"])
def test_no_data_contributes_zero(ip: str | None) -> None:
    result = IpReputation([TOR]).evaluate(make_ctx({"ip": ip}))
    assert result.contribution == 0
    assert result.value is None
    assert result.explanation.startswith("no data")


def test_list_from_file_relative_to_base(tmp_path: Path) -> None:
    (tmp_path / "tor.txt").write_text("# exits\n185.220.101.7\n\n2001:db8::/32  # v6\n")
    signal = IpReputation.from_config(
        {"lists": [{"name": "tor", "points": 25, "file": "tor.txt"}]}, tmp_path
    )
    assert signal.evaluate(make_ctx({"ip": "185.220.101.7"})).contribution == 25
    assert signal.evaluate(make_ctx({"ip": "185.220.101.8"})).contribution == 0
    assert signal.evaluate(make_ctx({"ip": "2001:db8:1::1"})).contribution == 25


def test_bad_entries_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not an address"):
        IpList.build("x", 1, ["10.0.0.0/33"])
    with pytest.raises(ConfigurationError, match="cannot read"):
        IpList.build("x", 1, [], tmp_path / "missing.txt")
