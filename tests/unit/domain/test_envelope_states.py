"""Envelope and recipient state machines: every allowed move, and every refused one.

The expected tables are written out here rather than imported, so that a change to the
state machine has to be made twice (once on purpose in each place)."""

from __future__ import annotations

import itertools

import pytest

from sealwright.domain.envelopes import (
    EnvelopeAction,
    EnvelopeStatus,
    RecipientAction,
    RecipientRole,
    RecipientStatus,
    envelope_next,
    recipient_next,
)
from sealwright.errors import Conflict, InvalidTransition

E, EA = EnvelopeStatus, EnvelopeAction
R, RS, RA = RecipientRole, RecipientStatus, RecipientAction

ENVELOPE_ALLOWED: dict[tuple[EnvelopeStatus, EnvelopeAction], EnvelopeStatus] = {
    (E.DRAFT, EA.SEND): E.SENT,
    (E.DRAFT, EA.VOID): E.VOIDED,
    (E.SENT, EA.COMPLETE): E.COMPLETED,
    (E.SENT, EA.DECLINE): E.DECLINED,
    (E.SENT, EA.VOID): E.VOIDED,
    (E.SENT, EA.EXPIRE): E.EXPIRED,
}
ENVELOPE_REFUSED = [
    pair
    for pair in itertools.product(EnvelopeStatus, EnvelopeAction)
    if pair not in ENVELOPE_ALLOWED
]

RECIPIENT_ALLOWED: dict[tuple[RecipientRole, RecipientStatus, RecipientAction], RecipientStatus] = {
    (R.SIGNER, RS.CREATED, RA.NOTIFY): RS.NOTIFIED,
    (R.SIGNER, RS.NOTIFIED, RA.SIGN): RS.SIGNED,
    (R.SIGNER, RS.NOTIFIED, RA.DECLINE): RS.DECLINED,
    (R.VIEWER, RS.CREATED, RA.NOTIFY): RS.NOTIFIED,
    (R.VIEWER, RS.NOTIFIED, RA.RECEIVE): RS.COMPLETED,
}
RECIPIENT_REFUSED = [
    triple
    for triple in itertools.product(RecipientRole, RecipientStatus, RecipientAction)
    if triple not in RECIPIENT_ALLOWED
]

TERMINAL_ENVELOPE = [E.COMPLETED, E.DECLINED, E.VOIDED, E.EXPIRED]


def test_the_tables_cover_every_combination() -> None:
    # Guards the parametrisation below: a new status or action must land in one list or
    # the other, never in neither.
    assert len(ENVELOPE_ALLOWED) + len(ENVELOPE_REFUSED) == len(E) * len(EA)
    assert len(RECIPIENT_ALLOWED) + len(RECIPIENT_REFUSED) == len(R) * len(RS) * len(RA)


# -- envelopes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "action", "end"), [(s, a, e) for (s, a), e in ENVELOPE_ALLOWED.items()]
)
def test_envelope_allowed_move(
    start: EnvelopeStatus, action: EnvelopeAction, end: EnvelopeStatus
) -> None:
    assert envelope_next(start, action) is end


@pytest.mark.parametrize(("start", "action"), ENVELOPE_REFUSED)
def test_envelope_refused_move_names_both_states(
    start: EnvelopeStatus, action: EnvelopeAction
) -> None:
    with pytest.raises(InvalidTransition) as info:
        envelope_next(start, action)
    assert str(info.value) == f"cannot {action.value} an envelope that is {start.value}"


@pytest.mark.parametrize("terminal", TERMINAL_ENVELOPE)
def test_terminal_envelope_states_refuse_every_action(terminal: EnvelopeStatus) -> None:
    for action in EnvelopeAction:
        with pytest.raises(InvalidTransition):
            envelope_next(terminal, action)


def test_a_draft_cannot_skip_sending() -> None:
    for action in (EA.COMPLETE, EA.DECLINE, EA.EXPIRE):
        with pytest.raises(InvalidTransition, match="envelope that is draft"):
            envelope_next(E.DRAFT, action)


def test_an_envelope_is_sent_only_once() -> None:
    sent = envelope_next(E.DRAFT, EA.SEND)
    with pytest.raises(InvalidTransition, match="cannot send an envelope that is sent"):
        envelope_next(sent, EA.SEND)


def test_full_envelope_lifecycle() -> None:
    status = E.DRAFT
    for action in (EA.SEND, EA.COMPLETE):
        status = envelope_next(status, action)
    assert status is E.COMPLETED


# -- recipients ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "start", "action", "end"),
    [(r, s, a, e) for (r, s, a), e in RECIPIENT_ALLOWED.items()],
)
def test_recipient_allowed_move(
    role: RecipientRole, start: RecipientStatus, action: RecipientAction, end: RecipientStatus
) -> None:
    assert recipient_next(role, start, action) is end


@pytest.mark.parametrize(("role", "start", "action"), RECIPIENT_REFUSED)
def test_recipient_refused_move_names_role_state_and_action(
    role: RecipientRole, start: RecipientStatus, action: RecipientAction
) -> None:
    with pytest.raises(InvalidTransition) as info:
        recipient_next(role, start, action)
    assert str(info.value) == f"a {role.value} who is {start.value} cannot {action.value}"


def test_signer_must_be_notified_before_signing_or_declining() -> None:
    for action in (RA.SIGN, RA.DECLINE):
        with pytest.raises(InvalidTransition, match="signer who is created"):
            recipient_next(R.SIGNER, RS.CREATED, action)


def test_signer_cannot_sign_twice_or_change_their_mind() -> None:
    signed = recipient_next(R.SIGNER, RS.NOTIFIED, RA.SIGN)
    for action in RecipientAction:
        with pytest.raises(InvalidTransition):
            recipient_next(R.SIGNER, signed, action)
    declined = recipient_next(R.SIGNER, RS.NOTIFIED, RA.DECLINE)
    for action in RecipientAction:
        with pytest.raises(InvalidTransition):
            recipient_next(R.SIGNER, declined, action)


def test_viewers_neither_sign_nor_decline() -> None:
    for status in RecipientStatus:
        for action in (RA.SIGN, RA.DECLINE):
            with pytest.raises(InvalidTransition, match=f"viewer who is {status.value}"):
                recipient_next(R.VIEWER, status, action)


def test_signers_do_not_merely_receive() -> None:
    with pytest.raises(InvalidTransition, match="signer who is notified cannot receive"):
        recipient_next(R.SIGNER, RS.NOTIFIED, RA.RECEIVE)


def test_nobody_is_notified_twice() -> None:
    for role in RecipientRole:
        with pytest.raises(InvalidTransition, match="notified cannot notify"):
            recipient_next(role, RS.NOTIFIED, RA.NOTIFY)


def test_full_recipient_lifecycles() -> None:
    signer = RS.CREATED
    for action in (RA.NOTIFY, RA.SIGN):
        signer = recipient_next(R.SIGNER, signer, action)
    assert signer is RS.SIGNED
    viewer = RS.CREATED
    for action in (RA.NOTIFY, RA.RECEIVE):
        viewer = recipient_next(R.VIEWER, viewer, action)
    assert viewer is RS.COMPLETED


# -- the error itself ------------------------------------------------------------------------


def test_invalid_transition_is_a_conflict_with_a_stable_code() -> None:
    with pytest.raises(Conflict) as info:
        envelope_next(E.VOIDED, EA.SEND)
    assert type(info.value) is InvalidTransition
    assert info.value.code == "invalid-transition"
    # Not an error whose unit of work must commit: the refused move changes nothing.
    assert info.value.commit is False
    # Raised ``from None``: the KeyError of the table look-up is an implementation detail.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True
