from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from sealwright.clock import FixedClock
from sealwright.errors import ConfigurationError
from sealwright.sealing.pki import LEAF_VALIDITY, LocalPki

FILES = {
    "root-ca.key.pem": 0o600,
    "root-ca.cert.pem": 0o644,
    "document-seal.key.pem": 0o600,
    "document-seal.cert.pem": 0o644,
    "tsa.key.pem": 0o600,
    "tsa.cert.pem": 0o644,
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_creates_private_files(tmp_path: Path, clock: FixedClock) -> None:
    directory = tmp_path / "keys" / "pki"
    LocalPki.load_or_create(directory, clock=clock)
    assert mode(directory) == 0o700
    created = {p.name: mode(p) for p in directory.iterdir() if not p.name.startswith(".")}
    assert created == FILES
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]


def test_later_runs_load_the_same_pki(tmp_path: Path, clock: FixedClock) -> None:
    first = LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    clock.advance(3600)
    second = LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    assert second.ca_pem == first.ca_pem
    assert second.signer.certificate == first.signer.certificate
    assert second.tsa.certificate == first.tsa.certificate
    assert second.signer.private_key.private_numbers() == first.signer.private_key.private_numbers()


def test_leaves_near_expiry_are_reissued_under_the_same_root(
    tmp_path: Path, clock: FixedClock
) -> None:
    first = LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    clock.advance((LEAF_VALIDITY - timedelta(days=10)).total_seconds())
    renewed = LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    assert renewed.ca_pem == first.ca_pem
    assert renewed.signer.certificate != first.signer.certificate
    assert renewed.signer.certificate.not_valid_after_utc > clock.now() + timedelta(days=365)
    renewed.signer.certificate.verify_directly_issued_by(first.root.certificate)
    # ... and the renewal is on disk, not only in memory.
    again = LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    assert again.signer.certificate == renewed.signer.certificate
    assert again.tsa.certificate == renewed.tsa.certificate
    assert mode(tmp_path / "pki" / "document-seal.key.pem") == 0o600


def test_a_key_readable_by_others_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    os.chmod(tmp_path / "pki" / "document-seal.key.pem", 0o644)
    with pytest.raises(ConfigurationError, match="group/others"):
        LocalPki.load_or_create(tmp_path / "pki", clock=clock)


def test_a_directory_others_can_enter_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    (tmp_path / "pki").mkdir(mode=0o755)
    os.chmod(tmp_path / "pki", 0o755)  # mkdir's mode is filtered by the umask
    with pytest.raises(ConfigurationError, match="chmod 700"):
        LocalPki.load_or_create(tmp_path / "pki", clock=clock)


def test_an_incomplete_pki_is_not_silently_replaced(tmp_path: Path, clock: FixedClock) -> None:
    LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    (tmp_path / "pki" / "root-ca.cert.pem").unlink()
    with pytest.raises(ConfigurationError, match="incomplete local PKI"):
        LocalPki.load_or_create(tmp_path / "pki", clock=clock)


def test_a_key_that_does_not_match_its_certificate_is_refused(
    tmp_path: Path, clock: FixedClock
) -> None:
    LocalPki.load_or_create(tmp_path / "pki", clock=clock)
    directory = tmp_path / "pki"
    tsa_key = (directory / "tsa.key.pem").read_bytes()
    seal_key = directory / "document-seal.key.pem"
    seal_key.unlink()
    seal_key.write_bytes(tsa_key)
    seal_key.chmod(0o600)
    with pytest.raises(ConfigurationError, match="does not match"):
        LocalPki.load_or_create(directory, clock=clock)


def test_a_leaf_from_another_root_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    LocalPki.load_or_create(tmp_path / "a", clock=clock)
    LocalPki.load_or_create(tmp_path / "b", clock=clock)
    for name in ("tsa.key.pem", "tsa.cert.pem"):
        target = tmp_path / "a" / name
        target.unlink()
        target.write_bytes((tmp_path / "b" / name).read_bytes())
        target.chmod(0o600)
    with pytest.raises(ConfigurationError, match="not issued by"):
        LocalPki.load_or_create(tmp_path / "a", clock=clock)
