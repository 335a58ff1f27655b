"""The review queue in the console (C5): a signer asks for the manual review the sender
requires; a reviewer of the same tenant sees it with its evidence and approves it with a
reason (a signed assertion and an event); an auditor (no reviewer role) may do neither;
another tenant's reviewer gets "not found"."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.identity.roles import Role
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.console_world import Browser, add, browsers, start_idp
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign
from tests.support.oidc import RunningProvider, oidc_provider_factory

__all__ = ["browsers", "oidc_provider_factory"]


@pytest.fixture
def idp(runtime: Runtime, oidc_provider_factory: Callable[..., RunningProvider]) -> RunningProvider:
    return start_idp(runtime, oidc_provider_factory)


def test_reviewer_approves_a_required_manual_review(
    runtime: Runtime,
    server: BackgroundServer,
    idp: RunningProvider,
    browsers: Callable[[], Browser],
) -> None:
    _, cid, secret = new_client(runtime, "acme")
    new_client(runtime, "globex")
    rita = add(runtime, "acme", "rita", Role.REVIEWER, issuer=idp.issuer)
    add(runtime, "acme", "audrey", Role.AUDITOR, issuer=idp.issuer)
    add(runtime, "globex", "sam", Role.REVIEWER, issuer=idp.issuer)
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    env = create_envelope(driver, auth={"verification_channels": ["manual-review"]})
    base = server.url
    signer, _ = open_link(driver)
    with closing(signer):
        signer.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
        signer.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
        asked = signer.post(f"{base}/s/channels/manual-review/start")
        assert "A reviewer is checking" in asked.text
        run = asked.url.path.rsplit("/", 1)[1]

        outsider = browsers()
        outsider.sign_in("sam")
        assert run not in outsider.get("/console/review").text
        assert outsider.get(f"/console/review/{run}").status_code == 404

        auditor = browsers()
        auditor.sign_in("audrey")
        assert auditor.get(f"/console/review/{run}").status_code == 403  # not a reviewer
        auditor.get("/console")
        refused = auditor.post(
            f"/console/review/{run}", data={"decision": "approve", "reason": "x"}
        )
        assert refused.status_code == 403

        reviewer = browsers()
        reviewer.sign_in("rita")
        queue = reviewer.get("/console/review")
        assert f'id="open-{run}"' in queue.text
        item = reviewer.get(f"/console/review/{run}")
        assert "the sender requires a manual review" in item.text
        assert "Step-up agreement" in item.text
        no_reason = reviewer.post(
            f"/console/review/{run}", data={"decision": "approve", "reason": ""}
        )
        assert no_reason.status_code == 400
        reviewer.get(f"/console/review/{run}")
        done = reviewer.post(
            f"/console/review/{run}",
            data={"decision": "approve", "reason": "identity documents checked by phone"},
        )
        assert done.status_code == 303
        assert "review-empty" in reviewer.get("/console/review").text

        status = signer.get(f"{base}/s/channels/v/{run}/status").json()
        assert status["status"] == "passed"
        assert "you have signed" in sign(signer, base).text
    driver.wait_sealed(env["id"])
    [decided] = events(runtime, "operator:review:decided")
    assert decided["actor"] == f"operator:{rita}"
    assert decided["data"]["decision"] == "approve"
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"], issued["actor"]) == (
        "manual-review",
        "passed",
        f"operator:{rita}",
    )
    assert issued["data"]["assertion"] == decided["data"]["assertion"]
    driver.close()
