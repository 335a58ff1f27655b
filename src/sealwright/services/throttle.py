"""Brute-force lock-outs and rate limits (B8), kept in the database so that every API
process and worker shares them.

Two shapes over one table (``auth_throttle``, keyed by scope and a hashed key):

* **Failure back-off.** Each failed attempt (a wrong code, an unknown link) counts against
  its key -- a recipient, a client IP. The first ``free`` failures cost nothing; from then
  on each failure locks the key for ``base * 2**(n - free)`` seconds, capped at ``cap``.
  Failures older than a day are forgotten. A success clears the recipient's counter
  (not the IP's: one valid code must not buy an address a fresh start at guessing).
* **Fixed-window rate limit.** Requests per key per minute.

Each update is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement, atomic on
SQLite and PostgreSQL alike, so that concurrent processes never lose a count. Keys are
HMAC'd with the server pepper: client IPs (a small space) are not recoverable from the
table.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.errors import RateLimited
from sealwright.storage.models import AuthThrottle

#: Failures are forgotten after this long without another.
FORGET_AFTER = timedelta(days=1)
RATE_WINDOW = timedelta(minutes=1)


class RecordedRateLimited(RateLimited):
    """A lock-out whose counter update (and any audit event) must still be committed."""

    commit = True


@dataclass(frozen=True, slots=True)
class Backoff:
    free: int
    base: int
    cap: int

    def lock_seconds(self, failures: int) -> int:
        """0 while within the free attempts, then base, 2*base, 4*base … up to cap."""
        if failures < self.free:
            return 0
        seconds: int = self.base * 2 ** min(failures - self.free, 30)
        return min(self.cap, seconds)


@dataclass(frozen=True, slots=True)
class Failure:
    """What one recorded failure did: the count now, and the lock it started (if any)."""

    count: int
    locked_until: datetime | None


class Throttle:
    def __init__(self, *, clock: Clock, pepper: bytes) -> None:
        self.clock = clock
        self._pepper = pepper

    def key(self, scope: str, raw: str) -> str:
        return hmac.new(self._pepper, f"{scope}\x00{raw}".encode(), hashlib.sha256).hexdigest()

    # -- failure back-off ----------------------------------------------------------------

    def retry_after(self, session: Session, scope: str, raw: str) -> int:
        """Seconds until ``raw`` may try again in ``scope`` (0: now)."""
        row = session.execute(
            select(AuthThrottle.locked_until).where(
                AuthThrottle.scope == scope, AuthThrottle.key == self.key(scope, raw)
            )
        ).scalar_one_or_none()
        if row is None:
            return 0
        remaining = (row - self.clock.now()).total_seconds()
        return max(0, int(remaining + 0.999))

    def check(self, session: Session, *keys: tuple[str, str]) -> None:
        """Raise RateLimited if any of the (scope, raw key) pairs is locked."""
        wait = max((self.retry_after(session, scope, raw) for scope, raw in keys), default=0)
        if wait:
            raise RateLimited(wait)

    def failure(self, session: Session, scope: str, raw: str, policy: Backoff) -> Failure:
        now = self.clock.now()
        count = self._bump(session, scope, self.key(scope, raw), now, now - FORGET_AFTER)
        seconds = policy.lock_seconds(count)
        locked = now + timedelta(seconds=seconds) if seconds else None
        if locked is not None:
            session.execute(
                update(AuthThrottle)
                .where(AuthThrottle.scope == scope, AuthThrottle.key == self.key(scope, raw))
                .values(locked_until=locked)
            )
        return Failure(count, locked)

    def success(self, session: Session, scope: str, raw: str) -> None:
        session.execute(
            delete(AuthThrottle).where(
                AuthThrottle.scope == scope, AuthThrottle.key == self.key(scope, raw)
            )
        )

    # -- rate limits ---------------------------------------------------------------------

    def hit(self, session: Session, scope: str, raw: str) -> int:
        """Count one request in the current one-minute window; returns the count so far."""
        now = self.clock.now()
        return self._bump(session, scope, self.key(scope, raw), now, now - RATE_WINDOW)

    def _bump(self, session: Session, scope: str, key: str, now: datetime, cutoff: datetime) -> int:
        """count += 1 (or restart at 1 when the window began before ``cutoff``)."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(AuthThrottle).values(
            scope=scope, key=key, count=1, window_start=now, locked_until=None, updated_at=now
        )
        table = AuthThrottle.__table__
        expired = table.c.window_start <= cutoff
        upsert = stmt.on_conflict_do_update(
            index_elements=[table.c.scope, table.c.key],
            set_={
                "count": case((expired, 1), else_=table.c.count + 1),
                "window_start": case((expired, now), else_=table.c.window_start),
                "updated_at": now,
            },
        ).returning(table.c.count)
        # Rows of this table are only ever read and written through statements like this
        # one, never as ORM objects, so no stale copy can linger in the session.
        count: int = session.execute(upsert).scalar_one()
        return count
