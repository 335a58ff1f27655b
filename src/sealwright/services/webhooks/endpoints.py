"""Webhook endpoints (subscriptions): per tenant, a URL vetted against SSRF, an event
filter, signing keys and a status.

Keys are generated here and shown once -- the ``whsec_`` secret (v1), or for v1a only the
``whpk_`` public key, since the receiver never needs the signing half. They are stored
encrypted (keys.aead, bound to the endpoint id) and never logged or put in an event; the
ledger records only the URL's SHA-256. A rotation keeps the previous key signing until an
overlap deadline, so receivers can switch without missing a message.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sealwright.clock import Clock, Random
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.keys.keyring import Keyring
from sealwright.services.audit import AuditLog
from sealwright.storage.models import WebhookDelivery, WebhookEndpoint
from sealwright.webhooks import keys as wkeys
from sealwright.webhooks.payloads import parse_filter
from sealwright.webhooks.targets import Target, parse_target, vet_addresses

ENABLED, DISABLED, DELETED = "enabled", "disabled", "deleted"
MAX_OVERLAP = 30 * 24 * 3600
#: Resolves a target's host to addresses (services/webhooks/sender.py: resolve).
Resolver = Callable[[Target], list[str]]


@dataclass(frozen=True)
class KeyBundle:
    current: wkeys.SigningSecret
    previous: wkeys.SigningSecret | None = None


@dataclass(frozen=True)
class Shown:
    """What the caller sees once: the endpoint and what its receiver verifies with."""

    endpoint: WebhookEndpoint
    verification_key: str


def url_digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


class EndpointService:
    def __init__(
        self,
        *,
        clock: Clock,
        random: Random,
        keyring: Keyring,
        audit: AuditLog,
        settings: Settings,
        resolver: Resolver,
    ) -> None:
        self._clock = clock
        self._random = random
        self._keyring = keyring
        self._audit = audit
        self._settings = settings
        self._resolve = resolver

    # -- keys ----------------------------------------------------------------------------------

    def _seal(self, endpoint_id: str, bundle: KeyBundle) -> bytes:
        plain = json.dumps(
            {
                "current": bundle.current.serialize(),
                "previous": bundle.previous.serialize() if bundle.previous else None,
            }
        ).encode()
        return encrypt_bytes(plain, keyring=self._keyring, aad=_aad(endpoint_id))

    def keys(self, endpoint: WebhookEndpoint) -> KeyBundle:
        fields = json.loads(
            decrypt_bytes(endpoint.secrets, keyring=self._keyring, aad=_aad(endpoint.id))
        )
        previous = fields.get("previous")
        return KeyBundle(
            current=wkeys.parse_signing_secret(fields["current"]),
            previous=wkeys.parse_signing_secret(previous) if previous else None,
        )

    def signing_keys(self, endpoint: WebhookEndpoint, now: datetime) -> list[wkeys.SigningSecret]:
        """The keys that sign now: the current one, and the previous one during overlap."""
        bundle = self.keys(endpoint)
        out = [bundle.current]
        deadline = endpoint.previous_expires_at
        if bundle.previous is not None and deadline is not None and now < deadline:
            out.append(bundle.previous)
        return out

    def public_key(self, endpoint: WebhookEndpoint) -> str | None:
        """The ``whpk_`` key of a v1a endpoint (public: shown at any time)."""
        if endpoint.scheme != wkeys.V1A or endpoint.status == DELETED:
            return None
        return wkeys.shown_to_receiver(self.keys(endpoint).current)

    # -- use cases -----------------------------------------------------------------------------

    def vet_url(self, url: str) -> str:
        target = parse_target(url)
        vet_addresses(
            target,
            self._resolve(target),
            allow_private=self._settings.webhook_allow_private_networks,
        )
        return url

    def create(
        self,
        session: Session,
        *,
        tenant_id: str,
        actor: str,
        url: str,
        events: Sequence[str],
        scheme: str = wkeys.V1,
        description: str = "",
    ) -> Shown:
        entries = _filter(events)
        self.vet_url(url)
        count = session.execute(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.status != DELETED)
        ).scalar_one()
        if count >= self._settings.webhook_max_endpoints_per_tenant:
            raise Conflict("this tenant has as many webhook endpoints as it may")
        secret = wkeys.generate(scheme, self._random)
        now = self._clock.now()
        endpoint_id = uuid.uuid4().hex
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            tenant_id=tenant_id,
            url=url,
            description=description,
            event_filter=" ".join(entries),
            scheme=scheme,
            secrets=self._seal(endpoint_id, KeyBundle(secret)),
            previous_expires_at=None,
            status=ENABLED,
            status_reason=None,
            created_by=actor[:80],
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
        session.flush()
        self._audit.append(
            session,
            EventTag.WEBHOOK_CREATED,
            tenant=tenant_id,
            actor=actor,
            data={
                "endpoint": endpoint_id,
                "url_sha256": url_digest(url),
                "events": list(entries),
                "scheme": scheme,
            },
        )
        return Shown(endpoint, wkeys.shown_to_receiver(secret))

    @staticmethod
    def listed(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
        return list(
            session.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.status != DELETED)
                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            ).scalars()
        )

    @staticmethod
    def load(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
        """Another tenant's endpoint looks exactly like none."""
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.tenant_id != tenant_id or endpoint.status == DELETED:
            raise NotFound("webhook endpoint not found")
        return endpoint

    def update(
        self,
        session: Session,
        endpoint: WebhookEndpoint,
        *,
        actor: str,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        changes: dict[str, object] = {}
        if url is not None and url != endpoint.url:
            endpoint.url = self.vet_url(url)
            changes["url_sha256"] = url_digest(url)
        if events is not None:
            entries = " ".join(_filter(events))
            if entries != endpoint.event_filter:
                endpoint.event_filter = entries
                changes["events"] = entries.split()
        if description is not None and description != endpoint.description:
            endpoint.description = description
            changes["description"] = True
        if enabled is not None and enabled != (endpoint.status == ENABLED):
            endpoint.status = ENABLED if enabled else DISABLED
            endpoint.status_reason = None if enabled else f"disabled by {actor}"[:200]
            changes["enabled"] = enabled
        if not changes:
            return endpoint
        endpoint.updated_at = self._clock.now()
        if changes.get("enabled") is False:
            self.dead_letter_pending(session, endpoint, "the endpoint was disabled")
        self._audit.append(
            session,
            EventTag.WEBHOOK_UPDATED,
            tenant=endpoint.tenant_id,
            actor=actor,
            data={"endpoint": endpoint.id, **changes},
        )
        return endpoint

    def rotate(
        self,
        session: Session,
        endpoint: WebhookEndpoint,
        *,
        actor: str,
        overlap_seconds: int | None = None,
        scheme: str | None = None,
    ) -> Shown:
        """A new current key; the old one keeps signing for ``overlap_seconds`` (0: stops
        at once). The scheme may change (v1 <-> v1a): both signatures go out meanwhile."""
        overlap = (
            self._settings.webhook_secret_overlap if overlap_seconds is None else overlap_seconds
        )
        if not 0 <= overlap <= MAX_OVERLAP:
            raise ValidationError(f"the overlap is 0 to {MAX_OVERLAP} seconds")
        scheme = scheme or endpoint.scheme
        secret = wkeys.generate(scheme, self._random)
        now = self._clock.now()
        old = self.keys(endpoint).current
        endpoint.secrets = self._seal(endpoint.id, KeyBundle(secret, old if overlap else None))
        endpoint.previous_expires_at = now + timedelta(seconds=overlap) if overlap else None
        endpoint.scheme = scheme
        endpoint.updated_at = now
        self._audit.append(
            session,
            EventTag.WEBHOOK_ROTATED,
            tenant=endpoint.tenant_id,
            actor=actor,
            data={"endpoint": endpoint.id, "scheme": scheme, "overlap_seconds": overlap},
        )
        return Shown(endpoint, wkeys.shown_to_receiver(secret))

    def delete(self, session: Session, endpoint: WebhookEndpoint, *, actor: str) -> None:
        """Deleted for good: the keys are erased; its deliveries stay, as history."""
        endpoint.status = DELETED
        endpoint.status_reason = f"deleted by {actor}"[:200]
        endpoint.secrets = b""
        endpoint.previous_expires_at = None
        endpoint.updated_at = self._clock.now()
        self.dead_letter_pending(session, endpoint, "the endpoint was deleted")
        self._audit.append(
            session,
            EventTag.WEBHOOK_DELETED,
            tenant=endpoint.tenant_id,
            actor=actor,
            data={"endpoint": endpoint.id},
        )

    def dead_letter_pending(self, session: Session, endpoint: WebhookEndpoint, reason: str) -> int:
        """Every delivery still pending for ``endpoint`` goes to the dead letters."""
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
            .values(
                status="dead",
                dead_reason=reason,
                dead_at=self._clock.now(),
                next_attempt_at=None,
                lease=None,
                locked_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _filter(events: Sequence[str]) -> tuple[str, ...]:
    try:
        return parse_filter(events)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _aad(endpoint_id: str) -> bytes:
    return f"sealwright:webhook-keys:{endpoint_id}".encode()
