"""API scopes: what an access token lets its holder do (B1, B2). Deny by default."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    ENVELOPES_READ = "envelopes:read"
    ENVELOPES_WRITE = "envelopes:write"
    ENVELOPES_SEND = "envelopes:send"
    ENVELOPES_VOID = "envelopes:void"
    EVIDENCE_READ = "evidence:read"


ALL_SCOPES = frozenset(Scope)


def parse_scopes(text: str) -> frozenset[Scope]:
    """Space-separated scope names; unknown names are an error, not silently dropped."""
    out: set[Scope] = set()
    for word in text.split():
        try:
            out.add(Scope(word))
        except ValueError:
            raise ValueError(f"unknown scope {word!r}") from None
    return frozenset(out)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))
