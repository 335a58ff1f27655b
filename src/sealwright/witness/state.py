"""The witness's own state: its key, and per log what it trusts and what it last cosigned.

Layout of the state directory (``0o700``; every file ``0o600``, through
:mod:`sealwright.keys.files`)::

    witness.json            {"format": "sealwright-witness/1", "name": "<cosigner name>"}
    witness-key.pem         PKCS#8 PEM Ed25519 private key of the witness
    logs/<sha256(origin) hex>.json
                            {"format": "sealwright-witness-log/1", "origin": ..., "vkeys": [...],
                             "size": N, "root": "<base64>", "timestamp": T, "note": "..." | null}

Why JSON files and not SQLite: the state is one small record per log, always rewritten
whole, and each write must be durable before the witness answers (tlog-witness: "MUST
persist the new checkpoint before responding"). ``files.replace_private_file`` already does
exactly that -- write a temporary file, fsync, rename, fsync the directory -- so a crash
leaves the old record or the new one. The check-then-write must also be atomic (else two
racing requests can roll the witness back); one lock, a thread lock plus an ``flock`` on the
directory for other processes, covers it. An operator can read and audit the records with
``cat``; SQLite would add a second durability mechanism (journal modes, ``-wal`` files and
their permissions) for no gain at this size.

A file is named by the hash of its origin because origins are free text (slashes, spaces).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.clock import Clock
from sealwright.errors import ConfigurationError, ValidationError
from sealwright.keys import files
from sealwright.ledger.merkle import EMPTY_ROOT, HASH_SIZE
from sealwright.ledger.note import NoteVerifier, is_valid_key_name, strict_b64decode
from sealwright.witness.cosignature import CosignatureSigner

__all__ = [
    "FileWitnessStore",
    "LogRecord",
    "MemoryWitnessStore",
    "WitnessStore",
    "configure_logs",
    "load_or_create_signer",
    "load_signer",
]

_log = structlog.get_logger(__name__)

_WITNESS_FORMAT = "sealwright-witness/1"
_LOG_FORMAT = "sealwright-witness-log/1"
_IDENTITY = "witness.json"
_KEY = "witness-key.pem"
_LOGS = "logs"
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LogRecord:
    """What the witness knows of one log.

    ``size``/``root`` are those of the latest cosigned checkpoint (0 and the empty root
    before the first); ``note`` is that checkpoint with the log signatures the witness
    verified and its own cosignature; ``timestamp`` is that cosignature's time.
    """

    origin: str
    vkeys: tuple[str, ...]
    size: int = 0
    root: bytes = EMPTY_ROOT
    timestamp: int = 0
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValidationError("a log origin is one non-empty line")
        if not self.vkeys:
            raise ValidationError(f"no verifier key for log {self.origin!r}")
        for vkey in self.vkeys:
            NoteVerifier.from_vkey(vkey)  # a bad key fails here, not at the first request
        if len(set(self.vkeys)) != len(self.vkeys):
            raise ValidationError(f"duplicate verifier key for log {self.origin!r}")
        if self.size < 0 or self.timestamp < 0 or len(self.root) != HASH_SIZE:
            raise ValidationError(f"damaged record for log {self.origin!r}")
        if (self.note is None) != (self.timestamp == 0):
            raise ValidationError(f"record for log {self.origin!r}: note without timestamp")

    @property
    def verifiers(self) -> tuple[NoteVerifier, ...]:
        return tuple(NoteVerifier.from_vkey(v) for v in self.vkeys)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _LOG_FORMAT,
            "origin": self.origin,
            "vkeys": list(self.vkeys),
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "timestamp": self.timestamp,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: object) -> LogRecord:
        """Raises :class:`ValueError` for anything but a record this module wrote."""
        if not isinstance(data, dict) or data.get("format") != _LOG_FORMAT:
            raise ValueError("not a witness log record")
        origin, vkeys, size = data.get("origin"), data.get("vkeys"), data.get("size")
        root, timestamp, note = data.get("root"), data.get("timestamp"), data.get("note")
        if (
            not isinstance(origin, str)
            or not isinstance(vkeys, list)
            or not all(isinstance(v, str) for v in vkeys)
            or type(size) is not int
            or type(timestamp) is not int
            or not isinstance(root, str)
            or not (note is None or isinstance(note, str))
        ):
            raise ValueError("malformed witness log record")
        try:
            raw_root = strict_b64decode(root)
            return cls(origin, tuple(vkeys), size, raw_root, timestamp, note)
        except (ValueError, ValidationError) as exc:
            raise ValueError(str(exc)) from exc


class WitnessStore(Protocol):
    """Where a witness keeps its per-log records (port)."""

    def get(self, origin: str) -> LogRecord | None: ...

    def origins(self) -> tuple[str, ...]: ...

    def get_by_origin_hash(self, digest: str) -> LogRecord | None:
        """The record whose origin has this lowercase hex SHA-256 (monitoring paths)."""
        ...

    def configure(self, origin: str, vkeys: Sequence[str]) -> LogRecord:
        """Trust exactly ``vkeys`` for ``origin`` (creating its record if new); keeps the
        latest cosigned state."""
        ...

    def update(self, origin: str, decide: Callable[[LogRecord | None], LogRecord]) -> LogRecord:
        """Atomically: read the record, let ``decide`` return the next one (or raise to
        change nothing), and persist it durably before returning it."""
        ...


def configure_logs(store: WitnessStore, vkeys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Trust the log keys ``vkeys``, grouped by key name: the key name *is* the origin, as
    Sealwright's log signs with a key named after its origin (docs/ledger.md section 5).

    For each origin named, the trusted set becomes exactly the keys given -- dropping a
    compromised key is leaving it out; origins not named keep their keys.
    """
    by_origin: dict[str, list[str]] = {}
    for vkey in vkeys:
        verifier = NoteVerifier.from_vkey(vkey)  # ValidationError names the problem
        by_origin.setdefault(verifier.name, [])
        if verifier.vkey not in by_origin[verifier.name]:
            by_origin[verifier.name].append(verifier.vkey)
    for origin, keys in by_origin.items():
        store.configure(origin, keys)
    return {origin: tuple(keys) for origin, keys in by_origin.items()}


class MemoryWitnessStore:
    """In memory, for tests and demos: it forgets everything, which a witness must never do
    in production (it could then be rolled back)."""

    def __init__(self) -> None:
        self._records: dict[str, LogRecord] = {}
        self._lock = threading.Lock()

    def get(self, origin: str) -> LogRecord | None:
        with self._lock:
            return self._records.get(origin)

    def origins(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._records))

    def get_by_origin_hash(self, digest: str) -> LogRecord | None:
        with self._lock:
            for origin, record in self._records.items():
                if _origin_hash(origin) == digest:
                    return record
        return None

    def configure(self, origin: str, vkeys: Sequence[str]) -> LogRecord:
        return self.update(origin, lambda r: _configured(r, origin, vkeys))

    def update(self, origin: str, decide: Callable[[LogRecord | None], LogRecord]) -> LogRecord:
        with self._lock:
            record = decide(self._records.get(origin))
            _check_same_origin(record, origin)
            self._records[origin] = record
            return record


class FileWitnessStore:
    """One JSON file per log under ``<state dir>/logs``; build it with :meth:`open`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()

    @classmethod
    def open(cls, state_dir: Path) -> FileWitnessStore:
        files.ensure_private_directory(state_dir, label="witness state directory")
        logs = state_dir / _LOGS
        files.ensure_private_directory(logs, label="witness state directory")
        return cls(logs)

    def _path(self, origin: str) -> Path:
        return self._directory / f"{_origin_hash(origin)}.json"

    def _read(self, path: Path) -> LogRecord | None:
        if not path.exists():
            return None
        raw = files.read_private_file(path, label="witness log record")
        try:
            return LogRecord.from_json(json.loads(raw))
        except ValueError as exc:
            raise ConfigurationError(f"witness log record {path} is damaged: {exc}") from exc

    def get(self, origin: str) -> LogRecord | None:
        record = self._read(self._path(origin))
        if record is not None:
            _check_same_origin(record, origin)
        return record

    def get_by_origin_hash(self, digest: str) -> LogRecord | None:
        if not _ORIGIN_HASH.fullmatch(digest):  # it becomes a file name
            return None
        record = self._read(self._directory / f"{digest}.json")
        if record is not None and _origin_hash(record.origin) != digest:
            raise ConfigurationError(f"witness log record {digest}.json holds another origin")
        return record

    def origins(self) -> tuple[str, ...]:
        found = []
        for path in sorted(self._directory.glob("*.json")):
            record = self._read(path)
            if record is not None:
                found.append(record.origin)
        return tuple(sorted(found))

    def configure(self, origin: str, vkeys: Sequence[str]) -> LogRecord:
        return self.update(origin, lambda r: _configured(r, origin, vkeys))

    def update(self, origin: str, decide: Callable[[LogRecord | None], LogRecord]) -> LogRecord:
        path = self._path(origin)
        # The thread lock orders this process's requests; the flock orders processes
        # sharing the directory. Both are held from the read to the durable write.
        with self._lock, files.directory_lock(self._directory):
            current = self._read(path)
            record = decide(current)
            _check_same_origin(record, origin)
            if record != current:
                data = json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n"
                files.replace_private_file(path, data.encode("utf-8"))
            return record


def _configured(record: LogRecord | None, origin: str, vkeys: Sequence[str]) -> LogRecord:
    keys = tuple(vkeys)
    if record is None:
        _log.info("witness log added", origin=origin, vkeys=keys)
        return LogRecord(origin, keys)
    if record.vkeys != keys:
        _log.warning("witness log keys changed", origin=origin, old=record.vkeys, new=keys)
    return replace(record, vkeys=keys)


def _origin_hash(origin: str) -> str:
    # Also the monitoring path of tlog-witness, so a record's file name is its URL.
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def _check_same_origin(record: LogRecord, origin: str) -> None:
    if record.origin != origin:
        raise ConfigurationError(f"record for {record.origin!r} stored under {origin!r}")


def load_or_create_signer(
    state_dir: Path, *, name: str | None = None, clock: Clock
) -> tuple[CosignatureSigner, bool]:
    """The witness's signer, and whether this call created its key.

    On first run an Ed25519 key is generated into ``state_dir``; ``name`` defaults to
    ``sealwright.invalid/witness-<8 hex of the key>`` (a ``.invalid`` name, RFC 2606: it
    identifies, it does not resolve). The name is fixed with the key -- the key id commits
    to it -- so a different ``name`` later is refused.
    """
    if name is not None and not is_valid_key_name(name):
        raise ConfigurationError(f"invalid witness name {name!r} (no spaces, no '+')")
    files.ensure_private_directory(state_dir, label="witness state directory")
    created = False
    with files.directory_lock(state_dir):
        if not (state_dir / _IDENTITY).exists():
            key_path = state_dir / _KEY
            if key_path.exists():
                # A crash after the key but before the identity file: the key never signed.
                private_key = _load_key(key_path)
            else:
                private_key = Ed25519PrivateKey.generate()
                pem = private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                files.create_private_file(key_path, pem)
            if name is None:
                digest = hashlib.sha256(private_key.public_key().public_bytes_raw()).hexdigest()
                name = f"sealwright.invalid/witness-{digest[:8]}"
            identity = {"format": _WITNESS_FORMAT, "name": name}
            files.create_private_file(
                state_dir / _IDENTITY, (json.dumps(identity, sort_keys=True) + "\n").encode()
            )
            created = True
    signer = load_signer(state_dir, clock=clock)
    if name is not None and signer.name != name:
        raise ConfigurationError(
            f"the witness in {state_dir} is named {signer.name!r}, not {name!r}; "
            "a witness's name is fixed with its key"
        )
    if created:
        _log.info("witness key created", vkey=signer.vkey)
    return signer, created


def load_signer(state_dir: Path, *, clock: Clock) -> CosignatureSigner:
    """The existing witness signer in ``state_dir``; never creates one."""
    identity_path = state_dir / _IDENTITY
    if not identity_path.exists():
        raise ConfigurationError(
            f"no witness key in {state_dir}; `sealwright witness serve` creates one"
        )
    try:
        identity = json.loads(files.read_private_file(identity_path, label="witness identity"))
    except ValueError as exc:
        raise ConfigurationError(f"witness identity {identity_path} is damaged") from exc
    if (
        not isinstance(identity, dict)
        or identity.get("format") != _WITNESS_FORMAT
        or not isinstance(identity.get("name"), str)
        or not is_valid_key_name(identity["name"])
    ):
        raise ConfigurationError(f"witness identity {identity_path} is damaged")
    return CosignatureSigner(identity["name"], _load_key(state_dir / _KEY), clock=clock)


def _load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(
            files.read_private_file(path, label="witness key"), password=None
        )
    except ValueError as exc:
        raise ConfigurationError(f"witness key {path} is damaged") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"witness key {path} is not an Ed25519 key")
    return key
