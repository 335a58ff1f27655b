"""SSRF rules for webhook targets."""

from __future__ import annotations

import pytest

from sealwright.webhooks.targets import TargetRefused, parse_target, vet_addresses

PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "https://user:pw@example.com/",
        "https://example.com/#frag",
        "https:///nohost",
        "https://example.com:0/",
        "https://exa mple.com/",
        "https://example.com/" + "a" * 2000,
        "https://example.com:99999/",
    ],
)
def test_malformed_or_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url)


def test_parsing() -> None:
    t = parse_target("https://Hooks.Example.com./in?x=1")
    assert (t.scheme, t.host, t.port, t.target, t.host_header) == (
        "https",
        "hooks.example.com",
        443,
        "/in?x=1",
        "hooks.example.com",
    )
    t = parse_target("http://127.0.0.1:8080")
    assert t.target == "/"
    assert t.host_header == "127.0.0.1:8080"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_inside_addresses_are_refused(address: str) -> None:
    target = parse_target("https://hooks.example.com/")
    with pytest.raises(TargetRefused, match="private"):
        vet_addresses(target, [address], allow_private=False)
    # One bad address among good ones is enough to refuse (which one connects is not ours).
    with pytest.raises(TargetRefused):
        vet_addresses(target, [PUBLIC, address], allow_private=False)


def test_public_addresses_pass_and_are_pinned() -> None:
    target = parse_target("https://hooks.example.com:8443/in")
    [address] = vet_addresses(target, [PUBLIC, PUBLIC], allow_private=False)
    assert target.url_for(address) == f"https://{PUBLIC}:8443/in"


def test_unresolvable_hosts_are_refused() -> None:
    with pytest.raises(TargetRefused, match="does not resolve"):
        vet_addresses(parse_target("https://nowhere.invalid/"), [], allow_private=False)


def test_private_networks_when_allowed_and_http_only_on_loopback() -> None:
    vet_addresses(parse_target("https://intranet/"), ["10.0.0.5"], allow_private=True)
    vet_addresses(parse_target("http://localhost:9000/"), ["127.0.0.1", "::1"], allow_private=True)
    with pytest.raises(TargetRefused, match="https"):
        vet_addresses(parse_target("http://intranet/"), ["10.0.0.5"], allow_private=True)
    with pytest.raises(TargetRefused, match="https"):
        vet_addresses(parse_target("http://example.com/"), [PUBLIC], allow_private=False)
    # Multicast and unspecified never, whatever the setting.
    with pytest.raises(TargetRefused):
        vet_addresses(parse_target("https://x/"), ["0.0.0.0"], allow_private=True)
