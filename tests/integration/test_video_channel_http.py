"""The video channel (C3) over real HTTP: consent first, chunked upload, vidHash checked
against the stored bytes, the built-in liveness check, the recording encrypted under its own
key and deleted after retention, and the signed assertion in the evidence bundle."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.errors import DecryptionFailed
from sealwright.evidence.verify import verify_bundle
from sealwright.services.channel_flow.video_store import VideoStore, purge_expired_videos
from sealwright.services.evidence_export import trust_store
from sealwright.services.reminders import EnvelopeSweep
from sealwright.services.runtime import Runtime
from sealwright.simulators.camera import challenge_video, encode, still_frames
from sealwright.storage.models import VideoRecording
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

VIDEO = {"verification_channels": ["video"]}


@pytest.fixture
def driver(runtime: Runtime, server: BackgroundServer) -> Iterator[DemoDriver]:
    _, cid, secret = new_client(runtime, "acme")
    d = DemoDriver(server.url, cid, secret, timeout=30)
    yield d
    d.close()


def signed_in(driver: DemoDriver, base: str, email: str = "ada@example.com") -> httpx.Client:
    browser, _ = open_link(driver, email)
    browser.post(f"{base}/s/otp", data={"code": email_code(driver, email)}).raise_for_status()
    browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
    return browser


def start(browser: httpx.Client, base: str) -> tuple[str, dict[str, Any]]:
    r = browser.post(f"{base}/s/channels/video/start")
    assert r.status_code == 200, r.text
    run = r.url.path.rsplit("/", 1)[1]
    assert 'id="video-consent-form"' in r.text
    status = browser.get(f"{base}/s/channels/v/{run}/status").json()
    return run, status["display"]


def consent(browser: httpx.Client, base: str, run: str) -> None:
    r = browser.post(
        f"{base}/s/channels/v/{run}/video/consent", data={"consent": "video-recording-v1"}
    )
    assert r.status_code == 200
    assert 'id="video-capture"' in r.text


def nonce(display: dict[str, Any]) -> bytes:
    return base64.urlsafe_b64decode(display["nonce"] + "==")


def upload(
    browser: httpx.Client, base: str, run: str, video: bytes, size: int = 8 * 1024
) -> str:
    upload_id = ""
    for seq, at in enumerate(range(0, len(video), size)):
        r = browser.post(
            f"{base}/s/channels/v/{run}/video/chunks",
            params={"seq": seq},
            content=video[at : at + size],
            headers={"Content-Type": "video/webm"},
        )
        assert r.status_code == 200, r.text
        upload_id = r.json()["upload"]
        assert r.json()["received"] == seq + 1
    return upload_id


def finish(browser: httpx.Client, base: str, run: str, digest: str) -> httpx.Response:
    return browser.post(f"{base}/s/channels/v/{run}/video/finish", json={"sha256": digest})


def vid_hash(video: bytes, display: dict[str, Any]) -> str:
    return hashlib.sha256(video + nonce(display)).hexdigest()


def claims(compact: str) -> dict[str, Any]:
    payload = compact.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "==")))


def test_a_live_capture_passes_and_is_kept_encrypted_until_retention(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver, clock: OffsetClock
) -> None:
    base = server.url
    env = create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:
        run, display = start(browser, base)
        actions = display["actions"].split(",")
        assert 2 <= len(actions) <= 4
        assert len(display["phrase"].split()) == 4
        # No capture before consent: not even a chunk is stored.
        early = browser.post(
            f"{base}/s/channels/v/{run}/video/chunks", params={"seq": 0}, content=b"x",
            headers={"Content-Type": "video/webm"},
        )
        assert early.status_code == 409
        assert "consent" in early.json()["error"]
        consent(browser, base, run)

        video = challenge_video(actions, seed=31)
        first = upload(browser, base, run, video)
        chunk = f"{base}/s/channels/v/{run}/video/chunks"
        # A retried chunk is accepted again; other bytes under its number, or a gap, are not.
        again = browser.post(chunk, params={"seq": 1}, content=video[8 * 1024 : 16 * 1024],
                             headers={"Content-Type": "video/webm"})
        assert again.status_code == 200, again.text
        assert again.json()["upload"] == first
        assert browser.post(chunk, params={"seq": 1}, content=b"other",
                            headers={"Content-Type": "video/webm"}).status_code == 409
        assert browser.post(chunk, params={"seq": 99}, content=b"gap",
                            headers={"Content-Type": "video/webm"}).status_code == 409
        too_big = browser.post(chunk, params={"seq": 0}, content=b"\0" * (1024 * 1024 + 1),
                               headers={"Content-Type": "video/webm"})
        assert too_big.status_code == 413

        # The client's hash does not match the bytes stored: refused, with an event.
        bad = finish(browser, base, run, "0" * 64)
        assert bad.status_code == 422
        assert "does not match" in bad.json()["error"]
        assert (bad.json()["status"], bad.json()["attempts_left"]) == ("pending", 2)

        upload(browser, base, run, video)
        ok = finish(browser, base, run, vid_hash(video, display))
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "passed"
        page = browser.get(f"{base}/s/channels/v/{run}")
        assert 'id="video-done"' in page.text
        assert "you have signed" in sign(browser, base).text

    [failed] = events(runtime, "signer:channel:attempt-failed")
    assert failed["data"]["details"]["reason"] == "hash-mismatch"
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("video", "passed")

    driver.wait_sealed(env["id"])
    bundle = driver.api.get(
        f"/v1/envelopes/{env['id']}/evidence",
        headers={"Authorization": f"Bearer {driver.token()}"},
    ).content
    entry = zipfile.ZipFile(io.BytesIO(bundle)).read("assertions/001-video.jws").decode()
    c = claims(entry)
    assert c["channel"] == "video"
    assert c["result"] == "passed"
    assert c["details"]["vid_hash"] == vid_hash(video, display)
    assert c["details"]["actions"] == display["actions"]
    assert c["details"]["phrase"] == display["phrase"]
    assert c["details"]["provider"] == "builtin-haar/1"
    assert 60 <= c["details"]["liveness"] <= 100
    assert c["consent"]["text"] == "video-recording-v1"
    assert verify_bundle(bundle, trust_store(runtime)).ok

    # Stored encrypted under its own key: the blob is not the video, and opens only with it.
    with runtime.db.transaction() as session:
        rows = list(session.execute(select(VideoRecording)).scalars())
        accepted = next(r for r in rows if r.status == "accepted")
        assert {r.status for r in rows} == {"accepted", "rejected"}
        blob = b"".join(runtime.blobs.get(accepted.blob_key))
        assert video not in blob
        assert video[:64] not in blob
        assert len(blob) > len(video)
        assert accepted.sha256 == hashlib.sha256(video).hexdigest()
        assert accepted.vid_hash == vid_hash(video, display)
        assert accepted.fingerprint
        assert accepted.wrapped_key
        store = VideoStore(runtime)
        assert store.read(accepted) == video
        with store.bound(session):  # judged once: the channel cannot be handed it again
            assert store.load(accepted.id, run) is None
        # Authenticated encryption: one changed byte and the recording does not open.
        runtime.blobs.put(accepted.blob_key, [blob[:-1] + bytes([blob[-1] ^ 1])])
        with pytest.raises(DecryptionFailed):
            store.read(accepted)
        keys = [r.blob_key for r in rows]
    ledger = repr(events(runtime))
    assert str(accepted.fingerprint[0]) not in ledger
    assert "fingerprint" not in ledger

    # Retention: nothing before its day, everything after; the hash stays.
    assert purge_expired_videos(runtime) == 0
    clock.advance(91 * 86400)
    EnvelopeSweep(runtime).run({})  # the sweep job purges them
    assert not any(runtime.blobs.exists(k) for k in keys)
    with runtime.db.transaction() as session:
        for row in session.execute(select(VideoRecording)).scalars():
            assert row.status == "deleted"
            assert row.deleted_at is not None
            assert row.fingerprint is None
    deleted = events(runtime, "system:video:deleted")
    assert {e["data"]["vid_hash"] for e in deleted} == {vid_hash(video, display)}
    assert purge_expired_videos(runtime) == 0


def test_replay_still_photo_and_wrong_order_fail_until_the_run_fails(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver
) -> None:
    base = server.url
    create_envelope(driver, auth=VIDEO)
    create_envelope(driver, email="bob@example.com", auth=VIDEO)
    with closing(signed_in(driver, base)) as ada:
        run, display = start(ada, base)
        consent(ada, base, run)
        ada_video = challenge_video(display["actions"].split(","), seed=41)
        upload(ada, base, run, ada_video)
        assert finish(ada, base, run, vid_hash(ada_video, display)).json()["status"] == "passed"
    with closing(signed_in(driver, base, "bob@example.com")) as bob:
        run, display = start(bob, base)
        # Bob cannot send a capture before consenting, even by the generic answer route.
        bob.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "video", "value": "x:y"})
        consent(bob, base, run)
        # A capture can only come through the finish route, not the generic answer.
        bob.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "video", "value": "x:y"})
        # Ada's accepted capture, replayed (with a correct hash for Bob's nonce).
        upload(bob, base, run, ada_video)
        replay = finish(bob, base, run, vid_hash(ada_video, display)).json()
        assert (replay["status"], replay["reason"], replay["attempts_left"]) == (
            "pending", "replay", 2,
        )
        still = encode(still_frames())
        upload(bob, base, run, still)
        assert finish(bob, base, run, vid_hash(still, display)).json()["reason"] == "still-image"
        actions = display["actions"].split(",")
        backwards = challenge_video(actions[::-1], seed=42)
        upload(bob, base, run, backwards)
        last = finish(bob, base, run, vid_hash(backwards, display)).json()
        assert last["status"] == "failed"
        assert "did not pass" in bob.get(f"{base}/s/channels/v/{run}").text
    failed = events(runtime, "signer:channel:attempt-failed")
    reasons = [e["data"]["details"]["reason"] for e in failed]
    assert reasons == ["no-consent", "upload-missing", "replay", "still-image"]
    results = [e["data"]["result"] for e in events(runtime, "system:assertion:issued")]
    assert results == ["passed", "failed"]


def test_camera_denied_ends_the_run_for_another_channel(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver
) -> None:
    base = server.url
    create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:
        run, _ = start(browser, base)
        consent(browser, base, run)
        r = browser.post(
            f"{base}/s/channels/v/{run}/answer", data={"kind": "camera-denied", "value": ""}
        )
        assert 'id="video-camera-denied"' in r.text
        assert browser.get(f"{base}/s/channels/v/{run}/status").json()["status"] == "failed"
        # A finished run takes no more uploads.
        late = browser.post(
            f"{base}/s/channels/v/{run}/video/chunks", params={"seq": 0}, content=b"x",
            headers={"Content-Type": "video/webm"},
        )
        assert late.status_code == 409
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("video", "failed")


def test_another_signer_cannot_touch_a_run(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver
) -> None:
    base = server.url
    create_envelope(driver, auth=VIDEO)
    create_envelope(driver, email="bob@example.com", auth=VIDEO)
    with (
        closing(signed_in(driver, base)) as ada,
        closing(signed_in(driver, base, "bob@example.com")) as bob,
    ):
        run, _ = start(ada, base)
        consent(ada, base, run)
        r = bob.post(f"{base}/s/channels/v/{run}/video/chunks", params={"seq": 0}, content=b"x",
                     headers={"Content-Type": "video/webm"})
        assert r.status_code == 404
        assert bob.post(f"{base}/s/channels/v/{run}/video/finish",
                        json={"sha256": "0" * 64}).status_code == 404
        anonymous = httpx.post(f"{base}/s/channels/v/{run}/video/finish", json={"sha256": "0"})
        assert anonymous.status_code == 401
    assert events(runtime, "signer:channel:attempt-failed") == []


def test_upload_limits_and_types(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sealwright.services.channel_flow import video_store

    monkeypatch.setattr(video_store, "MAX_TOTAL", 20 * 1024)
    base = server.url
    create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:
        run, display = start(browser, base)
        consent(browser, base, run)
        chunk = f"{base}/s/channels/v/{run}/video/chunks"
        gif = browser.post(chunk, params={"seq": 0}, content=b"GIF89a",
                           headers={"Content-Type": "image/gif"})
        assert gif.status_code == 400
        for seq in (0, 1):
            r = browser.post(chunk, params={"seq": seq}, content=bytes([seq]) * 8192,
                             headers={"Content-Type": "video/mp4"})
            assert r.status_code == 200
        over = browser.post(chunk, params={"seq": 2}, content=b"\2" * 8192,
                            headers={"Content-Type": "video/mp4"})
        assert over.status_code == 400
        assert "too large" in over.json()["error"]
        # Not a video at all: judged, refused as unreadable, an attempt spent.
        stored = b"\0" * 8192 + b"\1" * 8192
        bogus = finish(browser, base, run, vid_hash(stored, display))
        assert bogus.status_code == 200
        assert (bogus.json()["reason"], bogus.json()["attempts_left"]) == ("unreadable", 2)
    with runtime.db.transaction() as session:
        [rec] = session.execute(select(VideoRecording)).scalars()
        assert (rec.content_type, rec.size, rec.chunks) == ("video/mp4", 16384, 2)
