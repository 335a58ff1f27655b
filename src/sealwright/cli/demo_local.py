"""A throw-away local service for ``sealwright demo``: the embedded default (SQLite, local
keys, mail capture, the carrier simulator) on a free loopback port, a tenant and an API
client, and a driver that talks to it over real HTTP."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sealwright.cli.demo_driver import DemoDriver
from sealwright.config import Settings
from sealwright.services.runtime import Runtime


@contextmanager
def local_service(data_dir: Path | None, **settings: Any) -> Iterator[tuple[Runtime, DemoDriver]]:
    from sealwright.services.admin import create_client, create_tenant
    from sealwright.web.app import create_app
    from sealwright.web.server import BackgroundServer, free_port

    with tempfile.TemporaryDirectory(prefix="sealwright-demo-") as tmp:
        port = free_port()
        rt = Runtime.build(
            Settings(
                data_dir=data_dir or Path(tmp),
                port=port,
                public_url=f"http://127.0.0.1:{port}",
                mail_mode="capture",
                **settings,
            )
        )
        try:
            with rt.db.transaction() as session:
                tenant = create_tenant(rt, session, f"demo-{port}")
                client, secret = create_client(rt, session, tenant, "demo driver")
            with BackgroundServer(create_app(rt), port=port) as server:
                driver = DemoDriver(server.url, client.id, secret)
                try:
                    yield rt, driver
                finally:
                    driver.close()
        finally:
            rt.close()
