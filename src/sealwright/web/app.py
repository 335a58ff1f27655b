"""The FastAPI application factory: ``create_app(runtime)``. No app exists at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sealwright import __version__
from sealwright.services.client_usage import ClientUsage
from sealwright.services.runtime import Runtime
from sealwright.web import (
    api,
    dev,
    embedded,
    health,
    ledger_api,
    oauth,
    problems,
    rate_limits,
    signer,
    signer_pages,
)
from sealwright.web import console as operator_console
from sealwright.web.auth import redact_path
from sealwright.web.webhooks_api import router as webhooks_router

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
                rt.worker.stop(rt.settings.worker_shutdown_timeout)
                rt.worker = None

    app = FastAPI(
        title="Sealwright",
        version=__version__,
        description="Zero-trust e-signature service with verifiable evidence.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.state.client_usage = ClientUsage(clock=rt.clock)
    problems.install(app)
    app.include_router(oauth.router)
    app.include_router(ledger_api.router)
    app.include_router(api.router)
    app.include_router(webhooks_router)
    app.include_router(signer.router)
    app.include_router(embedded.router)
    from sealwright.web import qr_api, signer_device  # signed QR codes (C4)

    qr_api.install(app, rt)
    app.include_router(signer_device.router)
    from sealwright.web import signer_phone  # phone callback (C1): carrier callbacks

    app.include_router(signer_phone.router)
    from sealwright.web import signer_video  # video verification (C3): consent, upload

    app.include_router(signer_video.router)
    operator_console.install(app)
    carrier_simulator = rt.sms is not None and rt.sms.simulator is not None
    if rt.mail_capture is not None or carrier_simulator:
        app.include_router(dev.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    rate_limits.install(app, rt)
    signer_pages.install_device_cookie(app, rt)  # sw_device: risk signals (D4)

    health.install(app, rt)
    from sealwright.web import metrics  # GET /metrics, Prometheus (G5)

    metrics.install(app, rt)

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
