"""``/metrics`` behind ``metrics_token`` (a bearer token, compared in constant time; every
wrong answer the same plain 401), and switched off with ``metrics_enabled = false``."""

from __future__ import annotations

import secrets

import httpx
import pytest
from pydantic import SecretStr

from sealwright.config import Settings
from sealwright.services.runtime import Runtime
from sealwright.web.app import create_app
from sealwright.web.metrics import RunMetrics
from sealwright.web.server import BackgroundServer


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def settings(settings: Settings, token: str) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(token)})


def test_the_token_is_required_when_set(server: BackgroundServer, token: str) -> None:
    url = f"{server.url}/metrics"
    refusals = [
        httpx.get(url),
        httpx.get(url, headers={"Authorization": "Bearer " + token[:-1]}),
        httpx.get(url, headers={"Authorization": "Bearer " + token + "x"}),
        httpx.get(url, headers={"Authorization": token}),
        httpx.get(url, headers={"Authorization": "Basic " + token}),
        httpx.get(url, headers={"Authorization": "Bearer é".encode("latin-1")}),
    ]
    for r in refusals:
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.text == refusals[0].text
        assert "sealwright_" not in r.text
        assert token not in r.text
    ok = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert "sealwright_kpi_window_seconds" in ok.text
    assert ok.headers["cache-control"] == "no-store"


def test_metrics_can_be_switched_off(runtime: Runtime, token: str) -> None:
    runtime.settings = runtime.settings.model_copy(update={"metrics_enabled": False})
    with BackgroundServer(create_app(runtime), port=runtime.settings.port) as srv:
        r = httpx.get(f"{srv.url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404
        assert httpx.get(f"{srv.url}/healthz").status_code == 200
    # Nor does anything observe the audit log for it.
    owners = [getattr(o, "__self__", None) for o in runtime.audit.observers]
    assert not [o for o in owners if isinstance(o, RunMetrics)]
