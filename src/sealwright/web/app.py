"""The FastAPI application factory: ``create_app(runtime)``. No app exists at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from sealwright import __version__
from sealwright.services.runtime import Runtime
from sealwright.web import api, dev, ledger_api, oauth, problems, signer
from sealwright.web.auth import redact_path

access_log = structlog.get_logger("sealwright.access")


def create_app(rt: Runtime, *, start_worker: bool | None = None) -> FastAPI:
    run_worker = rt.settings.inprocess_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            from sealwright.jobs.handlers import build_worker

            rt.worker = build_worker(rt)
            rt.worker.start()
        try:
            yield
        finally:
            if rt.worker is not None:
                rt.worker.stop()
                rt.worker = None

    app = FastAPI(
        title="Sealwright",
        version=__version__,
        description="Zero-trust e-signature service with verifiable evidence.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    problems.install(app)
    app.include_router(oauth.router)
    app.include_router(ledger_api.router)
    app.include_router(api.router)
    app.include_router(signer.router)
    if rt.mail_capture is not None:
        app.include_router(dev.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with rt.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.middleware("http")
    async def security_headers(request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        # Our own access log: uvicorn's would write one-time link tokens into the log.
        access_log.info(
            "request",
            method=request.method,
            path=redact_path(request.url.path),
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'self'; frame-ancestors 'self'",
        )
        return response

    return app
