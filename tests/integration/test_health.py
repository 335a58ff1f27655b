"""Liveness and readiness (H2) and graceful shutdown of ``sealwright serve`` and
``sealwright worker``, on real loopback HTTP and real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from sealwright.services.runtime import Runtime
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer, free_port

SEALWRIGHT = Path(sys.executable).parent / "sealwright"  # this virtualenv's console script


def test_readiness_fails_while_draining_and_off_the_expected_migration(runtime: Runtime) -> None:
    app = create_app(runtime, start_worker=False)
    with BackgroundServer(app, port=runtime.settings.port) as server:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}

        with runtime.db.engine.begin() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        r = httpx.get(f"{server.url}/readyz")
        assert (r.status_code, r.json()["reason"]) == (
            503,
            "database schema is not at the expected migration",
        )
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # alive, not ready
        with runtime.db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
        assert httpx.get(f"{server.url}/readyz").status_code == 200

        app.state.draining.set()  # what SIGTERM does first in `sealwright serve`
        r = httpx.get(f"{server.url}/readyz")
        assert (r.status_code, r.json()["reason"]) == (503, "shutting down")
        assert r.headers["cache-control"] == "no-store"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SEALWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "SEALWRIGHT_MAIL_MODE": "capture",
        **extra,
    }


def _wait(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail("timed out")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SEALWRIGHT), "serve", "--no-demo", "--port", str(port)],
            env=_env(tmp_path, SEALWRIGHT_PUBLIC_URL=url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: _ready(url))
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its shutdown: "terminated by SIGTERM"
        assert proc.wait(30) in (0, -signal.SIGTERM)
        output = log.read_text()
        assert "Application shutdown complete" in output
        assert "Traceback" not in output
        assert not _ready(url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_worker_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SEALWRIGHT), "worker", "--threads", "3"],
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: "worker running (3 thread(s))" in log.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        output = log.read_text()
        assert "worker stopped" in output
        assert "Traceback" not in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
