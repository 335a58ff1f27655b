"""LocalKeyring: first run, permissions, rotation, wrapping, and what it logs."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sealwright.errors import ConfigurationError, DecryptionFailed
from sealwright.keys.keyring import Keyring, WrappedKey
from sealwright.keys.local_keyring import LocalKeyring


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_creates_private_directory_key_and_index(tmp_path: Path) -> None:
    directory = tmp_path / "keys" / "kek"
    ring = LocalKeyring.open(directory)
    kek_id = ring.current_kek_id()
    assert _mode(directory) == 0o700
    key_file = directory / f"{kek_id}.key"
    assert _mode(key_file) == 0o600
    assert len(key_file.read_bytes()) == 32
    index = json.loads((directory / "index.json").read_text())
    assert index == {"format": "sealwright-local-keyring/1", "current": kek_id, "keks": [kek_id]}
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]


def test_reopening_uses_the_same_kek(tmp_path: Path) -> None:
    first = LocalKeyring.open(tmp_path / "kek")
    wrapped = first.wrap(b"k" * 32, aad=b"doc-1")
    second = LocalKeyring.open(tmp_path / "kek")
    assert second.current_kek_id() == first.current_kek_id()
    assert second.unwrap(wrapped, aad=b"doc-1") == b"k" * 32


def test_satisfies_the_keyring_protocol(tmp_path: Path) -> None:
    ring: Keyring = LocalKeyring.open(tmp_path / "kek")
    assert ring.current_kek_id().startswith("local-")


def test_wrap_binds_aad_and_kek(tmp_path: Path) -> None:
    ring = LocalKeyring.open(tmp_path / "kek")
    dek = os.urandom(32)
    wrapped = ring.wrap(dek, aad=b"doc-1")
    assert wrapped.kek_id == ring.current_kek_id()
    assert len(wrapped.ciphertext) == 12 + 32 + 16
    assert dek not in wrapped.ciphertext
    assert ring.wrap(dek, aad=b"doc-1") != wrapped  # fresh nonce each time
    with pytest.raises(DecryptionFailed):
        ring.unwrap(wrapped, aad=b"doc-2")
    for position in range(len(wrapped.ciphertext)):
        damaged = bytearray(wrapped.ciphertext)
        damaged[position] ^= 0x80
        with pytest.raises(DecryptionFailed):
            ring.unwrap(WrappedKey(wrapped.kek_id, bytes(damaged)), aad=b"doc-1")
    for bogus in (b"", b"short"):
        with pytest.raises(DecryptionFailed):
            ring.unwrap(WrappedKey(wrapped.kek_id, bogus), aad=b"doc-1")
    for kek_id in ("local-0000000000000000", "../../etc/passwd", ""):
        with pytest.raises(DecryptionFailed):
            ring.unwrap(WrappedKey(kek_id, wrapped.ciphertext), aad=b"doc-1")


def test_rotation_adds_a_current_kek_and_keeps_old_ones(tmp_path: Path) -> None:
    ring = LocalKeyring.open(tmp_path / "kek")
    old_id = ring.current_kek_id()
    old_wrapped = ring.wrap(b"a" * 32, aad=b"x")
    new_id = ring.rotate()
    assert new_id != old_id
    assert ring.current_kek_id() == new_id
    assert ring.wrap(b"b" * 32, aad=b"x").kek_id == new_id
    assert ring.unwrap(old_wrapped, aad=b"x") == b"a" * 32
    assert _mode(tmp_path / "kek" / f"{new_id}.key") == 0o600
    index = json.loads((tmp_path / "kek" / "index.json").read_text())
    assert index["current"] == new_id
    assert index["keks"] == [old_id, new_id]


def test_a_kek_rotated_in_by_another_process_is_found(tmp_path: Path) -> None:
    reader = LocalKeyring.open(tmp_path / "kek")
    writer = LocalKeyring.open(tmp_path / "kek")
    writer.rotate()
    wrapped = writer.wrap(b"c" * 32, aad=b"x")
    assert reader.unwrap(wrapped, aad=b"x") == b"c" * 32
    assert reader.current_kek_id() == writer.current_kek_id()
    # ...and rotating from the stale instance keeps the other's KEK in the index.
    third = reader.rotate()
    index = json.loads((tmp_path / "kek" / "index.json").read_text())
    assert len(index["keks"]) == 3
    assert index["current"] == third


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_refuses_a_key_file_readable_by_others(tmp_path: Path, mode: int) -> None:
    ring = LocalKeyring.open(tmp_path / "kek")
    key_file = tmp_path / "kek" / f"{ring.current_kek_id()}.key"
    key_file.chmod(mode)
    with pytest.raises(ConfigurationError, match=r"accessible to group/others.*chmod 600"):
        LocalKeyring.open(tmp_path / "kek")


def test_refuses_a_directory_open_to_others(tmp_path: Path) -> None:
    LocalKeyring.open(tmp_path / "kek")
    (tmp_path / "kek").chmod(0o755)
    with pytest.raises(ConfigurationError, match="chmod 700"):
        LocalKeyring.open(tmp_path / "kek")


def test_refuses_a_symlinked_key_file(tmp_path: Path) -> None:
    ring = LocalKeyring.open(tmp_path / "kek")
    key_file = tmp_path / "kek" / f"{ring.current_kek_id()}.key"
    elsewhere = tmp_path / "elsewhere.key"
    key_file.rename(elsewhere)
    key_file.symlink_to(elsewhere)
    with pytest.raises(ConfigurationError):
        LocalKeyring.open(tmp_path / "kek")


@pytest.mark.parametrize(
    "index",
    [
        "not json",
        "[]",
        '{"format": "sealwright-local-keyring/1", "current": "local-0", "keks": ["local-0"]}',
        '{"format": "sealwright-local-keyring/1", "current": "../x", "keks": ["../x"]}',
        '{"format": "other", "current": "local-0123456789abcdef", '
        '"keks": ["local-0123456789abcdef"]}',
    ],
)
def test_refuses_a_damaged_index(tmp_path: Path, index: str) -> None:
    LocalKeyring.open(tmp_path / "kek")
    (tmp_path / "kek" / "index.json").write_text(index)
    with pytest.raises(ConfigurationError):
        LocalKeyring.open(tmp_path / "kek")


def test_refuses_a_key_file_of_the_wrong_length(tmp_path: Path) -> None:
    ring = LocalKeyring.open(tmp_path / "kek")
    (tmp_path / "kek" / f"{ring.current_kek_id()}.key").write_bytes(b"short")
    with pytest.raises(ConfigurationError, match="damaged"):
        LocalKeyring.open(tmp_path / "kek")


def test_warns_that_it_is_for_development_and_never_logs_keys(tmp_path: Path) -> None:
    with capture_logs() as logs:
        ring = LocalKeyring.open(tmp_path / "kek")
        ring.wrap(b"d" * 32, aad=b"x")
        ring.rotate()
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "development" in warnings[0]["event"]
    key_bytes = [p.read_bytes() for p in (tmp_path / "kek").glob("*.key")]
    rendered = repr(logs)
    for key in key_bytes:
        assert key.hex() not in rendered
        assert repr(key) not in rendered


def test_injected_random_is_used(tmp_path: Path) -> None:
    class Counting:
        def __init__(self) -> None:
            self.calls: list[int] = []

        def token_bytes(self, n: int) -> bytes:
            self.calls.append(n)
            return os.urandom(n)

        def randbelow(self, n: int) -> int:
            raise NotImplementedError

    rng = Counting()
    ring = LocalKeyring.open(tmp_path / "kek", random=rng)
    ring.wrap(b"e" * 32, aad=b"")
    assert rng.calls == [8, 32, 12]  # kek id, kek, wrap nonce


def test_concurrent_first_runs_agree_on_one_kek(tmp_path: Path) -> None:
    directory = tmp_path / "kek"
    with ThreadPoolExecutor(max_workers=8) as pool:
        rings = list(pool.map(lambda _: LocalKeyring.open(directory), range(16)))
    assert len({ring.current_kek_id() for ring in rings}) == 1
    assert len(list(directory.glob("*.key"))) == 1
