"""The witness over real HTTP (uvicorn on a loopback port, in a thread), with its state in
a real directory, driven by WitnessClient and by raw requests."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.clock import SystemClock
from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from sealwright.ledger.note import NoteVerifier, key_id, parse_note
from sealwright.web.server import BackgroundServer, free_port
from sealwright.witness import (
    BadWitnessResponse,
    CosignatureVerifier,
    OldSizeMismatch,
    Witness,
    WitnessClient,
    WitnessRefused,
    WitnessUnavailable,
    add_cosignatures,
    create_witness_app,
    open_cosigned_checkpoint,
)
from sealwright.witness.protocol import MAX_REQUEST_BYTES, origin_hash
from sealwright.witness.state import FileWitnessStore, configure_logs, load_or_create_signer
from tests.unit.witness.fakelog import FakeLog

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "vectors" / "c2sp-cosignature" / "cosignature-vectors.json"
    ).read_text(encoding="utf-8")
)


class WitnessProcess:
    """A witness as its operator runs it: state directory, key, server."""

    def __init__(self, state_dir: Path, log_vkeys: list[str]) -> None:
        self.state_dir = state_dir
        self.log_vkeys = log_vkeys
        self.server: BackgroundServer | None = None

    def start(self) -> WitnessProcess:
        self.signer, self.created = load_or_create_signer(
            self.state_dir, name="witness.test/w1", clock=SystemClock()
        )
        store = FileWitnessStore.open(self.state_dir)
        configure_logs(store, self.log_vkeys)
        self.server = BackgroundServer(create_witness_app(Witness(signer=self.signer, store=store)))
        self.server.start()
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.stop()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def client(self, **kwargs: Any) -> WitnessClient:
        return WitnessClient(
            self.url, CosignatureVerifier.from_vkey(self.signer.vkey), timeout=10, **kwargs
        )


@pytest.fixture
def log() -> FakeLog:
    return FakeLog("log.test/sealwright")


@pytest.fixture
def witness(tmp_path: Path, log: FakeLog) -> Iterator[WitnessProcess]:
    process = WitnessProcess(tmp_path / "witness", [log.vkey]).start()
    yield process
    process.stop()


@pytest.fixture
def client(witness: WitnessProcess) -> Iterator[WitnessClient]:
    with witness.client() as c:
        yield c


def submit(client: WitnessClient, log: FakeLog, old: int, new: int | None = None) -> str:
    return client.add_checkpoint(old, log.proof(old, new), log.checkpoint(new))


def test_first_checkpoint_then_consistent_growth(
    client: WitnessClient, witness: WitnessProcess, log: FakeLog
) -> None:
    log.append(5)
    line = submit(client, log, 0)
    note = add_cosignatures(log.checkpoint(), [line])
    cosigned = open_cosigned_checkpoint(
        note, [log.signer.verifier], origin=log.origin, witnesses=[client.verifier]
    )
    assert cosigned.checkpoint.size == 5
    for grow in (1, 2, 9, 100):
        old = log.size
        log.append(grow)
        submit(client, log, old)
    assert client.latest(log.origin) is not None
    latest = client.latest(log.origin)
    assert latest is not None
    assert Checkpoint.from_body(parse_note(latest).text).size == 5 + 1 + 2 + 9 + 100


def test_rollback_is_refused(client: WitnessClient, log: FakeLog) -> None:
    log.append(10)
    submit(client, log, 0)
    with pytest.raises(WitnessRefused) as info:
        client.add_checkpoint(10, [], log.checkpoint(6))
    assert info.value.status == 400
    assert "larger than the checkpoint size" in info.value.reason
    with pytest.raises(OldSizeMismatch) as mismatch:
        client.add_checkpoint(6, [], log.checkpoint(6))
    assert mismatch.value.witness_size == 10


def test_409_carries_the_size_to_resend_with(client: WitnessClient, log: FakeLog) -> None:
    log.append(7)
    submit(client, log, 0)
    log.append(5)
    with pytest.raises(OldSizeMismatch) as info:
        client.add_checkpoint(0, [], log.checkpoint())  # "what size are you at?"
    old = info.value.witness_size
    assert old == 7
    client.add_checkpoint(old, log.proof(old), log.checkpoint())


def test_fork_is_refused(client: WitnessClient, log: FakeLog) -> None:
    log.append(8)
    submit(client, log, 0)
    fork = log.fork(at=4).append(4)
    with pytest.raises(WitnessRefused) as info:
        client.add_checkpoint(8, [], fork.checkpoint())
    assert info.value.status == 422
    assert info.value.reason.startswith("fork:")


def test_bad_proof_is_refused(client: WitnessClient, log: FakeLog) -> None:
    log.append(6)
    submit(client, log, 0)
    log.append(10)
    proof = log.proof(6)
    tampered = [proof[0][:-1] + bytes([proof[0][-1] ^ 0x80]), *proof[1:]]
    with pytest.raises(WitnessRefused) as info:
        client.add_checkpoint(6, tampered, log.checkpoint())
    assert info.value.status == 422
    assert "consistency proof from size 6 to 16 does not verify" in info.value.reason
    client.add_checkpoint(6, proof, log.checkpoint())


def test_wrong_log_key_is_refused(client: WitnessClient, log: FakeLog) -> None:
    log.append(3)
    impostor = NoteSigner(log.origin, Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint(log.origin, 3, log.tree().root), [impostor])
    with pytest.raises(WitnessRefused) as info:
        client.add_checkpoint(0, [], note)
    assert info.value.status == 403
    assert "not validly signed by a trusted key" in info.value.reason
    assert client.latest(log.origin) is None


def test_unknown_origin_is_refused(client: WitnessClient) -> None:
    other = FakeLog("other.test/log").append(2)
    with pytest.raises(WitnessRefused) as info:
        client.add_checkpoint(0, [], other.checkpoint())
    assert info.value.status == 404
    assert "unknown log origin" in info.value.reason
    assert client.latest("other.test/log") is None


def test_state_survives_a_restart(witness: WitnessProcess, log: FakeLog) -> None:
    log.append(12)
    with witness.client() as client:
        submit(client, log, 0)
        before = client.latest(log.origin)
    vkey = witness.signer.vkey
    witness.stop()
    witness.start()
    assert not witness.created
    assert witness.signer.vkey == vkey
    with witness.client() as client:
        assert client.latest(log.origin) == before
        with pytest.raises(OldSizeMismatch) as info:
            client.add_checkpoint(0, [], log.checkpoint())
        assert info.value.witness_size == 12
        fork = log.fork(at=11).append(1)
        with pytest.raises(WitnessRefused):
            client.add_checkpoint(12, [], fork.checkpoint())
        log.append(3)
        submit(client, log, 12)
        assert witness.signer.vkey == vkey


def test_latest_over_both_read_endpoints_verifies(
    client: WitnessClient, witness: WitnessProcess, log: FakeLog
) -> None:
    log.append(9)
    line = submit(client, log, 0)
    note = client.latest(log.origin)
    assert note is not None
    assert note == log.checkpoint() + line  # the log's signature, then the cosignature
    cosigned = open_cosigned_checkpoint(
        note, [log.signer.verifier], origin=log.origin, witnesses=[client.verifier]
    )
    assert cosigned.cosigned_by(client.verifier) is not None
    standard = httpx.get(f"{witness.url}/{origin_hash(log.origin)}/checkpoint")
    extension = httpx.get(f"{witness.url}/checkpoint/{quote(log.origin, safe='')}")
    readable = httpx.get(f"{witness.url}/checkpoint/{log.origin}")
    for response in (standard, extension, readable):
        assert response.status_code == 200
        assert response.text == note
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
    for path in (
        f"/{origin_hash('nobody.test/log')}/checkpoint",
        f"/{origin_hash(log.origin).upper()}/checkpoint",
        "/checkpoint/nobody.test/log",
    ):
        assert httpx.get(witness.url + path).status_code == 404


def test_configured_but_never_cosigned_is_404(client: WitnessClient, log: FakeLog) -> None:
    assert client.latest(log.origin) is None


def test_wire_details(witness: WitnessProcess, log: FakeLog) -> None:
    log.append(4)
    body = f"old 0\n\n{log.checkpoint()}".encode()
    ok = httpx.post(f"{witness.url}/add-checkpoint", content=body)
    assert ok.status_code == 200
    assert ok.text.startswith("— witness.test/w1 ")
    assert ok.text.endswith("\n")
    assert ok.text.count("\n") == 1
    conflict = httpx.post(f"{witness.url}/add-checkpoint", content=body)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "text/x.tlog.size"  # exactly, no charset
    assert conflict.content == b"4\n"
    malformed = httpx.post(f"{witness.url}/add-checkpoint", content=b"old 00\n\nx\n")
    assert malformed.status_code == 400
    assert malformed.text.startswith("malformed request: old size")
    assert httpx.get(f"{witness.url}/add-checkpoint").status_code == 405
    huge = httpx.post(f"{witness.url}/add-checkpoint", content=b"x" * (MAX_REQUEST_BYTES + 1))
    assert huge.status_code == 413


def test_litewitness_conversation_over_http(tmp_path: Path) -> None:
    lite = VECTORS["litewitness_add_checkpoint"]
    key = bytes.fromhex(lite["log_public_key_hex"])
    vkey = NoteVerifier(lite["log_origin"], key_id(lite["log_origin"], key), key).vkey
    process = WitnessProcess(tmp_path / "lite", [vkey]).start()
    try:
        for number, step in enumerate(lite["steps"], start=1):
            response = httpx.post(f"{process.url}/add-checkpoint", content=step["body"].encode())
            assert response.status_code == step["status"], (number, response.text)
            if "equals" in step["assert"]:
                assert response.text == step["assert"]["equals"]
            if response.status_code == 200:
                assert response.text.startswith("— witness.test/w1 ")
    finally:
        process.stop()


def test_racing_submissions_never_roll_back(witness: WitnessProcess, log: FakeLog) -> None:
    log.append(10)
    with witness.client() as client:
        submit(client, log, 0)
    log.append(40)
    sizes = [11 + i for i in range(40)]
    results: dict[int, str] = {}

    def worker(size: int) -> None:
        with witness.client() as c:
            try:
                submit(c, log, 10, size)
                results[size] = "ok"
            except OldSizeMismatch as exc:
                results[size] = f"409 at {exc.witness_size}"

    threads = [threading.Thread(target=worker, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [size for size, result in results.items() if result == "ok"]
    assert len(accepted) == 1  # every request claimed old 10; only the first can be right
    with witness.client() as client, pytest.raises(OldSizeMismatch) as info:
        client.add_checkpoint(0, [], log.checkpoint())
    assert info.value.witness_size == accepted[0]


def test_state_directory_is_owner_only(witness: WitnessProcess, log: FakeLog) -> None:
    log.append(2)
    with witness.client() as client:
        submit(client, log, 0)
    state = witness.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "logs").stat().st_mode) == 0o700
    for path in [
        state / "witness.json",
        state / "witness-key.pem",
        *(state / "logs").glob("*.json"),
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    record = json.loads(next((state / "logs").glob("*.json")).read_text())
    assert record["origin"] == log.origin
    assert record["size"] == 2
    (state / "witness-key.pem").chmod(0o644)
    with pytest.raises(Exception, match="accessible to group/others"):
        load_or_create_signer(state, clock=SystemClock())


def test_a_witness_name_is_fixed_with_its_key(witness: WitnessProcess) -> None:
    with pytest.raises(Exception, match=r"is named 'witness\.test/w1'"):
        load_or_create_signer(witness.state_dir, name="witness.test/w2", clock=SystemClock())


def test_client_refuses_a_cosignature_by_another_key(witness: WitnessProcess, log: FakeLog) -> None:
    log.append(3)
    stranger = CosignatureVerifier.from_vkey(
        load_or_create_signer(witness.state_dir.parent / "other", clock=SystemClock())[0].vkey
    )
    with (
        WitnessClient(witness.url, stranger, timeout=5) as client,
        pytest.raises(BadWitnessResponse, match="no cosignature by"),
    ):
        submit(client, log, 0)


def test_client_reports_an_unreachable_witness(log: FakeLog) -> None:
    log.append(1)
    key = CosignatureVerifier.from_public_key("w.test", Ed25519PrivateKey.generate().public_key())
    with (
        WitnessClient(f"http://127.0.0.1:{free_port()}", key, timeout=2) as client,
        pytest.raises(WitnessUnavailable),
    ):
        client.add_checkpoint(0, [], log.checkpoint())
