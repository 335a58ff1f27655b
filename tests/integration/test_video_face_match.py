"""The video channel's optional face match (C3) over real HTTP: the first live capture of
a signer identity enrols its template (stored encrypted, aad naming the identity), a later
capture of another face fails as ``face-mismatch`` (an attempt), the same face passes with
``face_match`` in the signed assertion, the template never reaches the ledger, and it goes
with the retention sweep. With the setting off nothing is enrolled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.errors import DecryptionFailed
from sealwright.liveness import template
from sealwright.liveness.builtin import HaarLiveness
from sealwright.liveness.port import LivenessChallenge
from sealwright.services.channel_flow.face_templates import FaceTemplates
from sealwright.services.reminders import EnvelopeSweep
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import signer_identity
from sealwright.simulators.camera import challenge_video
from sealwright.storage.models import Envelope, FaceTemplate, VerificationAssertion
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, sign
from tests.integration.test_video_channel_http import (
    VIDEO,
    claims,
    consent,
    finish,
    signed_in,
    start,
    upload,
    vid_hash,
)
from tests.unit.liveness.test_template import other_video


@pytest.fixture
def face_mode() -> str:
    return "enrol-and-match"


@pytest.fixture
def settings(settings: Settings, face_mode: str) -> Settings:
    return settings.model_copy(update={"video_face_match": face_mode})


@pytest.fixture
def driver(runtime: Runtime, server: BackgroundServer) -> Iterator[DemoDriver]:
    _, cid, secret = new_client(runtime, "acme")
    d = DemoDriver(server.url, cid, secret, timeout=30)
    yield d
    d.close()


def live_other_face(actions: list[str]) -> bytes:
    """Another person performing the asked actions well enough to pass liveness (so that
    it is the face match that refuses it)."""
    provider = HaarLiveness()
    for seed in range(60, 70):
        video = other_video(0, actions, seed=seed)
        if provider.check(video, LivenessChallenge(tuple(actions))).passed:
            return video
    raise AssertionError("no live capture of the other face")


def capture(browser: Any, base: str, video_for: Any) -> tuple[str, dict[str, Any], Any]:
    run, display = start(browser, base)
    page = browser.get(f"{base}/s/channels/v/{run}")
    consent(browser, base, run)
    video = video_for(display["actions"].split(","))
    upload(browser, base, run, video)
    return run, display, (page, video, finish(browser, base, run, vid_hash(video, display)))


def details(runtime: Runtime) -> list[dict[str, Any]]:
    """The details of the signed assertions, in the order they were issued."""
    with runtime.db.transaction() as session:
        q = select(VerificationAssertion).order_by(VerificationAssertion.created_at)
        return [claims(a.compact)["details"] for a in session.execute(q).scalars()]


def test_enrol_then_match_encrypted_template(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver, clock: OffsetClock
) -> None:
    base = server.url
    env = create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:
        _, _, (page, enrolled_video, done) = capture(
            browser, base, lambda a: challenge_video(a, seed=81)
        )
        assert "face template" in page.text  # the consent says so when matching is on
        assert done.json()["status"] == "passed", done.text
        assert "you have signed" in sign(browser, base).text
    [first] = details(runtime)
    assert first["face_enrolled"] is True
    assert "face_match" not in first

    # Stored encrypted for ada's identity: not the plaintext vector, opens to it, and one
    # changed byte does not open.
    plain = template.to_bytes(template.extract(enrolled_video))
    with runtime.db.transaction() as session:
        [row] = session.execute(select(FaceTemplate)).scalars()
        envelope = session.get(Envelope, env["id"])
        assert envelope is not None
        assert row.identity == signer_identity(envelope.tenant_id, "ada@example.com")
        assert row.ciphertext != plain
        assert plain[5:69] not in row.ciphertext
        assert len(row.ciphertext) > len(plain)
        faces = FaceTemplates(runtime)
        assert np.array_equal(faces.open(row), template.from_bytes(plain))
        ciphertext = row.ciphertext
        flipped = bytearray(ciphertext)
        flipped[len(flipped) // 2] ^= 1
        row.ciphertext = bytes(flipped)
        with pytest.raises(DecryptionFailed):
            faces.open(row)
        row.ciphertext = ciphertext
        identity = row.identity
        # The aad names the identity: the row moved to another identity does not open.
        row.identity = signer_identity(envelope.tenant_id, "bob@example.com")
        with pytest.raises(DecryptionFailed):
            faces.open(row)
        row.identity = identity

    # Ada's next envelope: another face is refused as an attempt, her own face passes.
    create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:
        run, display = start(browser, base)
        consent(browser, base, run)
        actions = display["actions"].split(",")
        impostor = live_other_face(actions)
        upload(browser, base, run, impostor)
        refused = finish(browser, base, run, vid_hash(impostor, display)).json()
        assert (refused["status"], refused["reason"], refused["attempts_left"]) == (
            "pending", "face-mismatch", 2,
        )
        own = challenge_video(actions, seed=82)
        upload(browser, base, run, own)
        assert finish(browser, base, run, vid_hash(own, display)).json()["status"] == "passed"
    [failed] = events(runtime, "signer:channel:attempt-failed")
    assert failed["data"]["details"]["reason"] == "face-mismatch"
    assert failed["data"]["details"]["face_match_passed"] is False
    threshold = runtime.settings.video_face_match_threshold
    assert 0 <= failed["data"]["details"]["face_match"] < threshold
    second = details(runtime)[1]
    assert second["face_match_passed"] is True
    assert threshold <= second["face_match"] <= 100
    assert "face_enrolled" not in second

    # Only the score reaches the ledger: never the template, nor its ciphertext.
    ledger = repr(events(runtime))
    assert ciphertext.hex()[:32] not in ledger
    assert plain.hex()[10:42] not in ledger
    assert "template" not in ledger
    with runtime.db.transaction() as session:
        assert [r.identity for r in session.execute(select(FaceTemplate)).scalars()] == [
            identity
        ]

    # Retention: the sweep deletes the template with the recordings.
    clock.advance(91 * 86400)
    EnvelopeSweep(runtime).run({})
    with runtime.db.transaction() as session:
        assert list(session.execute(select(FaceTemplate)).scalars()) == []


@pytest.mark.parametrize("face_mode", ["off"])
def test_with_the_setting_off_nothing_is_enrolled(
    runtime: Runtime, server: BackgroundServer, driver: DemoDriver
) -> None:
    base = server.url
    create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:
        _, _, (page, _, done) = capture(browser, base, lambda a: challenge_video(a, seed=91))
        assert "face template" not in page.text
        assert done.json()["status"] == "passed", done.text
    create_envelope(driver, auth=VIDEO)
    with closing(signed_in(driver, base)) as browser:  # another face passes: no match
        _, _, (_, _, done) = capture(browser, base, live_other_face)
        assert done.json()["status"] == "passed", done.text
    assert all(not any(k.startswith("face_") for k in d) for d in details(runtime))
    with runtime.db.transaction() as session:
        assert list(session.execute(select(FaceTemplate)).scalars()) == []
