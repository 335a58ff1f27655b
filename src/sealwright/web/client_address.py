"""The client's address as the service sees it: the TCP peer, or -- only behind a proxy
listed in ``trusted_proxies`` -- the right-most ``X-Forwarded-For`` hop that is not itself a
trusted proxy. Never the header alone: anyone can send it. Used by the per-IP limits and
by the risk signals alike, so both see the same address."""

from __future__ import annotations

import ipaddress

from fastapi import Request

__all__ = ["client_ip"]


def client_ip(request: Request) -> str:
    """The peer's address; behind a configured trusted proxy (``trusted_proxies``), the
    right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
    host = request.client.host if request.client else ""
    rt = getattr(request.app.state, "runtime", None)
    proxies = [] if rt is None else rt.settings.trusted_proxies
    if not host or not proxies or not _within(host, proxies):
        return host
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _valid_ip(hop):
            return host
        if not _within(hop, proxies):
            return hop
    return host


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _within(ip: str, cidrs: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
        return any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError:
        return False
