"""Checks of a risk policy beyond its JSON Schema: each returns problems with their path.

- every document class's score ranges cover 0-100 with no gap and no overlap;
- fallbacks do not name their own channel and do not loop;
- TTLs stay within what each channel accepts (callback PINs 60-300 s, ...);
- IP list entries are addresses or CIDRs, and list files exist.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from sealwright.risk._yaml_source import Path

__all__ = ["CHANNELS", "CHANNEL_TTL_LIMITS", "Problem", "semantic_problems"]

Problem = tuple[Path, str]

#: Signer methods (B5) and out-of-band channels (C), as policies name them.
CHANNELS: tuple[str, ...] = (
    "email-otp",
    "sms-otp",
    "totp",
    "passkey",
    "oidc",
    "access-code",
    "phone-callback",
    "qr-device",
    "video",
    "manual-review",
)

#: (min, max) seconds each channel accepts as a TTL; the PIN channels follow channels/pin.py.
CHANNEL_TTL_LIMITS: Mapping[str, tuple[int, int]] = {
    "email-otp": (60, 1800),
    "sms-otp": (60, 300),
    "phone-callback": (60, 300),
    "totp": (30, 900),
    "passkey": (30, 900),
    "oidc": (30, 900),
    "access-code": (30, 900),
    "qr-device": (60, 900),
    "video": (60, 1800),
    "manual-review": (3600, 30 * 86400),
}


def _ranges(name: str, rules: list[Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    base: Path = ("document_classes", name)
    indexed = sorted(enumerate(rules), key=lambda item: (item[1]["min"], item[1]["max"]))
    for i, rule in indexed:
        if rule["min"] > rule["max"]:
            problems.append(((*base, i, "min"), f"min {rule['min']} is above max {rule['max']}"))
        if not rule.get("all_of") and not rule.get("any_of"):
            problems.append(((*base, i), "the rule requires no channel"))
    if problems:
        return problems
    expected = 0
    for i, rule in indexed:
        if rule["min"] > expected:
            problems.append(
                ((*base, i, "min"), f"gap: scores {expected}-{rule['min'] - 1} match no rule")
            )
        elif rule["min"] < expected:
            problems.append(
                (
                    (*base, i, "min"),
                    f"overlap: scores {rule['min']}-{min(expected - 1, rule['max'])} "
                    "match more than one rule",
                )
            )
        expected = max(expected, rule["max"] + 1)
    if expected <= 100:
        last = indexed[-1][0]
        problems.append(((*base, last, "max"), f"gap: scores {expected}-100 match no rule"))
    return problems


def _fallback_loops(fallbacks: Mapping[str, list[str]]) -> list[Problem]:
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()
    for start, targets in fallbacks.items():
        if start in targets:
            problems.append((("fallbacks", start), f"{start} falls back to itself"))
            continue
        stack: list[tuple[str, tuple[str, ...]]] = [(t, (start, t)) for t in targets]
        while stack:
            node, trail = stack.pop()
            if node == start:
                cycle = frozenset(trail)
                if cycle not in reported:
                    reported.add(cycle)
                    problems.append((("fallbacks", start), "fallbacks loop: " + " -> ".join(trail)))
                break
            if node in trail[:-1]:
                continue
            stack += [(t, (*trail, t)) for t in fallbacks.get(node, []) if t != node]
    return problems


def _ttls(channels: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    for name, limits in channels.items():
        ttl = limits.get("ttl_seconds")
        low, high = CHANNEL_TTL_LIMITS.get(name, (1, 30 * 86400))
        if ttl is not None and not low <= ttl <= high:
            problems.append(
                (("channels", name, "ttl_seconds"), f"{name} TTL must be {low}-{high} s, not {ttl}")
            )
    return problems


def _ip_lists(config: Any, base: FsPath | None) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(config, Mapping):
        return problems
    for i, item in enumerate(config.get("lists", [])):
        where: Path = ("signals", "ip-reputation", "lists", i)
        for j, entry in enumerate(item.get("cidrs", [])):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(((*where, "cidrs", j), f"not an address or CIDR: {entry!r}"))
        file = item.get("file")
        if file is not None and not ((base or FsPath()) / file).is_file():
            problems.append(((*where, "file"), f"list file {file!r} not found"))
    return problems


def semantic_problems(data: Mapping[str, Any], base: FsPath | None) -> list[Problem]:
    """Problems of a policy that already passed the schema."""
    problems: list[Problem] = []
    for name, rules in data["document_classes"].items():
        problems += _ranges(name, rules)
    problems += _fallback_loops(data.get("fallbacks", {}))
    problems += _ttls(data.get("channels", {}))
    problems += _ip_lists(data.get("signals", {}).get("ip-reputation"), base)
    return problems
