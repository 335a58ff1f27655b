"""Alembic environment: the engine comes from the caller (``storage.db.upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from sealwright.storage.models import Base

engine: Engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
