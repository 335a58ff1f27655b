"""The fast ledger checks of the verifier decide exactly as the step-by-step ones: leaf hashes
cut from canonical lines, proofs.json decoded at once, timestamps compared as text, each
ledger file parsed once per verification."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from evidence_world import World, resign
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.clock import parse_rfc3339
from sealwright.errors import VerificationFailed
from sealwright.evidence import ledger_checks, verify_bundle
from sealwright.evidence import verify as verify_module
from sealwright.evidence.container import read_container
from sealwright.evidence.ledger_checks import BundleEvent, parse_events, parse_proofs
from sealwright.evidence.manifest import is_int, is_timestamp
from sealwright.ledger import canonical
from sealwright.ledger.canonical import canonicalize, canonicalize_reference, parse_canonical
from sealwright.ledger.merkle import leaf_hash

EVENTS = "ledger/events.jsonl"
PROOFS = "ledger/proofs.json"


def outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", function(*args)
    except VerificationFailed as exc:
        return "failed", str(exc)
    except Exception as exc:  # what verify_bundle reports as "could not be checked"
        return type(exc).__name__, str(exc)


# -- events.jsonl --------------------------------------------------------------------------


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.sampled_from([",", '"index":', ',"index":1}', "\\", '"', "\n", "\U0001f600"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
events = st.dictionaries(
    texts | st.sampled_from(["index", "event", "data"]),
    values | st.dictionaries(st.sampled_from(["index", "event", "a", "\U0001f600"]), values),
    max_size=6,
)


def _line(index: int, event: dict[str, Any]) -> bytes:
    return canonicalize_reference({"index": index, "event": event}) + b"\n"


@settings(max_examples=500, deadline=None)
@given(st.lists(events, min_size=1, max_size=5), st.data())
def test_leaf_hashes_are_those_of_the_reference_serialisation(
    evs: list[dict[str, Any]], data: st.DataObject
) -> None:
    indices = sorted(
        data.draw(st.sets(st.integers(0, 2**40), min_size=len(evs), max_size=len(evs)))
    )
    parsed = parse_events(b"".join(_line(i, e) for i, e in zip(indices, evs, strict=True)))
    assert [p.index for p in parsed] == indices
    for p, event in zip(parsed, evs, strict=True):
        assert p.event == event
        assert p.leaf_hash == leaf_hash(canonicalize_reference(event))


def test_a_nested_index_member_does_not_move_the_leaf(world: World) -> None:
    event = {"data": {"a": 1, "index": 2, "x": [{"event": {}, "index": 3}]}, "v": 1}
    (parsed,) = parse_events(_line(9, event))
    assert parsed.leaf_hash == leaf_hash(canonicalize_reference(event))


def _respell(line: bytes, kind: str) -> bytes:
    """A spelling of the same record that is not canonical."""
    record = json.loads(line)
    if kind == "space":
        return line.replace(b'":', b'": ', 1)
    if kind == "order":
        return json.dumps(
            {"index": record["index"], "event": record["event"]},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    if kind == "inner order":
        event = dict(reversed(list(record["event"].items())))
        return json.dumps(
            {"event": event, "index": record["index"]}, separators=(",", ":"), ensure_ascii=False
        ).encode()
    if kind == "duplicate":
        return line.replace(b'{"event":{', b'{"event":{"v":1,', 1)
    if kind == "escape":
        return line.replace(b"e", b"\\u0065", 1)
    if kind == "slash":
        return line.replace(b'"v":1', b'"v":1,"w":"\\/"', 1)
    if kind == "number":
        return line.replace(b'"v":1', b'"v":1.0', 1)
    if kind == "trailing":
        return line + b" "
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["space", "order", "inner order", "duplicate", "escape", "slash", "number", "trailing"],
)
def test_every_non_canonical_spelling_fails_three_checks(world: World, kind: str) -> None:
    lines = read_container(world.bundle)[EVENTS].splitlines(keepends=True)
    bad = _respell(lines[2].rstrip(b"\n"), kind)
    assert json.loads(bad) is not None  # still JSON
    lines[2] = bad + b"\n"
    bundle = resign(world.bundle, world.manifest_signer, {EVENTS: b"".join(lines)})
    report = verify_bundle(bundle, world.trust)
    fails = {c.name: c.detail for c in report.checks if not c.ok}
    # ... and any other check that reads events.jsonl, with the same words.
    assert {"inclusion-proofs", "event-chain", "document-hashes"} <= set(fails)
    assert "pdf-signatures" not in fails
    assert len(set(fails.values())) == 1
    assert fails["event-chain"].startswith(f"{EVENTS} line 3: ")


def test_events_and_proofs_are_parsed_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counted(name: str, function: Any) -> Any:
        def wrapper(data: bytes) -> Any:
            calls.append(name)
            return function(data)

        return wrapper

    monkeypatch.setattr(verify_module, "parse_events", counted("events", parse_events))
    monkeypatch.setattr(verify_module, "parse_proofs", counted("proofs", parse_proofs))
    assert verify_bundle(world.bundle, world.trust).ok
    assert sorted(calls) == ["events", "proofs"]


def test_the_reference_canonical_check_gives_the_same_events(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = read_container(world.bundle)[EVENTS]
    fast = parse_events(data)
    monkeypatch.setattr(ledger_checks, "accept_orjson", lambda data: None)
    assert parse_events(data) == fast  # through the C json round trip
    monkeypatch.setattr(canonical, "parse_plain", lambda data: None)
    assert parse_events(data) == fast  # through rfc8785


# -- proofs.json ---------------------------------------------------------------------------


def step_by_step(data: bytes) -> tuple[str, Any]:
    """parse_proofs without its fast path."""
    return outcome(ledger_checks._proofs_step_by_step, data)


def _node(seed: int) -> str:
    return base64.b64encode(seed.to_bytes(32, "big")).decode()


proof_docs = st.fixed_dictionaries(
    {
        "tree_size": st.integers(1, 2**53 - 1),
        "inclusion": st.dictionaries(
            st.integers(0, 10**6).map(str),
            st.lists(st.integers(0, 2**256 - 1).map(_node), max_size=5),
            max_size=6,
        ),
    }
)


def _mutations(data: bytes) -> list[bytes]:
    text = data.decode()
    out = [data + b" ", b" " + data, data.replace(b":", b": ", 1), data.replace(b",", b", ", 1)]
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"0":[],', 1))  # duplicate?
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"-1":[],', 1))
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"01":[],', 1))
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"zz":[],', 1))
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"7":{},', 1))
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"7":[1],', 1))
    out.append(data.replace(b'{"inclusion":{', b'{"inclusion":{"7":["AAAA"],', 1))
    out.append(data.replace(b'"tree_size":', b'"tree_size":1.0,"x":', 1))
    for node in set(re.findall(r'"([A-Za-z0-9+/]{43}=)"', text)):
        bad_bits = node[:42] + chr(ord(node[42]) ^ 1) + "="  # non-zero bits below the hash
        out.append(text.replace(node, bad_bits, 1).encode())
        out.append(text.replace(node, node[:43], 1).encode())  # no padding
        out.append(text.replace(node, node[:42] + "==", 1).encode())
        out.append(text.replace(node, node[:-1] + "A=", 1).encode())  # too long
        out.append(text.replace(node, node[:20] + "=" + node[21:], 1).encode())
        out.append(text.replace(node, node[:20] + "\\u0041" + node[21:], 1).encode())
        out.append(text.replace(node, node[:20] + "!" + node[21:], 1).encode())
        out.append(text.replace(node, node[:20] + "é" + node[21:], 1).encode())
        out.append(text.replace(f'"{node}"', f'"{node[:22]}","{node[22:]}"', 1).encode())
        break
    pair = re.search(r'"([A-Za-z0-9+/]{43}=)","([A-Za-z0-9+/]{43}=)"', text)
    if pair:  # the same characters, split between two nodes at another place
        first, second = pair.groups()
        moved = f'"{first}{second[:3]}","{second[3:]}"'
        out.append(text.replace(pair.group(0), moved, 1).encode())
    keys = re.findall(r'"([0-9]+)":\[', text)
    if len(keys) > 1:  # members out of order
        first, second = f'"{keys[0]}":', f'"{keys[1]}":'
        swapped = text.replace(first, "X", 1).replace(second, first, 1).replace("X", second, 1)
        out.append(swapped.encode())
    return out


@settings(max_examples=300, deadline=None)
@given(proof_docs)
def test_proofs_decode_at_once_exactly_as_step_by_step(doc: dict[str, Any]) -> None:
    data = canonicalize(doc)
    expected = step_by_step(data)
    assert expected[0] == "ok"
    assert ledger_checks._valid_proofs(data) == expected[1]
    assert outcome(parse_proofs, data) == expected
    for changed in _mutations(data):
        assert outcome(parse_proofs, changed) == step_by_step(changed), changed


PIECES = [b'"', b",", b":", b"[", b"]", b"{", b"}", b'":[', b'],"', b'","', b"=", b"A", b"g", b"B",
          b"0", b"1", b"-", b"+", b" ", b"_", b"\\u0041", b"\xc3\xa9", b'},"tree_size":1',
          b'"7":[]']  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(proof_docs, st.data())
def test_proofs_with_bytes_changed_decide_as_step_by_step(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    text = canonicalize(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 50)))
        piece = data.draw(st.sampled_from([b"", *PIECES]))
        text = text[:start] + piece + text[end:]
        assert outcome(parse_proofs, text) == step_by_step(text), text


def _b64(seed: int) -> bytes:
    return _node(seed).encode()


@pytest.mark.parametrize(
    "data",
    [
        b'{"inclusion":{"1":[],"1":[]},"tree_size":2}',
        b'{"inclusion":{"+1":[]},"tree_size":2}',
        b'{"inclusion":{" 1":[]},"tree_size":2}',
        b'{"inclusion":{"1_0":[]},"tree_size":11}',
        b'{"inclusion":{"-0":[]},"tree_size":1}',
        b'{"inclusion":{"":[]},"tree_size":1}',
        b'{"inclusion":{"0":[]},"tree_size":01}',
        b'{"inclusion":{"0":[]},"tree_size":-1}',
        b'{"inclusion":{"0":[]},"tree_size":9007199254740991}',
        b'{"inclusion":{"0":[],"1":[":["]},"tree_size":2}',
        b'{"inclusion":{"0":[]],"1":[]},"tree_size":2}',
        b'{"inclusion":{"0":[],"tree_size":1}',
        b'{"inclusion":{"0":[]},"tree_size":1},"tree_size":1}',
        b'{"inclusion":{"0":["' + _b64(1) + b'"]},"tree_size":2}',
        b'{"inclusion":{"0":["' + _b64(1) + b'",]},"tree_size":2}',
        b'{"inclusion":{"0":[,"' + _b64(1) + b'"]},"tree_size":2}',
        b'{"inclusion":{"0":["' + _b64(1) + b'""' + _b64(2) + b'"]},"tree_size":2}',
        # One entry with two key ends, the next with none: the same pieces as {"1": [N], "5": []}.
        b'{"inclusion":{"1":["' + _b64(1) + b'"":[5],"],"2":[]},"tree_size":9}',
        b'{"inclusion":{"1":["' + _b64(1) + b'"]:[5],"],"2":[]},"tree_size":9}',
    ],
)
def test_proofs_cut_at_their_separators(data: bytes) -> None:
    assert outcome(parse_proofs, data) == step_by_step(data)


def test_the_bundle_proofs_take_the_fast_path(world: World) -> None:
    data = read_container(world.bundle)[PROOFS]
    assert ledger_checks._valid_proofs(data) == parse_proofs(data)
    assert parse_canonical(data)["inclusion"].keys() == {"0", "2", "4", "6", "7", "8"}


@pytest.mark.parametrize(
    "data",
    [
        b'{"inclusion":{},"tree_size":1}',
        b'{"inclusion":{"0":[]},"tree_size":1}',
        b'{"inclusion":{"10":[],"9":[]},"tree_size":11}',
        b'{"inclusion":{"9":[],"10":[]},"tree_size":11}',
        b'{"inclusion":{},"tree_size":0}',
        b'{"inclusion":{},"tree_size":9007199254740992}',
        b'{"inclusion":{},"tree_size":true}',
        b'{"inclusion":[],"tree_size":1}',
        b'{"tree_size":1,"inclusion":{}}',
        b'{"inclusion":{},"tree_size":1,"x":1}',
        b"[]",
        b"",
        b"\xff",
    ],
)
def test_proofs_edge_cases(data: bytes) -> None:
    assert outcome(parse_proofs, data) == step_by_step(data)


# -- timestamps ----------------------------------------------------------------------------


def _reference_is_timestamp(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def _digits(count: int, low: int = 0, high: int = 99) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(low, high).map(lambda v: f"{v:0{count}d}"),
        st.text("0123456789", min_size=count, max_size=count),
    )


@st.composite
def shaped(draw: st.DrawFn) -> str:
    year = draw(_digits(4, 0, 9999))
    month, day = draw(_digits(2, 0, 13)), draw(_digits(2, 0, 32))
    hour, minute, second = draw(_digits(2, 0, 25)), draw(_digits(2, 0, 61)), draw(_digits(2))
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}.{draw(_digits(6, 0, 999999))}Z"
    if draw(st.booleans()):  # other decimal digits, which \d admits: Arabic-Indic, full-width
        zero = draw(st.sampled_from([0x0660, 0xFF10]))
        digits = "".join(chr(zero + i) for i in range(10))
        text = "".join(digits[int(c)] if c.isdigit() and draw(st.booleans()) else c for c in text)
    return text


@settings(max_examples=2000, deadline=None)
@given(shaped())
def test_is_timestamp_decides_as_strptime(value: str) -> None:
    assert is_timestamp(value) == _reference_is_timestamp(value)


@settings(max_examples=500, deadline=None)
@given(shaped(), shaped())
def test_timestamps_order_as_their_times(a: str, b: str) -> None:
    if is_timestamp(a) and is_timestamp(b):
        assert ledger_checks._before(a, b) == (parse_rfc3339(a) < parse_rfc3339(b))


# -- the event chain -----------------------------------------------------------------------


def _reference_chain(events: Sequence[BundleEvent], manifest: Any) -> str:
    """check_event_chain as it was, every check on every event, step by step."""
    problems: list[str] = []
    previous: BundleEvent | None = None
    previous_time: str | None = None
    for position, e in enumerate(events):
        ev = e.event
        time: Any = ev.get("time")
        time_ok = is_timestamp(time)
        problems += ledger_checks._event_problems(e, manifest, time_ok)
        seq = ev.get("seq")
        if not is_int(seq) or seq != position:
            problems.append(f"event at index {e.index}: seq is {seq!r}, expected {position}")
        expected_prev = None if previous is None else previous.leaf_hash.hex()
        if ev.get("prev") != expected_prev:
            problems.append(
                f"event at index {e.index}: prev does not match the leaf hash of "
                + ("nothing (first event)" if previous is None else f"index {previous.index}")
            )
        if (
            previous is not None
            and time_ok
            and previous_time is not None
            and ledger_checks._before(time, previous_time)
        ):
            problems.append(
                f"event at index {e.index}: time goes back before index {previous.index}"
            )
        previous, previous_time = e, (time if time_ok else None)
    ledger_checks._fail_if(problems)
    return f"{len(events)} events, seq 0..{len(events) - 1}, hash-chained, times in order"


CHAIN_MANIFEST = SimpleNamespace(envelope=SimpleNamespace(tenant="t1", id="e" * 32))
ARABIC_ONE = "\u0661"


def _chain(count: int) -> list[BundleEvent]:
    events, prev = [], None
    for i in range(count):
        event = {
            "v": 1,
            "id": f"{i:032x}",
            "tag": "signer:otp:passed",
            "tenant": "t1",
            "envelope": "e" * 32,
            "seq": i,
            "prev": prev,
            "time": f"2024-05-01T12:00:{i:02d}.000000Z",
            "actor": "recipient:r1",
            "data": {"n": i},
        }
        leaf = leaf_hash(canonicalize(event))
        events.append(BundleEvent(i * 2, event, leaf))
        prev = leaf.hex()
    return events


CHANGES: list[tuple[str, Any]] = [
    ("v", True), ("v", 1.0), ("v", 2), ("v", "1"), ("seq", True), ("seq", 1.0), ("seq", 99),
    ("seq", None), ("prev", None), ("prev", "0" * 64), ("prev", 5), ("id", "X" * 32),
    ("id", 7), ("tag", "a:b"), ("tag", None), ("tenant", "t2"), ("tenant", None),
    ("envelope", "f" * 32), ("time", "2024-05-01T12:00:00Z"), ("time", None),
    ("time", "2023-01-01T00:00:00.000000Z"), ("time", "2024-02-30T12:00:00.000000Z"),
    ("time", f"2024-05-01T12:00:{ARABIC_ONE}0.000000Z"), ("time", "2099-01-01T00:00:00.000000Z"),
    ("actor", 3), ("actor", None), ("data", []), ("data", None), ("extra", 1),
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 6), st.data())
def test_the_chain_check_decides_and_words_as_step_by_step(count: int, data: st.DataObject) -> None:
    events = _chain(count)
    for _ in range(data.draw(st.integers(0, 3))):
        position = data.draw(st.integers(0, count - 1))
        kind = data.draw(st.sampled_from(["change", "drop", "swap", "leaf", "index"]))
        e = events[position]
        event = dict(e.event)
        if kind == "change":
            member, value = data.draw(st.sampled_from(CHANGES))
            event[member] = value
        elif kind == "drop":
            del event[data.draw(st.sampled_from(sorted(event)))]
        elif kind == "swap":
            other = data.draw(st.integers(0, count - 1))
            events[position], events[other] = events[other], events[position]
            continue
        elif kind == "leaf":
            events[position] = BundleEvent(e.index, event, bytes(32))
            continue
        else:
            events[position] = BundleEvent(e.index + 1, event, e.leaf_hash)
            continue
        events[position] = BundleEvent(e.index, event, e.leaf_hash)
    assert outcome(ledger_checks.check_event_chain, events, CHAIN_MANIFEST) == outcome(
        _reference_chain, events, CHAIN_MANIFEST
    )


def test_a_valid_chain_passes() -> None:
    events = _chain(5)
    assert outcome(ledger_checks.check_event_chain, events, CHAIN_MANIFEST) == (
        "ok",
        "5 events, seq 0..4, hash-chained, times in order",
    )
