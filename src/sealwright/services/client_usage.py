"""What each API client actually uses (B1): its last-used time, and when it last exercised
each scope and folder, so that ``sealwright credentials report`` can name unused and
over-privileged credentials.

Cheap by construction: each process writes an item at most once per ``interval`` seconds
(remembered in memory), and the write is one upsert per item plus a conditional update of
``api_clients.last_used_at`` that touches the row only when it is older than the interval.
Several replicas each write at most once a minute; the report's windows are days.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.storage.models import ApiClient, ApiClientUsage

INTERVAL = 60
_MAX_REMEMBERED = 50_000


def scope_item(scope: str) -> str:
    return f"scope:{scope}"


def folder_item(folder: str) -> str:
    return f"folder:{folder}"


class ClientUsage:
    def __init__(self, *, clock: Clock, interval: int = INTERVAL) -> None:
        self._clock = clock
        self._interval = interval
        self._written: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, client_id: str, items: Iterable[str]) -> list[str]:
        """The items this process has not written within the interval (marked as written)."""
        now = self._clock.now().timestamp()
        out = []
        with self._lock:
            if len(self._written) > _MAX_REMEMBERED:
                self._written.clear()  # worst case: one extra write per item
            for item in ("client", *items):
                key = (client_id, item)
                if now - self._written.get(key, float("-inf")) >= self._interval:
                    self._written[key] = now
                    out.append(item)
        return out

    def record(self, session: Session, client_id: str, items: Iterable[str]) -> None:
        """Write what is due; call it inside a unit of work."""
        due = self.due(client_id, items)
        if not due:
            return
        now = self._clock.now()
        session.execute(
            update(ApiClient)
            .where(ApiClient.id == client_id)
            .where(
                or_(
                    ApiClient.last_used_at.is_(None),
                    ApiClient.last_used_at < now - timedelta(seconds=self._interval),
                )
            )
            .values(last_used_at=now)
        )
        rows = [
            {"client_id": client_id, "item": item, "last_used_at": now}
            for item in due
            if item != "client"
        ]
        if not rows:
            return
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(ApiClientUsage).values(rows)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["client_id", "item"],
                set_={"last_used_at": stmt.excluded.last_used_at},
            )
        )
