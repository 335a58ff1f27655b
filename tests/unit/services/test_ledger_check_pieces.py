"""The pure pieces of ``sealwright ledger check``: event-row checks, roots at many sizes,
checkpoint history and the report. No database: rows are built in memory."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.clock import rfc3339
from sealwright.ledger.canonical import canonicalize
from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from sealwright.ledger.merkle import leaf_hash, root_hash
from sealwright.services.ledger_check import (
    LedgerProblem,
    LedgerReport,
    SignedSource,
    StoredCheckpoint,
    StoredEvent,
    _CheckpointChecks,
    check_events,
    roots_at,
)

ORIGIN = "ledger.test/log"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_log(n: int, envelopes: int = 3) -> list[StoredEvent]:
    """``n`` well-formed event rows: every third event about no envelope, the rest spread
    over ``envelopes`` envelopes, each chained."""
    rows: list[StoredEvent] = []
    heads: dict[str, tuple[int, str]] = {}
    for i in range(n):
        envelope = None if i % 3 == 2 else f"env{i % envelopes}"
        seq = prev = None
        if envelope is not None:
            last = heads.get(envelope)
            seq, prev = (0, None) if last is None else (last[0] + 1, last[1])
        time = T0 + timedelta(seconds=i)
        event = {
            "v": 1,
            "id": hashlib.sha256(str(i).encode()).hexdigest()[:32],
            "tag": "api:envelope:created",
            "tenant": "t1",
            "envelope": envelope,
            "seq": seq,
            "prev": prev,
            "time": rfc3339(time),
            "actor": "system",
            "data": {"n": i},
        }
        leaf = canonicalize(event)
        if envelope is not None:
            heads[envelope] = (seq or 0, leaf_hash(leaf).hex())
        rows.append(
            StoredEvent(
                idx=i,
                event_id=str(event["id"]),
                tenant_id="t1",
                envelope_id=envelope,
                seq=seq,
                tag="api:envelope:created",
                leaf=leaf,
                leaf_hash=leaf_hash(leaf),
                created_at=time,
            )
        )
    return rows


def kinds_at(rows: list[StoredEvent], index: int) -> set[str]:
    return {p.kind for p in check_events(rows).problems if p.concerns(index)}


# -- event rows ----------------------------------------------------------------------------


def test_a_well_formed_log_has_no_problems() -> None:
    rows = make_log(40)
    scan = check_events(rows)
    assert scan.problems == []
    assert scan.leaf_hashes == [r.leaf_hash for r in rows]


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("leaf_hash", b"\x00" * 32, "leaf-hash"),
        ("event_id", "0" * 32, "column"),
        ("tenant_id", "t2", "column"),
        ("envelope_id", None, "column"),
        ("seq", 7, "column"),
        ("tag", "api:envelope:voided", "column"),
        ("created_at", T0, "column"),
    ],
)
def test_each_denormalised_column_must_say_what_the_leaf_says(
    column: str, value: object, kind: str
) -> None:
    rows = make_log(12)
    rows[7] = dataclasses.replace(rows[7], **{column: value})
    assert kind in kinds_at(rows, 7)
    problem = next(p for p in check_events(rows).problems if p.index == 7)
    assert problem.event_id == make_log(12)[7].event_id


def test_a_changed_leaf_is_named_and_breaks_its_envelope_chain() -> None:
    rows = make_log(12)
    envelope = rows[4].envelope_id
    changed = rows[4].leaf.replace(b'"n":4', b'"n":5')
    rows[4] = dataclasses.replace(rows[4], leaf=changed)
    assert kinds_at(rows, 4) == {"leaf-hash"}
    nxt = next(r for r in rows[5:] if r.envelope_id == envelope)
    assert "prev is not the leaf hash" in " ".join(
        p.detail for p in check_events(rows).problems if p.index == nxt.idx
    )


@pytest.mark.parametrize(
    ("leaf", "needle"),
    [
        (b'{"a": 1}', "not canonical"),
        (b"\xff", "not canonical"),
        (b'{"a":1}', "exactly"),
        (
            canonicalize(
                {
                    **dict.fromkeys(
                        [
                            "v",
                            "id",
                            "tag",
                            "tenant",
                            "envelope",
                            "seq",
                            "prev",
                            "time",
                            "actor",
                            "data",
                        ]
                    ),
                    "v": 2,
                }
            ),
            "malformed",
        ),
    ],
)
def test_leaves_must_be_canonical_events(leaf: bytes, needle: str) -> None:
    rows = make_log(6)
    rows[3] = dataclasses.replace(rows[3], leaf=leaf, leaf_hash=leaf_hash(leaf))
    problems = [p for p in check_events(rows).problems if p.index == 3]
    assert [p.kind for p in problems] == ["leaf"]
    assert needle in problems[0].detail


def test_a_missing_event_is_reported_at_its_index_and_in_its_chain() -> None:
    rows = make_log(12)
    del rows[4]
    scan = check_events(rows)
    gap = next(p for p in scan.problems if p.kind == "index")
    assert (gap.index, gap.events) == (4, (4, 5))
    assert any(p.kind == "chain" and "seq is" in p.detail for p in scan.problems)


def test_an_index_moved_beyond_the_end_or_below_zero() -> None:
    rows = make_log(8)
    moved = dataclasses.replace(rows[2], idx=1000)
    scan = check_events([*rows[:2], *rows[3:], moved])
    assert {p.index for p in scan.problems if p.kind == "index"} == {2, 1000}
    assert next(p for p in scan.problems if p.index == 1000).event_id == rows[2].event_id
    negative = dataclasses.replace(rows[0], idx=-3)
    scan = check_events([negative, *rows[1:]])
    assert {p.index for p in scan.problems if p.kind == "index"} == {-3, 0}


def test_reordered_events_break_the_chain_at_both() -> None:
    rows = make_log(12, envelopes=1)
    a, b = rows[3], rows[4]  # same envelope
    rows[3], rows[4] = dataclasses.replace(b, idx=3), dataclasses.replace(a, idx=4)
    assert "chain" in kinds_at(rows, 3)
    assert "chain" in kinds_at(rows, 4)


def test_a_repeated_event_id_is_reported() -> None:
    rows = make_log(6)
    copy = dataclasses.replace(rows[0], idx=6)
    scan = check_events([*rows, copy])
    assert any(p.kind == "duplicate-id" and p.index == 6 for p in scan.problems)


def test_time_going_back_within_an_envelope_is_reported() -> None:
    rows = make_log(9, envelopes=1)  # envelope events at indices 0, 1, 3, 4, 6, 7
    before = T0 - timedelta(days=1)
    event = {
        "v": 1,
        "id": "e" * 32,
        "tag": "api:envelope:created",
        "tenant": "t1",
        "envelope": "env0",
        "seq": 6,
        "prev": leaf_hash(rows[7].leaf).hex(),
        "time": rfc3339(before),
        "actor": "system",
        "data": {},
    }
    leaf = canonicalize(event)
    rows.append(
        StoredEvent(9, "e" * 32, "t1", "env0", 6, str(event["tag"]), leaf, leaf_hash(leaf), before)
    )
    problems = check_events(rows).problems
    assert [(p.index, p.kind) for p in problems] == [(9, "chain")]
    assert "time goes back before its envelope's event at index 7" in problems[0].detail


# -- roots at many sizes -------------------------------------------------------------------


@settings(max_examples=50, database=None)
@given(n=st.integers(0, 140), data=st.data())
def test_roots_at_matches_the_rfc_9162_root_at_every_size(n: int, data: st.DataObject) -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    sizes = data.draw(st.sets(st.integers(0, n + 3)))
    roots = roots_at(leaves, sizes)
    assert set(roots) == {s for s in sizes if s <= n}
    for s, root in roots.items():
        assert root == root_hash(leaves[:s])


# -- checkpoints and history ---------------------------------------------------------------

SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


def signed(leaves: list[bytes], size: int, signer: NoteSigner = SIGNER) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(leaves[:size])), [signer])


def checks() -> _CheckpointChecks:
    return _CheckpointChecks(origin=ORIGIN, verifiers=(SIGNER.verifier,), tsa_roots=())


def row(note: str, leaves: list[bytes], size: int, **changes: object) -> StoredCheckpoint:
    stored = StoredCheckpoint(size, root_hash(leaves[:size]), note, T0, None)
    return dataclasses.replace(stored, **changes)  # type: ignore[arg-type]


LEAVES = [hashlib.sha256(bytes([i])).digest() for i in range(40)]


def test_matching_checkpoints_cover_the_log() -> None:
    c = checks()
    c.rows([row(signed(LEAVES, s), LEAVES, s) for s in (10, 20, 30)], [])
    assert c.history(LEAVES) == 30
    assert c.problems == []
    assert c.notes == [f"checkpoint {s} has no timestamp" for s in (10, 20, 30)]


def test_a_changed_leaf_is_narrowed_to_the_range_between_checkpoints() -> None:
    c = checks()
    c.rows([row(signed(LEAVES, s), LEAVES, s) for s in (10, 20, 30)], [])
    tampered = [*LEAVES]
    tampered[14] = b"\x01" * 32
    assert c.history(tampered) == 10
    roots = {p.checkpoint: p.events for p in c.problems if p.kind == "root"}
    assert roots == {20: (10, 20), 30: (10, 30)}


def test_a_checkpoint_beyond_the_log_is_a_rollback() -> None:
    c = checks()
    c.sources([SignedSource("copy 30.note", signed(LEAVES, 30), 30, is_copy=True)], {30}, 25)
    c.history(LEAVES[:25])
    [problem] = c.problems
    assert (problem.kind, problem.checkpoint, problem.events) == ("rollback", 30, (25, 30))
    assert problem.concerns(27)


def test_two_roots_for_one_size_are_a_fork() -> None:
    other = [*LEAVES]
    other[3] = b"\x02" * 32
    c = checks()
    c.sources(
        [
            SignedSource("extra checkpoint #1", signed(other, 20)),
            SignedSource("x", signed(LEAVES, 20)),
        ],
        set(),
        40,
    )
    c.history(LEAVES)
    assert [p.kind for p in c.problems] == ["fork"]


def test_a_smaller_checkpoint_outside_a_matching_larger_one_is_a_fork() -> None:
    other = [*LEAVES]
    other[3] = b"\x02" * 32
    c = checks()
    c.sources(
        [SignedSource("a", signed(other, 10)), SignedSource("b", signed(LEAVES, 30))], set(), 40
    )
    assert c.history(LEAVES) == 30
    [problem] = c.problems
    assert (problem.kind, problem.checkpoint) == ("fork", 10)


def test_checkpoint_rows_must_match_their_notes_and_be_signed() -> None:
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    c = checks()
    c.rows(
        [
            row(signed(LEAVES, 10), LEAVES, 10, root_hash=b"\x00" * 32),
            row(signed(LEAVES, 20, impostor), LEAVES, 20),
            row(signed(LEAVES, 30), LEAVES, 31),
        ],
        [],
    )
    assert sorted((p.kind, p.checkpoint) for p in c.problems) == [
        ("checkpoint", 10),
        ("checkpoint", 20),
        ("checkpoint", 31),
    ]


def test_a_copy_without_its_row_was_deleted_from_the_database() -> None:
    c = checks()
    c.sources([SignedSource("copy", signed(LEAVES, 10), 10, is_copy=True)], set(), 40)
    assert [(p.kind, p.checkpoint) for p in c.problems] == [("checkpoint-deleted", 10)]


def test_a_removed_or_replaced_token_is_caught_by_the_copy() -> None:
    copy = SignedSource("copy", signed(LEAVES, 10), 10, token=b"token", is_copy=True)
    c = checks()
    c.rows([row(signed(LEAVES, 10), LEAVES, 10)], [copy])
    assert [(p.kind, p.detail) for p in c.problems] == [
        ("timestamp", "its timestamp token was removed")
    ]
    c = checks()
    c.rows([row(signed(LEAVES, 10), LEAVES, 10, timestamp_token=b"other")], [copy])
    assert ("timestamp", "its timestamp token differs from the copy") in [
        (p.kind, p.detail) for p in c.problems
    ]
    assert any("cannot be validated" in p.detail for p in c.problems)


# -- the report ----------------------------------------------------------------------------


def test_the_report_reads_and_serialises() -> None:
    problems = (
        LedgerProblem("column", "seq is 9 but the leaf says 4", index=7, event_id="ab" * 16),
        LedgerProblem("root", "narrowed", checkpoint=20, events=(10, 20)),
    )
    report = LedgerReport(ORIGIN, 33, b"\x00" * 32, 4, 10, problems, ("events 10..32: x",))
    assert not report.ok
    assert report.concerning(7) == problems[:1]
    assert report.concerning(15) == problems[1:]
    text = report.to_text()
    assert f"event 7 (id {'ab' * 16}): column: seq is 9" in text
    assert "checkpoint 20: root: narrowed [events 10..19]" in text
    assert text.endswith("RESULT: NOT CONSISTENT (2 problems)\n")
    as_dict = report.to_dict()
    assert as_dict["ok"] is False
    assert as_dict["problems"][1]["events"] == [10, 20]
    clean = dataclasses.replace(report, problems=())
    assert clean.ok
    assert clean.to_text().endswith("RESULT: CONSISTENT\n")
