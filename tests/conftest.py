"""Shared fixtures. Database tests run against SQLite and PostgreSQL through one
parametrised fixture; PostgreSQL tests get a fresh database cloned from a migrated template."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.services.runtime import Runtime
from sealwright.storage.db import make_engine, upgrade
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer, free_port

PG_URL = os.environ.get(
    "SEALWRIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin_url() -> str:
    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"sw_tmpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL is required for postgres-marked tests: {exc}")
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(False))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sealwright.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mail_mode="capture",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
    )


@pytest.fixture
def runtime(settings: Settings, clock: OffsetClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def server(runtime: Runtime) -> Iterator[BackgroundServer]:
    """The real app on a real loopback port, with its in-process worker."""
    with BackgroundServer(create_app(runtime), port=runtime.settings.port) as srv:
        yield srv
