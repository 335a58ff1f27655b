"""FilesystemBlobStore: atomic puts, chunked gets, key validation, permissions."""

from __future__ import annotations

import gc
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.storage.blobs import READ_CHUNK_SIZE, BlobStore, FilesystemBlobStore


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def test_put_get_round_trip_in_chunks(store: FilesystemBlobStore) -> None:
    data = bytes(range(256)) * 1000  # several read chunks
    assert store.put("documents/ab/original.swe1", [data[:10], b"", data[10:]]) == len(data)
    chunks = list(store.get("documents/ab/original.swe1"))
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) <= READ_CHUNK_SIZE
    assert len(chunks) > 1


def test_empty_blob(store: FilesystemBlobStore) -> None:
    assert store.put("empty", []) == 0
    assert store.exists("empty")
    assert list(store.get("empty")) == []


def test_files_and_directories_are_private(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.put("a/b/c", [b"x"])
    root = tmp_path / "blobs"
    assert stat.S_IMODE((root / "a" / "b" / "c").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "a" / "b").stat().st_mode) == 0o700


def test_put_replaces_atomically(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.put("doc", [b"old contents"])
    reader = store.get("doc")  # opened before the replacement...
    store.put("doc", [b"new"])
    assert b"".join(reader) == b"old contents"  # ...reads the old blob whole
    assert b"".join(store.get("doc")) == b"new"


def test_a_failing_stream_stores_nothing(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.put("doc", [b"original"])

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("upstream failed")

    with pytest.raises(RuntimeError):
        store.put("doc", broken())
    with pytest.raises(RuntimeError):
        store.put("other", broken())
    assert b"".join(store.get("doc")) == b"original"
    assert not store.exists("other")
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == ["doc"]  # no temp files


def test_missing_blob(store: FilesystemBlobStore) -> None:
    with pytest.raises(NotFound):
        store.get("nope")  # at the call, not at first iteration
    assert not store.exists("nope")
    store.delete("nope")  # idempotent


def test_delete(store: FilesystemBlobStore) -> None:
    store.put("x/y", [b"1"])
    store.delete("x/y")
    assert not store.exists("x/y")
    with pytest.raises(NotFound):
        store.get("x/y")


def test_prefixes_and_blobs_do_not_mix(store: FilesystemBlobStore) -> None:
    store.put("a", [b"file"])
    with pytest.raises(Conflict):
        store.put("a/b", [b"nested"])
    store.put("d/e", [b"nested"])
    with pytest.raises(Conflict):
        store.put("d", [b"file"])
    with pytest.raises(NotFound):
        store.get("d")
    with pytest.raises(NotFound):
        store.get("a/b")
    assert not store.exists("d")
    store.delete("d")
    assert store.exists("d/e")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../outside",
        "a/..",
        "a..b",
        "a//b",
        "a/",
        ".hidden",
        "a/.tmp-123",
        "UPPER",
        "spa ce",
        "back\\slash",
        "nul\x00",
        "x" * 513,
        "-leading",
    ],
)
def test_rejects_bad_keys(store: FilesystemBlobStore, key: str) -> None:
    with pytest.raises(ValidationError):
        store.put(key, [b"x"])
    with pytest.raises(ValidationError):
        store.get(key)
    with pytest.raises(ValidationError):
        store.exists(key)
    with pytest.raises(ValidationError):
        store.delete(key)


@pytest.mark.parametrize("key", ["a", "0", "documents/0f3c/page-1.png", "a.b_c-d/e"])
def test_accepts_good_keys(store: FilesystemBlobStore, key: str) -> None:
    store.put(key, [b"ok"])
    assert b"".join(store.get(key)) == b"ok"


def test_an_abandoned_reader_closes_its_file(store: FilesystemBlobStore) -> None:
    # filterwarnings=error turns a leaked descriptor (ResourceWarning) into a failure.
    store.put("doc", [b"x" * (3 * READ_CHUNK_SIZE)])
    reader = store.get("doc")
    next(reader)
    del reader
    gc.collect()
    never_started = store.get("doc")
    del never_started
    gc.collect()


def test_satisfies_the_port(tmp_path: Path) -> None:
    port: BlobStore = FilesystemBlobStore(tmp_path)
    assert port.put("k", iter([b"v"])) == 1
