"""Liveness and readiness (H2), for a reverse proxy or an orchestrator.

``/healthz``: the process answers. ``/readyz``: this process should be sent traffic -- the
database answers, its schema is at the newest migration this code knows (an API process
started against an un-migrated database, or one left behind by a newer deployment, is not
ready), and the process is not shutting down: on SIGTERM ``sealwright serve`` sets
``app.state.draining`` so a proxy's health check takes it out of rotation while in-flight
requests finish."""

from __future__ import annotations

import threading

from alembic.script import ScriptDirectory
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sealwright.services.runtime import Runtime
from sealwright.storage.db import alembic_config


def install(app: FastAPI, rt: Runtime) -> None:
    app.state.draining = threading.Event()
    head = ScriptDirectory.from_config(alembic_config(rt.db.engine)).get_current_head()

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        if request.app.state.draining.is_set():
            return _unavailable("shutting down")
        try:
            with rt.db.engine.connect() as conn:
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return _unavailable("database unreachable")
        if version != head:
            return _unavailable("database schema is not at the expected migration")
        return JSONResponse({"status": "ready"})


def _unavailable(reason: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "reason": reason},
        status_code=503,
        headers={"Cache-Control": "no-store"},
    )
