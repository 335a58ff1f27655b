"""Offline verifier throughput (P2): the per-event work of ``sealwright verify``.

For each line of an evidence bundle's ``ledger/events.jsonl`` the verifier parses the line
and requires it to be canonical RFC 8785 (``parse_canonical``), recomputes the event's leaf
hash (``parse_events``), and checks the event's RFC 9162 inclusion proof against the
checkpoint (``check_inclusion``). This times exactly those two functions over ``--events``
lines, against the least any verifier must do per line -- ``json.loads`` and one SHA-256
-- and prints events/s for each and their ratio.

It also splits the verifier's time into its parts, and shows what the verifier would do if
``ledger/canonical.py`` used ``ledger/fast_canonical.py`` (it does not yet: here the two
modules' ``canonicalize`` is swapped for the run, nothing else changes).

    python bench/verify.py [--events 20000] [--repeat 5]

Numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sealwright.ledger.canonical as canonical_module
import sealwright.ledger.events as events_module
from sealwright.evidence.ledger_checks import BundleEvent, check_inclusion, parse_events
from sealwright.ledger.canonical import canonicalize, parse_canonical
from sealwright.ledger.checkpoint import Checkpoint
from sealwright.ledger.events import event_leaf_hash
from sealwright.ledger.fast_canonical import canonicalize_fast
from sealwright.ledger.merkle import MerkleTree, leaf_hash, verify_inclusion

TAGS = ["signer:link:opened", "signer:otp:sent", "signer:otp:passed", "signer:document:viewed"]


def make_bundle(count: int) -> tuple[bytes, dict[int, tuple[bytes, ...]], Checkpoint]:
    """events.jsonl of one envelope's ``count`` chained events filling a log of that size,
    their inclusion proofs, and the checkpoint they lead to."""
    envelope, recipient = os.urandom(16).hex(), os.urandom(16).hex()
    lines, hashes, prev = [], [], None
    for i in range(count):
        event = {
            "v": 1,
            "id": os.urandom(16).hex(),
            "tag": TAGS[i % len(TAGS)],
            "tenant": "t" + "0" * 31,
            "envelope": envelope,
            "seq": i,
            "prev": prev,
            "time": f"2024-05-01T12:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 10:06d}Z",
            "actor": f"recipient:{recipient}",
            "data": {"recipient": recipient, "ip_hash": f"{i:064x}", "attempt": i % 5},
        }
        digest = leaf_hash(canonicalize(event))
        lines.append(canonicalize({"index": i, "event": event}) + b"\n")
        hashes.append(digest)
        prev = digest.hex()
    tree = MerkleTree(hashes)
    proofs = {i: tuple(tree.inclusion_proof(i)) for i in range(count)}
    checkpoint = Checkpoint(origin="bench.sealwright.test/log", size=count, root_hash=tree.root)
    return b"".join(lines), proofs, checkpoint


def best_of(repeat: int, work: Callable[[], Any]) -> float:
    """The fastest of ``repeat`` runs: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def baseline(data: bytes) -> None:
    for line in data[:-1].split(b"\n"):
        json.loads(line)
        hashlib.sha256(line).digest()


def verifier(data: bytes, proofs: dict[int, tuple[bytes, ...]], checkpoint: Checkpoint) -> None:
    check_inclusion(parse_events(data), proofs, checkpoint)


def parts(
    data: bytes, proofs: dict[int, tuple[bytes, ...]], checkpoint: Checkpoint
) -> dict[str, Callable[[], Any]]:
    lines = data[:-1].split(b"\n")
    records = [json.loads(line) for line in lines]
    events = parse_events(data)

    def strict_parse() -> None:
        for line in lines:
            parse_canonical(line)

    def leaf_hashes() -> None:
        for record in records:
            event_leaf_hash(record["event"])

    def inclusion() -> None:
        for e in events:
            verify_inclusion(
                e.leaf_hash, e.index, checkpoint.size, proofs[e.index], checkpoint.root_hash
            )

    return {
        "strict canonical parse": strict_parse,
        "leaf hash (re-canonicalize)": leaf_hashes,
        "inclusion proof": inclusion,
    }


@contextmanager
def fast_canonical_in_verifier() -> Iterator[None]:
    """Run the verifier as if ``ledger/canonical.py`` used the fast canonicalizer."""
    modules = [vars(canonical_module), vars(events_module)]  # each looks it up by name
    saved = [m["canonicalize"] for m in modules]
    for m in modules:
        m["canonicalize"] = canonicalize_fast
    try:
        yield
    finally:
        for m, original in zip(modules, saved, strict=True):
            m["canonicalize"] = original


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} ev/s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="report the fastest run")
    args = parser.parse_args(argv)
    n = args.events

    data, proofs, checkpoint = make_bundle(n)
    parsed: list[BundleEvent] = list(parse_events(data))
    assert len(parsed) == n  # the bundle is valid: the verifier accepts every line
    check_inclusion(parsed, proofs, checkpoint)

    bare = best_of(args.repeat, lambda: baseline(data))
    full = best_of(args.repeat, lambda: verifier(data, proofs, checkpoint))
    with fast_canonical_in_verifier():
        fast = best_of(args.repeat, lambda: verifier(data, proofs, checkpoint))
    print(f"offline verifier, per event: {n} events (log of {n}), fastest of {args.repeat} runs")
    print(f"  json.loads + SHA-256 (baseline)  {rate(n, bare)}")
    print(f"  verifier: parse + hash + proof   {rate(n, full)}   ratio {bare / full:.2f}")
    print(f"  same with the fast canonicalizer {rate(n, fast)}   ratio {bare / fast:.2f}")
    print("  where the verifier's time goes:")
    for name, work in parts(data, proofs, checkpoint).items():
        seconds = best_of(args.repeat, work)
        print(f"    {name:<28} {seconds / n * 1e6:6.1f} us/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
