"""`sealwright witness serve` and `sealwright witness vkey`, run as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sealwright.web.server import free_port
from sealwright.witness import CosignatureVerifier, WitnessClient
from tests.unit.witness.fakelog import FakeLog

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
ENV = {**os.environ, "SEALWRIGHT_DATABASE_URL": ""}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALWRIGHT, "witness", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, str, str]]:
    """Run `witness serve`; yields (url, vkey, the lines printed before it listened)."""
    port = free_port()
    proc = subprocess.Popen(
        [SEALWRIGHT, "witness", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("listening on"):
                break
        text = "".join(lines)
        vkey = next(
            (ln.split(": ", 1)[1].strip() for ln in lines if ln.startswith("witness vkey: ")), ""
        )
        assert vkey, text
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/checkpoint/-")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, vkey, text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0


def test_serve_vkey_and_restart(tmp_path: Path) -> None:
    state = tmp_path / "witness-state"
    log = FakeLog("log.test/cli").append(6)
    with serving("--state-dir", str(state), "--log-vkey", log.vkey, "--name", "w.test/cli") as (
        url,
        vkey,
        text,
    ):
        assert "created a witness key" in text
        assert "witnessing log.test/cli (cosigned size 0)" in text
        assert vkey.startswith("w.test/cli+")
        with WitnessClient(url, CosignatureVerifier.from_vkey(vkey), timeout=10) as client:
            client.add_checkpoint(0, [], log.checkpoint())
    printed = run("vkey", "--state-dir", str(state))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == vkey
    # Restarted without --log-vkey: the logs it witnesses are in its state.
    with serving("--state-dir", str(state)) as (url, again, text):
        assert again == vkey
        assert "created" not in text
        assert "witnessing log.test/cli (cosigned size 6)" in text
        log.append(4)
        with WitnessClient(url, CosignatureVerifier.from_vkey(vkey), timeout=10) as client:
            client.add_checkpoint(6, log.proof(6), log.checkpoint())
            assert client.latest(log.origin) is not None


def test_cli_refusals(tmp_path: Path) -> None:
    missing = run("vkey", "--state-dir", str(tmp_path / "none"))
    assert missing.returncode != 0
    assert "no witness key" in missing.stderr
    no_log = run("serve", "--state-dir", str(tmp_path / "w"), "--port", "0")
    assert no_log.returncode == 2
    assert "no log to witness" in no_log.stderr
    bad_key = run("serve", "--state-dir", str(tmp_path / "w"), "--log-vkey", "nonsense")
    assert bad_key.returncode == 1
    assert "verifier key" in bad_key.stderr
    renamed = run("serve", "--state-dir", str(tmp_path / "w"), "--name", "other.test/w")
    assert renamed.returncode == 1
    assert "a witness's name is fixed with its key" in renamed.stderr
