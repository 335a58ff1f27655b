"""The deterministic ZIP container: exact layout, interoperability, strict reading."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealwright.errors import VerificationFailed
from sealwright.evidence.container import read_container, write_container

ENTRIES = {"b/x.txt": b"hello", "a.json": b"{}", "empty": b""}


def test_layout_is_exactly_the_documented_one() -> None:
    data = write_container({"a": b"xy"})
    crc = zlib.crc32(b"xy")
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, 2, 2, 1, 0) + b"a" + b"xy"
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            0x0314,
            20,
            0,
            0,
            0,
            0x21,
            crc,
            2,
            2,
            1,
            0,
            0,
            0,
            0,
            0o100644 << 16,
            0,
        )
        + b"a"
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    assert data == local + central + end


def test_standard_readers_see_plain_files() -> None:
    with zipfile.ZipFile(io.BytesIO(write_container(ENTRIES))) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["a.json", "b/x.txt", "empty"]
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr == 0o100644 << 16
            assert info.create_system == 3
            assert info.extra == b""
            assert info.comment == b""
        assert archive.comment == b""
        assert {i.filename: archive.read(i) for i in infos} == ENTRIES


def test_same_bytes_as_cpython_zipfile_with_fixed_metadata() -> None:
    # A second, independent writer producing the same bytes: the layout is not our quirk.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(ENTRIES):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            archive.writestr(info, ENTRIES[name])
    assert buffer.getvalue() == write_container(ENTRIES)


def test_order_of_the_mapping_does_not_matter() -> None:
    assert write_container(dict(reversed(ENTRIES.items()))) == write_container(ENTRIES)


@pytest.mark.parametrize("name", ["", "/abs", "a/../b", ".hidden", "dir/", "a//b", "sp ace", "é"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        write_container({name: b""})


def test_round_trip() -> None:
    assert read_container(write_container(ENTRIES)) == ENTRIES


def test_deflated_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("a", (1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, b"x" * 100)
    with pytest.raises(VerificationFailed, match="canonical layout"):
        read_container(buffer.getvalue())


def test_other_timestamp_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("a", (2024, 5, 1, 12, 0, 0))
        info.external_attr = 0o100644 << 16
        info.create_system = 3
        archive.writestr(info, b"x")
    with pytest.raises(VerificationFailed, match="canonical layout"):
        read_container(buffer.getvalue())


def test_duplicate_entries_are_refused() -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a", b"1")
            archive.writestr("a", b"2")
    with pytest.raises(VerificationFailed, match="appears twice"):
        read_container(buffer.getvalue())


def test_directory_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dir/", b"")
    with pytest.raises(VerificationFailed, match="not allowed"):
        read_container(buffer.getvalue())


def test_trailing_comment_is_refused() -> None:
    data = bytearray(write_container(ENTRIES))
    data[-2:] = struct.pack("<H", 3)
    with pytest.raises(VerificationFailed):
        read_container(bytes(data) + b"hey")


names = st.from_regex(
    r"[a-z0-9_-][a-z0-9._-]{0,8}(/[a-z0-9_-][a-z0-9._-]{0,8}){0,2}", fullmatch=True
)


@given(st.dictionaries(names, st.binary(max_size=64), max_size=6), st.data())
def test_any_single_byte_change_is_refused(entries: dict[str, bytes], data: st.DataObject) -> None:
    blob = write_container(entries)
    assert read_container(blob) == entries
    position = data.draw(st.integers(0, len(blob) - 1))
    changed = bytearray(blob)
    changed[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(VerificationFailed):
        read_container(bytes(changed))
