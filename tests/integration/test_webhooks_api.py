"""The webhook API over real HTTP: secret rotation (both signatures during the overlap,
only the new one after), Ed25519 (v1a), event filters, SSRF refusal, guards (tenant-wide
tokens only, other tenants' objects look like none, denials recorded), idempotent create
without the secret stored in the clear."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.identity.scopes import ALL_SCOPES, Scope
from sealwright.storage.models import IdempotencyRecord, LedgerEvent, WebhookEndpoint
from sealwright.webhooks.keys import parse_verification_key
from sealwright.webhooks.verify import WebhookVerificationError, WebhookVerifier
from tests.integration.helpers import events, new_client
from tests.integration.token_helpers import access_token, bearer, child_token
from tests.integration.webhook_receiver import Received, wait_for
from tests.integration.webhook_world import World, build_world


@pytest.fixture
def world(settings: Settings, clock: OffsetClock) -> Iterator[World]:
    yield from build_world(settings, clock)


def verify_with(secret: str, got: Received, world: World) -> str:
    """At the service's (test-moved) time."""
    verifier = WebhookVerifier([parse_verification_key(secret)])
    now = int(world.rt.clock.now().timestamp())
    return verifier.verify_at_time(got.body, got.headers, now=now).version


def test_rotation_sends_both_signatures_during_the_overlap_then_only_the_new(
    world: World,
) -> None:
    sub = world.subscribe("/rot", ["system:envelope:completed"])
    old = sub["secret"]
    r = world.api("POST", f"/v1/webhooks/{sub['id']}/rotate-secret", json={"overlap_seconds": 3600})
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert r.json()["previous_key_expires_at"] is not None
    world.emit()
    wait_for(lambda: len(world.receiver.at("/rot")) == 1)
    got = world.receiver.at("/rot")[0]
    assert len(got.signatures) == 2
    assert verify_with(old, got, world) == "v1"
    assert verify_with(new, got, world) == "v1"

    # Past the overlap, the old key stops signing.
    world.rt.clock.advance(3601)  # type: ignore[attr-defined]
    world.emit()
    wait_for(lambda: len(world.receiver.at("/rot")) == 2)
    later = world.receiver.at("/rot")[1]
    assert len(later.signatures) == 1
    assert verify_with(new, later, world) == "v1"
    with pytest.raises(WebhookVerificationError):
        verify_with(old, later, world)

    # Overlap 0: the old key stops at once; and the scheme may change to v1a.
    world.renew_token()
    r = world.api(
        "POST",
        f"/v1/webhooks/{sub['id']}/rotate-secret",
        json={"overlap_seconds": 0, "scheme": "v1a"},
    )
    public = r.json()["secret"]
    assert public.startswith("whpk_")
    assert r.json()["public_key"] == public
    world.emit()
    wait_for(lambda: len(world.receiver.at("/rot")) == 3)
    third = world.receiver.at("/rot")[2]
    assert [s.split(",")[0] for s in third.signatures] == ["v1a"]
    assert verify_with(public, third, world) == "v1a"
    for e in events(world.rt):  # no secret ever reaches the ledger
        for secret in (old, new):
            assert secret.removeprefix("whsec_") not in json.dumps(e)
    [rotated, _] = events(world.rt, EventTag.WEBHOOK_ROTATED.value)
    assert rotated["data"] == {"endpoint": sub["id"], "scheme": "v1", "overlap_seconds": 3600}


def test_v1a_endpoints_sign_with_ed25519_and_show_only_the_public_key(world: World) -> None:
    sub = world.subscribe("/ed", ["system:"], scheme="v1a")
    assert sub["secret"].startswith("whpk_")
    assert world.api("GET", f"/v1/webhooks/{sub['id']}").json()["public_key"] == sub["secret"]
    world.emit()
    wait_for(lambda: len(world.receiver.at("/ed")) == 1)
    assert verify_with(sub["secret"], world.receiver.at("/ed")[0], world) == "v1a"
    with world.rt.db.transaction() as session:
        stored = session.get(WebhookEndpoint, sub["id"])
        assert stored is not None
        assert b"whsk_" not in stored.secrets  # encrypted at rest


def test_filters_route_events_to_the_endpoints_that_want_them(world: World) -> None:
    created = world.subscribe("/created", ["api:envelope:created"])
    system = world.subscribe("/system", ["system:"])
    everything = world.subscribe("/all", ["*"])
    r = world.api(
        "POST",
        "/v1/envelopes",
        json={
            "title": "T",
            "recipients": [{"name": "Alice Liddell", "email": "alice@example.com"}],
        },
    )
    assert r.status_code == 201, r.text
    envelope = r.json()["id"]
    world.emit(EventTag.DOCUMENT_SEALED, envelope=envelope)
    wait_for(lambda: len(world.receiver.at("/all")) >= 2)
    wait_for(lambda: len(world.receiver.at("/created")) == 1)
    wait_for(lambda: len(world.receiver.at("/system")) == 1)
    assert [json.loads(r.body)["type"] for r in world.receiver.at("/created")] == [
        "api.envelope.created"
    ]
    assert [json.loads(r.body)["type"] for r in world.receiver.at("/system")] == [
        "system.document.sealed"
    ]
    tags = {json.loads(r.body)["data"]["tag"] for r in world.receiver.at("/all")}
    assert {"api:envelope:created", "system:document:sealed"} <= tags
    assert not any(t.startswith(("api:webhook", "system:webhook")) for t in tags)
    for got in world.receiver.received:  # ids and hashes, never names or addresses
        assert b"alice" not in got.body.lower()
        assert json.loads(got.body)["data"]["envelope_id"] == envelope
    assert len(world.deliveries(created["id"])) == 1
    assert len(world.deliveries(system["id"])) == 1
    # Changing the filter takes effect for the next event.
    r = world.api("PATCH", f"/v1/webhooks/{system['id']}", json={"events": ["api:envelope:"]})
    assert r.status_code == 200, r.text
    world.emit(EventTag.DOCUMENT_SEALED, envelope=envelope)
    wait_for(lambda: len(world.deliveries(everything["id"])) >= 3)
    assert len(world.deliveries(system["id"])) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://127.0.0.1/hook",
        "http://[::1]:9/x",
        "https://[::ffff:192.168.0.1]/",
        "http://93.184.215.14/hook",  # public, but not https
        "https://user:pw@93.184.215.14/",
        "file:///etc/passwd",
    ],
)
def test_ssrf_targets_are_refused_and_change_nothing(world: World, url: str) -> None:
    world.rt.settings.webhook_allow_private_networks = False
    before = _counts(world)
    r = world.api("POST", "/v1/webhooks", json={"url": url, "events": ["*"]})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _counts(world) == before


def test_bad_input_gets_a_clear_error_and_changes_nothing(world: World) -> None:
    sub = world.subscribe("/x", ["*"])
    before = _counts(world)
    cases = [
        ("POST", "/v1/webhooks", {"url": world.receiver.url("/y"), "events": ["nope:x:y"]}),
        ("POST", "/v1/webhooks", {"url": world.receiver.url("/y"), "events": []}),
        ("POST", "/v1/webhooks", {"url": world.receiver.url("/y"), "scheme": "v2"}),
        ("POST", "/v1/webhooks", {"url": world.receiver.url("/y"), "extra": 1}),
        ("PATCH", f"/v1/webhooks/{sub['id']}", {"url": "https://10.0.0.1/", "events": ["*"]}),
        ("POST", f"/v1/webhooks/{sub['id']}/rotate-secret", {"overlap_seconds": -1}),
    ]
    world.rt.settings.webhook_allow_private_networks = False
    for method, path, body in cases:
        r = world.api(method, path, json=body)
        assert r.status_code == 422, (method, path, r.text)
    assert _counts(world) == before
    assert world.endpoint(sub["id"]).url == world.receiver.url("/x")


def test_guards(world: World) -> None:
    sub = world.subscribe("/g", ["*"])
    url = world.server.url
    # Another tenant's endpoint looks like none, and the denial is recorded.
    _t, cid_b, secret_b = new_client(world.rt, "other")
    other = bearer(access_token(world.server, cid_b, secret_b))
    import httpx

    denied = len(events(world.rt, EventTag.ACCESS_DENIED.value))
    for method, path in (
        ("GET", f"/v1/webhooks/{sub['id']}"),
        ("PATCH", f"/v1/webhooks/{sub['id']}"),
        ("DELETE", f"/v1/webhooks/{sub['id']}"),
        ("POST", f"/v1/webhooks/{sub['id']}/rotate-secret"),
        ("GET", f"/v1/webhooks/{sub['id']}/deliveries"),
    ):
        r = httpx.request(method, url + path, headers=other, json={})
        assert r.status_code == 404, (method, path, r.text)
    assert len(events(world.rt, EventTag.ACCESS_DENIED.value)) == denied + 5
    assert httpx.get(url + "/v1/webhooks", headers=other).json()["items"] == []
    # A folder-restricted token cannot manage tenant-wide webhooks.
    narrow = bearer(child_token(world.server, world.token, folders="hr"))
    r = httpx.get(url + "/v1/webhooks", headers=narrow)
    assert r.status_code == 403, r.text
    assert "tenant-wide" in r.json()["detail"]
    assert len(events(world.rt, EventTag.ACCESS_DENIED.value)) == denied + 6
    # Read scope cannot write.
    _t, cid_r, secret_r = new_client(world.rt, "reader", frozenset({Scope.WEBHOOKS_READ}))
    reader = bearer(access_token(world.server, cid_r, secret_r))
    assert httpx.get(url + "/v1/webhooks", headers=reader).status_code == 200
    r = httpx.post(
        url + "/v1/webhooks", headers=reader, json={"url": "https://x/", "events": ["*"]}
    )
    assert r.status_code == 403
    # Envelope scopes alone do not reach webhooks.
    _t, cid_e, secret_e = new_client(world.rt, "env", ALL_SCOPES - {Scope.WEBHOOKS_READ})
    env_only = bearer(access_token(world.server, cid_e, secret_e))
    assert httpx.get(url + "/v1/webhooks", headers=env_only).status_code == 403
    # Delete: gone from the list, keys erased, further use is 404.
    r = world.api("DELETE", f"/v1/webhooks/{sub['id']}")
    assert r.status_code == 204
    assert world.api("GET", "/v1/webhooks").json()["items"] == []
    assert world.endpoint(sub["id"]).secrets == b""
    assert world.api("GET", f"/v1/webhooks/{sub['id']}").status_code == 404


def test_idempotent_create_never_stores_the_secret(world: World) -> None:
    body = {"url": world.receiver.url("/i"), "events": ["*"]}
    headers = {**world.headers, "Idempotency-Key": "create-1"}
    import httpx

    first = httpx.post(f"{world.server.url}/v1/webhooks", headers=headers, json=body)
    again = httpx.post(f"{world.server.url}/v1/webhooks", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["secret"].startswith("whsec_")
    assert again.json()["secret"] is None
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    secret = first.json()["secret"].removeprefix("whsec_").encode()
    with world.rt.db.transaction() as session:
        for record in session.execute(select(IdempotencyRecord)).scalars():
            assert secret not in record.body
    assert len(world.api("GET", "/v1/webhooks").json()["items"]) == 1


def _counts(world: World) -> tuple[int, int]:
    """Endpoints, and ledger events other than authorisation records (the route's
    ``api:access:granted`` is written when the token passes, before the body is read)."""
    with world.rt.db.transaction() as session:
        return (
            session.execute(select(func.count()).select_from(WebhookEndpoint)).scalar_one(),
            session.execute(
                select(func.count())
                .select_from(LedgerEvent)
                .where(LedgerEvent.tag.not_like("api:access:%"))
            ).scalar_one(),
        )
