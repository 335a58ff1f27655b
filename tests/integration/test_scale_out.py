"""Scale-out (H2): 3 API processes and 2 worker processes on one PostgreSQL database, real
uvicorn on loopback ports sharing one data directory (keys, blobs, captured mail). At least
100 ceremonies run concurrently through the HTTP API only -- integrator calls, then the
signer following the link from the captured mail, email OTP, consent, signature -- spread
over the API processes, while one API process and one worker are killed with SIGKILL.

Checked: every ceremony completes and is sealed; the ledger is one consistent tree with no
gaps (the ledger check service); a local receiver gets every ``system:envelope:completed``
webhook (deduplicated by ``webhook-id``) with a valid signature. Printed: ceremonies/s and
p50/p99 ceremony latency (create to sealed).

The client side plays the reverse proxy: requests go round-robin to the API processes that
are in rotation. The API victim is first taken out of rotation, as a proxy's failed
``/readyz`` check would, and killed once the requests already sent to it have been answered
(a killed process's in-flight requests are lost to the client; that is the proxy's retry
policy, not the service's durability). The worker victim is killed without warning while it
holds jobs: their leases run out and the other worker runs them.

``make scale-test`` runs this alone; SEALWRIGHT_SCALE_CEREMONIES changes the count.
"""

from __future__ import annotations

import email
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from sealwright.config import Settings
from sealwright.services.demo import SIGNER_BOXES, demo_pdf
from sealwright.services.ledger_check import check_ledger
from sealwright.services.runtime import Runtime
from sealwright.web.server import free_port
from sealwright.webhooks.keys import parse_verification_key
from tests.integration.helpers import new_client
from tests.integration.webhook_receiver import running_receiver

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.slow]

CEREMONIES = int(os.environ.get("SEALWRIGHT_SCALE_CEREMONIES", "100"))
CONCURRENCY = int(os.environ.get("SEALWRIGHT_SCALE_CONCURRENCY", "100"))
APIS, WORKERS = 3, 2
LINK = re.compile(r"https?://\S+(/sign/[A-Za-z0-9_-]+)")
CODE = re.compile(r"verification code is (\d{6})")
SEALWRIGHT = Path(sys.executable).parent / "sealwright"  # this virtualenv's console script
TRANSPORT_ERRORS = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)

#: Scaled for a test on a small machine: rate limits up (every "browser" is 127.0.0.1),
#: short leases so a killed worker's jobs come back quickly, fast webhook retries.
SETTINGS = {
    "mail_mode": "capture",
    "inprocess_worker": "false",
    "signer_rate_limit": "1000000",
    "token_rate_limit": "1000000",
    "link_guess_free_attempts": "1000",
    "job_lease_seconds": "8",
    "worker_threads": "4",
    "worker_poll_seconds": "0.2",
    "worker_shutdown_timeout": "10",
    "webhook_allow_private_networks": "true",
    "webhook_retry_schedule": "[0, 0.5, 1, 2, 4]",
    "webhook_retry_jitter": "0.1",
    "webhook_connect_timeout": "2",
    "webhook_read_timeout": "5",
}


# -- the cluster -----------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    env: dict[str, str]
    data_dir: Path
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], url: str | None = None) -> Proc:
        log = self.data_dir.parent / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            [str(SEALWRIGHT), *args], env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )
        handle.close()
        return Proc(name, popen, log, url)

    def all(self) -> list[Proc]:
        return self.apis + self.workers


def wait_until(check: Any, timeout: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    said = f"; its output ends:\n{proc.output()[-3000:]}" if proc is not None else ""
    exited = f" (exit status {proc.popen.poll()})" if proc is not None else ""
    pytest.fail(f"timed out waiting for {what}{exited}{said}")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(autouse=True)
def _postgres_reachable() -> None:
    """Skip (not fail) where no PostgreSQL server answers at SEALWRIGHT_TEST_POSTGRES_URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_URL

    url = make_url(PG_URL).set(database="postgres")
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"no PostgreSQL at SEALWRIGHT_TEST_POSTGRES_URL: {type(exc).__name__}")
    finally:
        engine.dispose()


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[tuple[Cluster, Runtime]]:
    data_dir = tmp_path / "data"
    ports = [free_port() for _ in range(APIS)]
    env = {
        **os.environ,
        **{f"SEALWRIGHT_{k.upper()}": v for k, v in SETTINGS.items()},
        "SEALWRIGHT_DATA_DIR": str(data_dir),
        "SEALWRIGHT_DATABASE_URL": database_url,
        "SEALWRIGHT_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
    }
    # One runtime here first: it migrates the database and makes the keys every process
    # shares (several processes must not race to create them).
    rt = Runtime.build(
        Settings(
            data_dir=data_dir,
            database_url=database_url,
            mail_mode="capture",
            public_url=f"http://127.0.0.1:{ports[0]}",
        )
    )
    c = Cluster(env, data_dir)
    try:
        for n, port in enumerate(ports):
            url = f"http://127.0.0.1:{port}"
            c.apis.append(c.start(f"api{n}", ["serve", "--no-demo", "--port", str(port)], url))
        for n in range(WORKERS):
            c.workers.append(c.start(f"worker{n}", ["worker"]))
        for p in c.apis:
            wait_until(lambda p=p: ready(p.url), 120, f"{p.name} ready", p)
        for p in c.workers:
            wait_until(lambda p=p: "worker running" in p.output(), 120, f"{p.name} running", p)
        yield c, rt
    finally:
        for p in c.all():
            if p.popen.poll() is None:
                p.popen.kill()
                p.popen.wait(10)
        rt.close()


# -- the client side: a round-robin "proxy", captured mail, one ceremony ---------------------


class Rotation:
    """Round-robin over the API processes in rotation; counts requests in flight to each."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = list(urls)
        self.out: set[str] = set()
        self.in_flight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._next = 0

    def request(self, client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
        for attempt in range(3):
            with self._lock:
                live = [u for u in self.urls if u not in self.out]
                url = live[self._next % len(live)]
                self._next += 1
                self.in_flight[url] += 1
            try:
                return client.request(method, f"{url}{path}", **kw)
            except TRANSPORT_ERRORS:
                if attempt == 2:
                    raise
            finally:
                with self._lock:
                    self.in_flight[url] -= 1
        raise AssertionError("unreachable")

    def take_out(self, url: str, timeout: float = 30) -> None:
        with self._lock:
            self.out.add(url)
        wait_until(lambda: self.in_flight[url] == 0, timeout, "requests in flight to drain")


class Mailbox:
    """Reads the captured mail directory (shared by every process) as it fills."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[str] = set()
        self.mail: dict[str, list[str]] = defaultdict(list)
        self.used: dict[str, int] = defaultdict(int)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scan, daemon=True)
        self._thread.start()

    def _scan(self) -> None:
        while not self._stop.wait(0.1):
            if not self.directory.exists():
                continue
            fresh = []
            for entry in os.scandir(self.directory):
                if entry.name.endswith(".eml") and entry.name not in self.seen:
                    self.seen.add(entry.name)
                    msg = email.message_from_bytes(
                        Path(entry.path).read_bytes(), policy=policy.default
                    )
                    body = msg.get_body(("plain",))
                    text = body.get_content() if body is not None else ""
                    for to in msg.get_all("X-Sealwright-Envelope-To", []):
                        fresh.append((str(to), text))
            if fresh:
                with self._cond:
                    for to, text in fresh:
                        self.mail[to].append(text)
                    self._cond.notify_all()

    def wait(self, to: str, pattern: re.Pattern[str], timeout: float = 120) -> str:
        """The first match in ``to``'s mail not handed out before."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                texts = self.mail[to]
                for i, text in enumerate(texts):
                    match = pattern.search(text)
                    if match and not (self.used[to] >> i) & 1:
                        self.used[to] |= 1 << i
                        return match.group(1)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail for {to} matching {pattern.pattern}")
                self._cond.wait(min(left, 1))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Done:
    envelope: str
    seconds: float


def ceremony(n: int, rotation: Rotation, mailbox: Mailbox, token: str, run: str) -> Done:
    started = time.perf_counter()
    signer = f"signer-{n}-{run}@scale.example"
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=60) as api:

        def call(method: str, path: str, **kw: Any) -> dict[str, Any]:
            headers = {**auth, "Idempotency-Key": uuid.uuid4().hex, **kw.pop("headers", {})}
            r = rotation.request(api, method, path, headers=headers, **kw)
            assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text[:300]}"
            return dict(r.json())

        env = call(
            "POST",
            "/v1/envelopes",
            json={
                "title": f"Scale test {n}",
                "recipients": [{"name": f"Signer {n}", "email": signer}],
            },
        )
        doc = call(
            "POST",
            f"/v1/envelopes/{env['id']}/documents",
            params={"name": "contract.pdf"},
            content=demo_pdf(),
            headers={"Content-Type": "application/pdf"},
        )
        [recipient] = env["recipients"]
        boxes = SIGNER_BOXES[1]
        fields = [
            {
                "document_id": doc["id"],
                "recipient_id": recipient["id"],
                "kind": kind,
                "page": 1,
                "x": x,
                "y": y,
                "width": w,
                "height": h,
            }
            for kind, (x, y, w, h) in boxes.items()
        ]
        call("POST", f"/v1/envelopes/{env['id']}/fields", json={"fields": fields})
        call("POST", f"/v1/envelopes/{env['id']}/send")

    link_path = mailbox.wait(signer, LINK)
    with httpx.Client(timeout=60, follow_redirects=True) as browser:

        def step(method: str, path: str, **kw: Any) -> httpx.Response:
            r = rotation.request(browser, method, path, **kw)
            assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text[:300]}"
            return r

        step("GET", link_path)
        step("POST", link_path)
        step("POST", "/s/otp", data={"code": mailbox.wait(signer, CODE)})
        step("POST", "/s/consent", data={"agree": "yes"})
        step("GET", "/s/review")
        step("GET", f"/s/documents/{doc['id']}")
        signed = step(
            "POST", "/s/sign", data={"signature_kind": "typed", "signature_text": f"Signer {n}"}
        )
        assert "you have signed" in signed.text

    with httpx.Client(timeout=60) as api:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            r = rotation.request(api, "GET", f"/v1/envelopes/{env['id']}", headers=auth)
            assert r.status_code == 200, r.text
            if r.json()["seal"]["status"] == "sealed":
                assert r.json()["status"] == "completed"
                return Done(env["id"], time.perf_counter() - started)
            assert r.json()["seal"]["status"] != "failed", r.text
            time.sleep(0.5)
    raise AssertionError(f"envelope {env['id']} was not sealed in time")


# -- the test --------------------------------------------------------------------------------


@pytest.mark.timeout(900)
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_ceremonies_complete_across_processes_while_one_api_and_one_worker_die(
    cluster: tuple[Cluster, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    c, rt = cluster
    _, client_id, secret = new_client(rt, "scale")
    first = c.apis[0].url
    assert first is not None
    token = httpx.post(
        f"{first}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    with running_receiver() as receiver:
        sub = httpx.post(
            f"{first}/v1/webhooks",
            headers={"Authorization": f"Bearer {token}"},
            json={"url": receiver.url("/hooks"), "events": ["system:envelope:completed"]},
        )
        assert sub.status_code == 201, sub.text
        receiver.keys["/hooks"] = [parse_verification_key(sub.json()["secret"])]

        rotation = Rotation([p.url for p in c.apis if p.url])
        mailbox = Mailbox(rt.settings.mail_dir)
        finished: list[Done] = []
        lock = threading.Lock()
        run = uuid.uuid4().hex[:6]

        def one(n: int) -> Done:
            done = ceremony(n, rotation, mailbox, token, run)
            with lock:
                finished.append(done)
            return done

        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
                futures = [pool.submit(one, n) for n in range(CEREMONIES)]
                # midway: the first third is sealed, the rest are in every stage
                wait_until(
                    lambda: (
                        len(finished) >= CEREMONIES // 3
                        or any(f.done() and f.exception() for f in futures)
                    ),
                    600,
                    "a third sealed",
                )
                api_victim, worker_victim = c.apis[1], c.workers[0]
                worker_victim.popen.send_signal(signal.SIGKILL)  # holding leases, no warning
                assert api_victim.url is not None
                rotation.take_out(api_victim.url)
                api_victim.popen.send_signal(signal.SIGKILL)
                assert worker_victim.popen.wait(10) == -signal.SIGKILL
                assert api_victim.popen.wait(10) == -signal.SIGKILL
                results = [f.result() for f in futures]
        finally:
            mailbox.stop()
        elapsed = time.perf_counter() - started

        # every ceremony completed and sealed (checked in ceremony()), each once
        envelopes = {r.envelope for r in results}
        assert len(envelopes) == CEREMONIES

        # every completion webhook arrives, deduplicated by webhook-id, validly signed
        def delivered() -> dict[str, str]:
            by_id = {r.webhook_id: r for r in receiver.at("/hooks") if r.status == 200}
            return {i: json.loads(r.body)["data"]["envelope_id"] for i, r in by_id.items()}

        wait_until(lambda: set(delivered().values()) >= envelopes, 120, "every webhook")
        got = receiver.at("/hooks")
        assert all(r.verified == "v1" for r in got), "a webhook failed signature verification"
        per_envelope = defaultdict(set)
        for webhook_id, envelope in delivered().items():
            per_envelope[envelope].add(webhook_id)
        assert all(len(ids) == 1 for ids in per_envelope.values())  # one event, one id

    # the ledger: one consistent tree, no gaps, every signed checkpoint matching
    report = check_ledger(rt)
    assert report.ok, report.to_text()

    # graceful shutdown of the survivors: SIGTERM, in-flight work finished, exit 0
    survivors = [p for p in c.all() if p.popen.poll() is None]
    assert len(survivors) == APIS - 1 + WORKERS - 1
    for p in survivors:
        p.popen.send_signal(signal.SIGTERM)
    for p in c.workers:
        if p in survivors:
            assert p.popen.wait(30) == 0, p.output()[-2000:]
            assert "worker stopped" in p.output()
    for p in c.apis:
        if p in survivors:
            # uvicorn re-raises the signal once it has shut down: "terminated by SIGTERM"
            assert p.popen.wait(30) in (0, -signal.SIGTERM), p.output()[-2000:]
            assert "Application shutdown complete" in p.output()

    latencies = sorted(r.seconds for r in results)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    with capsys.disabled():  # the numbers belong in the CI log, not only on failure
        print(
            f"\nscale-out: {CEREMONIES} ceremonies over {APIS} API processes and {WORKERS} "
            f"workers (one of each killed) in {elapsed:.1f} s: "
            f"{CEREMONIES / elapsed:.2f} ceremonies/s, latency p50 {p50:.2f} s, "
            f"p99 {p99:.2f} s; ledger {report.size} events"
        )
