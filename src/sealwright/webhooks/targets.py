"""Which URLs a webhook may be sent to (SSRF: Standard Webhooks, "Server side request
forgery"; OWASP API7:2023).

A target is refused unless every address its host resolves to is a public unicast address
-- no loopback, private, link-local (cloud metadata at 169.254.169.254), shared, reserved,
multicast or unspecified ones, IPv4-mapped IPv6 included -- except when the operator allows
private networks (``SEALWRIGHT_WEBHOOK_ALLOW_PRIVATE_NETWORKS``, for an intranet or tests).
``https`` is required, except for a receiver on loopback. URLs with credentials or a
fragment are refused.

The check runs when an endpoint is saved and again before every attempt, against the
addresses the request is then pinned to (``services/webhooks/sender.py``), so a name that
re-resolves to an inside address later (DNS rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sealwright.errors import ValidationError

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValidationError):
    """The URL is not a place webhooks may go; the message says why."""

    code = "webhook-target-refused"


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    #: Path and query, as sent in the request line.
    target: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> str:
        """The URL with the host replaced by one vetted address (the connection is pinned)."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.target}"


def parse_target(url: str) -> Target:
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise TargetRefused("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("the URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TargetRefused("the URL must use https")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry credentials (user:password@)")
    if parts.fragment:
        raise TargetRefused("the URL must not have a fragment")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise TargetRefused("the URL has no host")
    if port is None:
        port = 443 if scheme == "https" else 80
    if port == 0:
        raise TargetRefused("the URL's port is invalid")
    path = parts.path or "/"
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        target=path + (f"?{parts.query}" if parts.query else ""),
    )


def literal_address(host: str) -> IPAddress | None:
    try:
        return _normalise(ipaddress.ip_address(host))
    except ValueError:
        return None


def _normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(address: IPAddress, *, allow_private: bool) -> bool:
    address = _normalise(address)
    if address.is_multicast or address.is_unspecified:
        return False
    return allow_private or address.is_global


def vet_addresses(
    target: Target, addresses: Iterable[str], *, allow_private: bool
) -> list[IPAddress]:
    """The addresses a request to ``target`` may be pinned to, or :class:`TargetRefused`."""
    found: list[IPAddress] = []
    for text in addresses:
        try:
            address = _normalise(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    if not found:
        raise TargetRefused(f"the host {target.host!r} does not resolve")
    for address in found:
        if not address_allowed(address, allow_private=allow_private):
            raise TargetRefused(
                f"the host {target.host!r} resolves to a private, loopback or reserved "
                "address; webhooks go only to public addresses"
            )
    if target.scheme == "http" and not all(a.is_loopback for a in found):
        raise TargetRefused("the URL must use https (plain http only for a loopback receiver)")
    return found
