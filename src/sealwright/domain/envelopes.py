"""Envelope and recipient state machines, and routing order. Pure: no I/O.

An envelope moves draft → sent → completed | declined | voided | expired. A recipient moves
created → notified → (signed | declined) for signers, created → notified → completed for
viewers (they receive a copy and never block routing). Recipients that share a routing
order are notified together (parallel); a higher order waits until every signer of all lower
orders has signed (sequential).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sealwright.errors import InvalidTransition, ValidationError


class EnvelopeStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    COMPLETED = "completed"
    DECLINED = "declined"
    VOIDED = "voided"
    EXPIRED = "expired"


class EnvelopeAction(StrEnum):
    SEND = "send"
    COMPLETE = "complete"
    DECLINE = "decline"
    VOID = "void"
    EXPIRE = "expire"


_ENVELOPE_MOVES: dict[tuple[EnvelopeStatus, EnvelopeAction], EnvelopeStatus] = {
    (EnvelopeStatus.DRAFT, EnvelopeAction.SEND): EnvelopeStatus.SENT,
    (EnvelopeStatus.DRAFT, EnvelopeAction.VOID): EnvelopeStatus.VOIDED,
    (EnvelopeStatus.SENT, EnvelopeAction.COMPLETE): EnvelopeStatus.COMPLETED,
    (EnvelopeStatus.SENT, EnvelopeAction.DECLINE): EnvelopeStatus.DECLINED,
    (EnvelopeStatus.SENT, EnvelopeAction.VOID): EnvelopeStatus.VOIDED,
    (EnvelopeStatus.SENT, EnvelopeAction.EXPIRE): EnvelopeStatus.EXPIRED,
}


def envelope_next(status: EnvelopeStatus, action: EnvelopeAction) -> EnvelopeStatus:
    try:
        return _ENVELOPE_MOVES[(status, action)]
    except KeyError:
        raise InvalidTransition(
            f"cannot {action.value} an envelope that is {status.value}"
        ) from None


class RecipientRole(StrEnum):
    SIGNER = "signer"
    VIEWER = "viewer"


class RecipientStatus(StrEnum):
    CREATED = "created"
    NOTIFIED = "notified"
    SIGNED = "signed"
    DECLINED = "declined"
    COMPLETED = "completed"


class RecipientAction(StrEnum):
    NOTIFY = "notify"
    SIGN = "sign"
    DECLINE = "decline"
    RECEIVE = "receive"


_RECIPIENT_MOVES: dict[tuple[RecipientRole, RecipientStatus, RecipientAction], RecipientStatus] = {
    (
        RecipientRole.SIGNER,
        RecipientStatus.CREATED,
        RecipientAction.NOTIFY,
    ): RecipientStatus.NOTIFIED,
    (RecipientRole.SIGNER, RecipientStatus.NOTIFIED, RecipientAction.SIGN): RecipientStatus.SIGNED,
    (
        RecipientRole.SIGNER,
        RecipientStatus.NOTIFIED,
        RecipientAction.DECLINE,
    ): RecipientStatus.DECLINED,
    (
        RecipientRole.VIEWER,
        RecipientStatus.CREATED,
        RecipientAction.NOTIFY,
    ): RecipientStatus.NOTIFIED,
    (
        RecipientRole.VIEWER,
        RecipientStatus.NOTIFIED,
        RecipientAction.RECEIVE,
    ): RecipientStatus.COMPLETED,
}


def recipient_next(
    role: RecipientRole, status: RecipientStatus, action: RecipientAction
) -> RecipientStatus:
    try:
        return _RECIPIENT_MOVES[(role, status, action)]
    except KeyError:
        raise InvalidTransition(
            f"a {role.value} who is {status.value} cannot {action.value}"
        ) from None


@dataclass(frozen=True, slots=True)
class RoutingSlot:
    """What routing needs to know about a recipient."""

    recipient_id: str
    role: RecipientRole
    order: int
    status: RecipientStatus


_DONE = {RecipientStatus.SIGNED, RecipientStatus.COMPLETED}


def due_for_notification(slots: Sequence[RoutingSlot]) -> list[str]:
    """Recipients to notify now: every not-yet-notified recipient whose routing order is at or
    below the lowest order that still has a signer who has not signed."""
    if any(s.status is RecipientStatus.DECLINED for s in slots):
        return []
    pending_orders = [
        s.order for s in slots if s.role is RecipientRole.SIGNER and s.status not in _DONE
    ]
    frontier = min(pending_orders) if pending_orders else max((s.order for s in slots), default=0)
    return [
        s.recipient_id
        for s in sorted(slots, key=lambda s: (s.order, s.recipient_id))
        if s.status is RecipientStatus.CREATED and s.order <= frontier
    ]


def all_signed(slots: Iterable[RoutingSlot]) -> bool:
    signers = [s for s in slots if s.role is RecipientRole.SIGNER]
    return bool(signers) and all(s.status is RecipientStatus.SIGNED for s in signers)


class FieldKind(StrEnum):
    SIGNATURE = "signature"
    INITIALS = "initials"
    DATE = "date"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Rect:
    """A field's place: page (1-based, as people count) and a rectangle in PDF points,
    origin at the page's bottom-left corner."""

    page: int
    x: float
    y: float
    width: float
    height: float

    def check_within(self, page_count: int, page_sizes: Sequence[tuple[float, float]]) -> None:
        if not 1 <= self.page <= page_count:
            raise ValidationError(f"page {self.page} does not exist (document has {page_count})")
        # Written as "not (good)" so that NaN, which fails every comparison, is refused.
        if not (self.width > 0 and self.height > 0 and self.x >= 0 and self.y >= 0):
            raise ValidationError("field rectangle must have positive size and lie on the page")
        w, h = page_sizes[self.page - 1]
        if not (self.x + self.width <= w + 0.5 and self.y + self.height <= h + 0.5):
            raise ValidationError(
                f"field rectangle exceeds page {self.page} ({w:.0f}x{h:.0f} points)"
            )
