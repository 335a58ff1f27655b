"""API scopes: parsing is strict (unknown names are errors) and formatting is canonical."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealwright.identity.scopes import ALL_SCOPES, Scope, format_scopes, parse_scopes


def test_the_scope_vocabulary() -> None:
    assert {s.value for s in ALL_SCOPES} == {
        "envelopes:read",
        "envelopes:write",
        "envelopes:send",
        "envelopes:void",
        "evidence:read",
        "webhooks:read",
        "webhooks:write",
        "signing:view",
        "signing:sign",
        "qr:verify",
    }
    assert isinstance(ALL_SCOPES, frozenset)


def test_parse_space_separated_names() -> None:
    assert parse_scopes("envelopes:read evidence:read") == frozenset(
        {Scope.ENVELOPES_READ, Scope.EVIDENCE_READ}
    )


def test_parse_tolerates_any_whitespace_and_duplicates() -> None:
    assert parse_scopes("  envelopes:send\tenvelopes:send\n envelopes:void ") == frozenset(
        {Scope.ENVELOPES_SEND, Scope.ENVELOPES_VOID}
    )


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_parse_nothing_is_no_scopes(text: str) -> None:
    # Deny by default: an empty scope string grants nothing.
    assert parse_scopes(text) == frozenset()


@pytest.mark.parametrize(
    "bad",
    [
        "admin",
        "envelopes:*",
        "Envelopes:Read",  # names are case-sensitive
        "envelopes:read,evidence:read",  # comma is not a separator
        "envelopes",
    ],
)
def test_unknown_scope_is_an_error_not_silently_dropped(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown scope") as info:
        parse_scopes(f"envelopes:read {bad}")
    assert repr(bad.split()[0]) in str(info.value)
    # The enum's own ValueError is not chained into the message.
    assert info.value.__suppress_context__ is True


def test_format_is_sorted_and_space_separated() -> None:
    assert format_scopes(frozenset({Scope.EVIDENCE_READ, Scope.ENVELOPES_WRITE})) == (
        "envelopes:write evidence:read"
    )
    assert format_scopes(ALL_SCOPES) == (
        "envelopes:read envelopes:send envelopes:void envelopes:write evidence:read "
        "qr:verify signing:sign signing:view webhooks:read webhooks:write"
    )
    assert format_scopes(frozenset()) == ""


@given(st.frozensets(st.sampled_from(Scope)))
def test_format_then_parse_round_trips(scopes: frozenset[Scope]) -> None:
    text = format_scopes(scopes)
    assert parse_scopes(text) == scopes
    # Canonical: formatting what was parsed gives the same text back.
    assert format_scopes(parse_scopes(text)) == text
