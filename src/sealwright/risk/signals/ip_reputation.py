"""IP reputation from configured lists of addresses and CIDRs, IPv4 and IPv6 (D1).

Each list has a name and a number of points: a deny list (known Tor exits, a hosting range)
adds points, an allow list (the corporate range) subtracts them. Every list the address is
in contributes; the facts name the lists, never the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealwright.errors import ConfigurationError
from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import SignalResult, no_data

__all__ = ["IpList", "IpReputation"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str], where: str) -> tuple[Network, ...]:
    out: list[Network] = []
    for entry in entries:
        text = entry.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ConfigurationError(f"{where}: not an address or CIDR: {text!r}") from exc
    return tuple(out)


@dataclass(frozen=True)
class IpList:
    name: str
    points: int
    networks: tuple[Network, ...]

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in self.networks)

    @classmethod
    def build(
        cls, name: str, points: int, cidrs: Sequence[str] = (), file: Path | None = None
    ) -> IpList:
        """A list from inline entries and/or a file of one address or CIDR per line."""
        entries = list(cidrs)
        if file is not None:
            try:
                entries += file.read_text("utf-8").splitlines()
            except OSError as exc:
                raise ConfigurationError(f"ip list {name!r}: cannot read {file}") from exc
        return cls(name, points, _networks(entries, f"ip list {name!r}"))


class IpReputation:
    name = "ip-reputation"

    def __init__(self, lists: Sequence[IpList] = ()) -> None:
        self.lists = tuple(lists)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base: Path | None = None) -> IpReputation:
        lists = []
        for item in config.get("lists", []):
            file = item.get("file")
            path = None if file is None else (base or Path()) / file
            lists.append(IpList.build(item["name"], item["points"], item.get("cidrs", []), path))
        return cls(lists)

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        if not ctx.request.ip:
            return no_data(self.name, "no client address")
        try:
            address = ipaddress.ip_address(ctx.request.ip)
        except ValueError:
            return no_data(self.name, "client address not parseable")
        hits = [item for item in self.lists if item.contains(address)]
        facts = {"ip_version": address.version, "lists": ",".join(i.name for i in hits)}
        if not hits:
            return SignalResult(self.name, "unlisted", 0, "address on no configured list", facts)
        points = sum(item.points for item in hits)
        described = ", ".join(f"{item.name} ({item.points:+d})" for item in hits)
        return SignalResult(self.name, "listed", points, f"address on: {described}", facts)
