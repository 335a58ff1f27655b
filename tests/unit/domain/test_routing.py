"""Routing order: who is notified when, and when an envelope counts as fully signed."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import assume, given
from hypothesis import strategies as st

from sealwright.domain.envelopes import (
    RecipientAction,
    RecipientRole,
    RecipientStatus,
    RoutingSlot,
    all_signed,
    due_for_notification,
    recipient_next,
)

SIGNER, VIEWER = RecipientRole.SIGNER, RecipientRole.VIEWER
CREATED = RecipientStatus.CREATED
NOTIFIED = RecipientStatus.NOTIFIED
SIGNED = RecipientStatus.SIGNED
DECLINED = RecipientStatus.DECLINED
COMPLETED = RecipientStatus.COMPLETED


def slot(
    rid: str, order: int, role: RecipientRole = SIGNER, status: RecipientStatus = CREATED
) -> RoutingSlot:
    return RoutingSlot(recipient_id=rid, role=role, order=order, status=status)


def with_status(slots: Iterable[RoutingSlot], **statuses: RecipientStatus) -> list[RoutingSlot]:
    return [
        slot(s.recipient_id, s.order, s.role, statuses.get(s.recipient_id, s.status)) for s in slots
    ]


# -- sequential ------------------------------------------------------------------------------


def test_sequential_routing_notifies_one_order_at_a_time() -> None:
    slots = [slot("a", 1), slot("b", 2), slot("c", 3)]
    assert due_for_notification(slots) == ["a"]

    slots = with_status(slots, a=NOTIFIED)
    assert due_for_notification(slots) == [], "b waits while a has not signed"

    slots = with_status(slots, a=SIGNED)
    assert due_for_notification(slots) == ["b"]

    slots = with_status(slots, b=NOTIFIED)
    assert due_for_notification(slots) == []

    slots = with_status(slots, b=SIGNED)
    assert due_for_notification(slots) == ["c"]

    slots = with_status(slots, c=SIGNED)
    assert due_for_notification(slots) == []
    assert all_signed(slots)


def test_orders_need_not_be_contiguous() -> None:
    slots = [slot("a", 1), slot("b", 5), slot("c", 10)]
    assert due_for_notification(slots) == ["a"]
    assert due_for_notification(with_status(slots, a=SIGNED)) == ["b"]
    assert due_for_notification(with_status(slots, a=SIGNED, b=SIGNED)) == ["c"]


def test_input_order_does_not_matter() -> None:
    slots = [slot("c", 3), slot("a", 1), slot("b", 2)]
    assert due_for_notification(slots) == ["a"]
    assert due_for_notification(with_status(slots, a=SIGNED)) == ["b"]


# -- parallel --------------------------------------------------------------------------------


def test_parallel_signers_are_notified_together() -> None:
    slots = [slot("b", 1), slot("a", 1), slot("c", 1)]
    assert due_for_notification(slots) == ["a", "b", "c"]  # sorted by (order, id)


def test_next_order_waits_for_every_parallel_signer() -> None:
    slots = [slot("a", 1, status=SIGNED), slot("b", 1, status=NOTIFIED), slot("c", 2)]
    assert due_for_notification(slots) == []
    assert due_for_notification(with_status(slots, b=SIGNED)) == ["c"]


def test_late_added_parallel_signer_is_notified_without_renotifying_the_others() -> None:
    slots = [slot("a", 1, status=NOTIFIED), slot("b", 1, status=SIGNED), slot("c", 1)]
    assert due_for_notification(slots) == ["c"]


def test_already_notified_recipients_are_never_returned_again() -> None:
    slots = [slot("a", 1, status=NOTIFIED), slot("v", 1, VIEWER, NOTIFIED)]
    assert due_for_notification(slots) == []


def test_mixed_parallel_and_sequential() -> None:
    slots = [slot("a", 1), slot("b", 1), slot("c", 2), slot("d", 2), slot("e", 3)]
    assert due_for_notification(slots) == ["a", "b"]
    slots = with_status(slots, a=SIGNED, b=SIGNED)
    assert due_for_notification(slots) == ["c", "d"]
    slots = with_status(slots, c=SIGNED, d=NOTIFIED)
    assert due_for_notification(slots) == []
    slots = with_status(slots, d=SIGNED)
    assert due_for_notification(slots) == ["e"]


# -- viewers ---------------------------------------------------------------------------------


def test_viewer_at_the_signers_order_is_notified_with_them() -> None:
    slots = [slot("s", 1), slot("v", 1, VIEWER)]
    assert due_for_notification(slots) == ["s", "v"]


def test_viewer_at_a_later_order_waits_for_the_signers_before_it() -> None:
    slots = [slot("s", 1), slot("v", 2, VIEWER)]
    assert due_for_notification(slots) == ["s"]
    assert due_for_notification(with_status(slots, s=SIGNED)) == ["v"]


def test_viewer_before_the_first_signer_is_notified_at_once() -> None:
    slots = [slot("v", 1, VIEWER), slot("s", 2)]
    assert due_for_notification(slots) == ["v", "s"]


def test_viewers_never_block_routing() -> None:
    # The viewer at order 1 has not received (still notified); order 2 proceeds anyway.
    slots = [slot("v", 1, VIEWER, NOTIFIED), slot("s1", 1, status=SIGNED), slot("s2", 2)]
    assert due_for_notification(slots) == ["s2"]
    # ... and a viewer still at "created" does not block either.
    slots = [slot("v", 1, VIEWER), slot("s1", 1, status=SIGNED), slot("s2", 2)]
    assert due_for_notification(slots) == ["v", "s2"]


def test_viewer_after_the_last_signer_gets_the_copy_once_all_have_signed() -> None:
    slots = [slot("s1", 1), slot("s2", 2), slot("v", 3, VIEWER)]
    assert "v" not in due_for_notification(with_status(slots, s1=SIGNED))
    assert due_for_notification(with_status(slots, s1=SIGNED, s2=SIGNED)) == ["v"]


def test_envelope_of_viewers_only_notifies_everyone() -> None:
    slots = [slot("v1", 1, VIEWER), slot("v2", 3, VIEWER)]
    assert due_for_notification(slots) == ["v1", "v2"]


def test_nobody_to_route() -> None:
    assert due_for_notification([]) == []


# -- decline ---------------------------------------------------------------------------------


def test_a_decline_stops_routing() -> None:
    slots = [slot("a", 1, status=DECLINED), slot("b", 1), slot("c", 2), slot("v", 1, VIEWER)]
    assert due_for_notification(slots) == []


def test_a_decline_stops_routing_even_after_others_signed() -> None:
    slots = [slot("a", 1, status=SIGNED), slot("b", 2, status=DECLINED), slot("c", 3)]
    assert due_for_notification(slots) == []
    assert not all_signed(slots)


# -- all_signed ------------------------------------------------------------------------------


def test_all_signed_when_every_signer_signed() -> None:
    assert all_signed([slot("a", 1, status=SIGNED), slot("b", 2, status=SIGNED)])


def test_not_all_signed_while_one_is_pending() -> None:
    for pending in (CREATED, NOTIFIED, DECLINED):
        assert not all_signed([slot("a", 1, status=SIGNED), slot("b", 2, status=pending)])


def test_viewers_do_not_count_towards_all_signed() -> None:
    assert all_signed([slot("a", 1, status=SIGNED), slot("v", 1, VIEWER, CREATED)])
    assert all_signed([slot("a", 1, status=SIGNED), slot("v", 2, VIEWER, NOTIFIED)])


def test_no_signers_is_not_all_signed() -> None:
    # An envelope nobody signs must never count as completed.
    assert not all_signed([])
    assert not all_signed([slot("v", 1, VIEWER, COMPLETED)])


def test_all_signed_accepts_any_iterable_once() -> None:
    assert all_signed(s for s in [slot("a", 1, status=SIGNED)])


# -- properties ------------------------------------------------------------------------------

_STATUSES = {
    SIGNER: [CREATED, NOTIFIED, SIGNED, DECLINED],
    VIEWER: [CREATED, NOTIFIED, COMPLETED],
}


@st.composite
def routing_slots(draw: st.DrawFn, *, statuses: bool) -> list[RoutingSlot]:
    specs = draw(
        st.lists(
            st.tuples(st.sampled_from([SIGNER, VIEWER]), st.integers(min_value=1, max_value=6)),
            max_size=10,
        )
    )
    return [
        slot(
            f"r{i:02d}",
            order,
            role,
            draw(st.sampled_from(_STATUSES[role])) if statuses else CREATED,
        )
        for i, (role, order) in enumerate(specs)
    ]


def _lowest_unsigned_signer_order(slots: list[RoutingSlot]) -> int | None:
    orders = [s.order for s in slots if s.role is SIGNER and s.status is not SIGNED]
    return min(orders, default=None)


@given(routing_slots(statuses=True))
def test_due_is_exactly_the_created_recipients_up_to_the_frontier(
    slots: list[RoutingSlot],
) -> None:
    due = due_for_notification(slots)
    by_id = {s.recipient_id: s for s in slots}
    assert len(due) == len(set(due))
    if any(s.status is DECLINED for s in slots):
        assert due == []
        return
    frontier = _lowest_unsigned_signer_order(slots)
    expected = {
        s.recipient_id
        for s in slots
        if s.status is CREATED and (frontier is None or s.order <= frontier)
    }
    assert set(due) == expected
    # Never someone above the lowest order that still has an unsigned signer.
    if frontier is not None:
        assert all(by_id[rid].order <= frontier for rid in due)
    assert due == sorted(due, key=lambda rid: (by_id[rid].order, rid))


@given(routing_slots(statuses=False), st.data())
def test_signing_in_order_eventually_notifies_everyone(
    slots: list[RoutingSlot], data: st.DataObject
) -> None:
    """Simulate a ceremony: notify whoever is due, let one notified signer sign (the order
    is chosen by hypothesis), repeat. Each notification must respect routing order, and at
    the end everyone has been notified exactly once."""
    state = {s.recipient_id: s for s in slots}
    notified: list[str] = []
    for _ in range(2 * len(slots) + 1):
        current = list(state.values())
        due = due_for_notification(current)
        for rid in due:
            s = state[rid]
            blocking = [
                o.recipient_id
                for o in current
                if o.role is SIGNER and o.order < s.order and o.status is not SIGNED
            ]
            assert not blocking, f"{rid} notified before {blocking} signed"
            state[rid] = slot(
                rid, s.order, s.role, recipient_next(s.role, s.status, RecipientAction.NOTIFY)
            )
            notified.append(rid)
        waiting = sorted(
            rid for rid, s in state.items() if s.role is SIGNER and s.status is NOTIFIED
        )
        if not waiting:
            break
        rid = data.draw(st.sampled_from(waiting))
        s = state[rid]
        state[rid] = slot(
            rid, s.order, s.role, recipient_next(s.role, s.status, RecipientAction.SIGN)
        )

    assert sorted(notified) == sorted(state)  # everyone, once each
    assert due_for_notification(list(state.values())) == []
    has_signers = any(s.role is SIGNER for s in slots)
    assert all_signed(list(state.values())) is has_signers


@given(routing_slots(statuses=False), st.data())
def test_a_decline_halts_notification_whoever_is_still_waiting(
    slots: list[RoutingSlot], data: st.DataObject
) -> None:
    assume(any(s.role is SIGNER for s in slots))
    current = with_status(slots, **dict.fromkeys(due_for_notification(slots), NOTIFIED))
    decliner = data.draw(
        st.sampled_from(
            [s.recipient_id for s in current if s.role is SIGNER and s.status is NOTIFIED]
        )
    )
    after = with_status(current, **{decliner: DECLINED})
    assert due_for_notification(after) == []
    assert not all_signed(after)
