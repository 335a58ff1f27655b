"""tlog-witness wire formats: the spec's examples, litewitness's requests, strictness."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.note import parse_note
from sealwright.witness.cosignature import Cosignature
from sealwright.witness.errors import BadWitnessResponse, WitnessRefused
from sealwright.witness.protocol import (
    MAX_PROOF_LINES,
    AddCheckpointRequest,
    format_cosignature_lines,
    format_size,
    origin_hash,
    parse_cosignature_lines,
    parse_decimal,
    parse_size,
)

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "vectors" / "c2sp-cosignature" / "cosignature-vectors.json"
    ).read_text(encoding="utf-8")
)
SPEC = VECTORS["c2sp_tlog_witness"]
LITE = VECTORS["litewitness_add_checkpoint"]

HASH = base64.b64encode(bytes(range(32))).decode()
NOTE = SPEC["request_body"].split("\n\n", 1)[1]


def test_spec_example_request() -> None:
    body = SPEC["request_body"].encode()
    request = AddCheckpointRequest.from_body(body)
    assert request.old_size == 20852014
    assert [base64.b64encode(h).decode() for h in request.proof] == [
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
    ]
    assert request.note.startswith("example.com/behind-the-sofa\n20852163\n")
    assert len(parse_note(request.note).signatures) == 2
    assert request.to_body() == body


def test_spec_example_response() -> None:
    signatures = parse_cosignature_lines(SPEC["response_body"].encode())
    assert [s.name for s in signatures] == [
        "witness.example/w1",
        "witness.example/w1",
        "witness.example/w2",
    ]
    # The shape of Ed25519 cosignatures (4 + 8 + 64 bytes), but placeholder bytes: the
    # first line's "timestamp" exceeds 2^63-1, which the strict parser refuses.
    assert all(len(sig.signature) == 8 + 64 for sig in signatures)
    with pytest.raises(ProofError, match=r"outside 0\.\.2"):
        Cosignature.from_note_signature(signatures[0])
    lines = SPEC["response_body"].splitlines(keepends=True)
    assert format_cosignature_lines(lines) == SPEC["response_body"].encode()


def test_litewitness_request_bodies_all_parse() -> None:
    for step in LITE["steps"]:
        request = AddCheckpointRequest.from_body(step["body"].encode())
        assert request.to_body() == step["body"].encode()


def test_request_with_no_proof_and_extension_lines() -> None:
    note = "o.example\n3\n" + HASH + "\next\n\n— o.example AAAAAAA=\n"
    request = AddCheckpointRequest.from_body(f"old 0\n\n{note}".encode())
    assert (request.old_size, request.proof, request.note) == (0, (), note)


def _body(header: str, note: str = NOTE) -> bytes:
    return (header + "\n" + note).encode()


BAD_BODIES = {
    "leading zero": _body("old 01\n"),
    "plus sign": _body("old +1\n"),
    "minus sign": _body("old -1\n"),
    "two spaces": _body("old  1\n"),
    "trailing space": _body("old 1 \n"),
    "tab": _body("old\t1\n"),
    "capital": _body("Old 1\n"),
    "no number": _body("old \n"),
    "underscore": _body("old 1_000\n"),
    "arabic digit": _body("old \u0661\n"),
    "over int64": _body(f"old {2**63}\n"),
    "crlf": _body(f"old 1\r\n{HASH}\r\n\r"),
    "no empty line": f"old 1\n{HASH}\n".encode() + NOTE.replace("\n\n", "\n").encode(),
    "space line": _body(f"old 1\n{HASH}\n \n"),
    "unpadded hash": _body(f"old 1\n{HASH.rstrip('=')}\n"),
    "url-safe hash": _body("old 1\n" + base64.urlsafe_b64encode(b"\xfb" * 32).decode() + "\n"),
    "31-byte hash": _body("old 1\n" + base64.b64encode(bytes(31)).decode() + "\n"),
    "33-byte hash": _body("old 1\n" + base64.b64encode(bytes(33)).decode() + "\n"),
    "64 proof lines": _body("old 1\n" + (HASH + "\n") * (MAX_PROOF_LINES + 1)),
    "no checkpoint": b"old 0\n\n",
    "not utf-8": b"old 0\n\n\xff\n",
    "control character": _body("old 0\n", NOTE.replace("sofa", "so\x01fa")),
    "note without final newline": _body("old 0\n", NOTE[:-1]),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_malformed_requests_are_400(body: bytes) -> None:
    with pytest.raises(WitnessRefused) as info:
        AddCheckpointRequest.from_body(body)
    assert info.value.status == 400
    assert info.value.reason.startswith("malformed request: ")


def test_63_proof_lines_are_allowed() -> None:
    request = AddCheckpointRequest.from_body(_body("old 1\n" + (HASH + "\n") * MAX_PROOF_LINES))
    assert len(request.proof) == MAX_PROOF_LINES


def test_request_constructor_validates() -> None:
    for args in (
        (-1, (), NOTE),
        (True, (), NOTE),
        (1, (bytes(31),), NOTE),
        (1, (bytes(32),) * 64, NOTE),
        (1, (), NOTE[:-1]),
        (1, (), ""),
    ):
        with pytest.raises(ValidationError):
            AddCheckpointRequest(*args)


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("7", 7), ("20852014", 20852014), (str(2**63 - 1), 2**63 - 1)]
)
def test_parse_decimal(text: str, value: int) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize(
    "text", ["", "00", "01", "+1", "-1", " 1", "1 ", "1_0", "\u0661", "1.0", "0x1"]
)
def test_parse_decimal_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_size_body() -> None:
    assert format_size(3) == b"3\n"
    assert parse_size(b"3\n") == 3
    assert parse_size(b"0\n") == 0
    for bad in (b"3", b"03\n", b"3\n\n", b"-3\n", b" 3\n", b"", b"3\r\n", b"\xff\n"):
        with pytest.raises(BadWitnessResponse):
            parse_size(bad)


def test_cosignature_answer_strictness() -> None:
    good = SPEC["response_body"].splitlines(keepends=True)[0]
    for bad in (
        b"",
        b"\n",
        good.rstrip("\n").encode(),
        good.replace("\u2014 ", "- ").encode(),
        good.replace(" ", "  ", 1).encode(),
        good.replace("==\n", "\n").encode(),
        good.replace("\n", "\r\n").encode(),
        "— a.example AAAA\n".encode(),  # 3 bytes: no room for a key id and a signature
        good.encode() + b"\n",
        "— a.example\n".encode(),
    ):
        with pytest.raises(BadWitnessResponse):
            parse_cosignature_lines(bad)
    with pytest.raises(ValidationError):
        format_cosignature_lines([])


def test_origin_hash() -> None:
    origin = LITE["log_origin"]
    assert origin_hash(origin) == hashlib.sha256(origin.encode()).hexdigest()
    assert len(origin_hash(origin)) == 64
    assert origin_hash(origin).islower()
