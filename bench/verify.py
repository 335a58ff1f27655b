"""Offline verifier throughput (P2): the per-event work of ``sealwright verify``.

Builds a real evidence bundle (``build_bundle``: signed manifest, signed checkpoint) for one
envelope of ``--events`` chained events filling a log of that size (so each inclusion proof
has log2(n) nodes), and times, in events per second:

- the baseline: ``json.loads`` and one SHA-256 of each ``ledger/events.jsonl`` line, the
  least any verifier must do per event;
- **events.jsonl + inclusion**: ``parse_events`` (each line proved canonical RFC 8785, its
  leaf hash) and ``check_inclusion`` (every event's RFC 9162 proof against the checkpoint,
  proofs already decoded): the per-event work issue #3 set the target for;
- **all ledger checks**: what ``verify_bundle`` runs on the ledger entries, through the same
  functions in the same order, each file parsed once: ``parse_proofs`` (proofs.json, which
  is larger than events.jsonl: log2(n) base64 nodes per event), ``parse_events``,
  ``check_inclusion``, ``check_event_chain`` and ``check_document_events``;
- **verify_bundle**: the entry point itself on the bundle's bytes -- container, manifest
  signature, file hashes, checkpoint, witnesses and the ledger checks. The document is a
  stand-in without a seal, so ``pdf-signatures`` fails at once (its cost is per document,
  not per event); every other check must pass.

Each ratio is baseline time / measured time. Times are the process's CPU time
(``time.process_time``): all of this is single-threaded, CPU-bound work, and on a shared
host the wall clock also counts the time other processes had the CPU. Runs are interleaved
round by round (a busy moment slows all of them), each after a full garbage collection,
and the fastest of ``--repeat`` rounds is kept. The parts are timed on their own, so they
need not add up to the whole: the verifier keeps tens of thousands of parsed objects
alive, and where in a run the cyclic garbage collector walks them varies (the parses
themselves pause it: see ``ledger_checks._collector_paused``).

    python bench/verify.py [--events 20000] [--repeat 5]

Numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from sealwright.evidence import verify_bundle
from sealwright.evidence.bundle import (
    CHECKPOINT_NAME,
    EVENTS_NAME,
    PROOFS_NAME,
    BundleContents,
    EnvelopeSummary,
    LedgerEntry,
    SealedDocument,
    build_bundle,
)
from sealwright.evidence.container import read_container
from sealwright.evidence.ledger_checks import (
    ADDED,
    COMPLETED,
    SEALED,
    check_document_events,
    check_event_chain,
    check_inclusion,
    parse_events,
    parse_proofs,
)
from sealwright.evidence.manifest import MANIFEST_NAME, Manifest
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, open_checkpoint, sign_checkpoint
from sealwright.ledger.events import event_leaf_hash
from sealwright.ledger.merkle import MerkleTree

ORIGIN = "bench.sealwright.test/log"
TENANT = "t" + "0" * 31
DOCUMENT = "doc-1"
TAGS = ["signer:link:opened", "signer:otp:sent", "signer:otp:passed", "signer:document:viewed"]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Bench:
    bundle: bytes
    trust: TrustStore
    entries: dict[str, bytes]
    manifest: Manifest
    checkpoint: Checkpoint
    sealed_hashes: dict[str, str]


def _events(count: int, envelope: str, original: bytes, sealed: bytes) -> list[dict[str, Any]]:
    """One envelope's ``count`` chained events, shaped like signer-ceremony events (~480
    bytes of canonical JSON), with the intake, sealing and completion events the document
    check needs."""
    recipient = os.urandom(16).hex()
    events: list[dict[str, Any]] = []
    prev = None
    for i in range(count):
        tag = TAGS[i % len(TAGS)]
        data: dict[str, Any] = {"recipient": recipient, "ip_hash": f"{i:064x}", "attempt": i % 5}
        if i == 0:
            tag = ADDED
            data = {"document": DOCUMENT, "sha256": _sha256(original), "size": len(original)}
        elif i == count - 2:
            tag, data = SEALED, {"document": DOCUMENT, "sha256": _sha256(sealed)}
        elif i == count - 1:
            tag, data = COMPLETED, {}
        event = {
            "v": 1,
            "id": os.urandom(16).hex(),
            "tag": tag,
            "tenant": TENANT,
            "envelope": envelope,
            "seq": i,
            "prev": prev,
            "time": (T0 + timedelta(microseconds=i * 1_000_003)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": f"recipient:{recipient}",
            "data": data,
        }
        events.append(event)
        prev = event_leaf_hash(event).hex()
    return events


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _root_certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench Root")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_bench(count: int) -> Bench:
    envelope = os.urandom(16).hex()
    original, sealed = b"%PDF-1.7 original\n", b"%PDF-1.7 stand-in for a sealed PDF\n"
    events = _events(count, envelope, original, sealed)
    tree = MerkleTree([event_leaf_hash(e) for e in events])
    log_signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    manifest_signer = Ed25519ManifestSigner(Ed25519PrivateKey.generate(), "bench")
    contents = BundleContents(
        envelope=EnvelopeSummary(envelope, TENANT, "Bench", "completed", T0, T0),
        documents=(SealedDocument(DOCUMENT, "a.pdf", _sha256(original), len(original), sealed),),
        events=tuple(
            LedgerEntry(i, e, tuple(tree.inclusion_proof(i))) for i, e in enumerate(events)
        ),
        checkpoint=sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root), [log_signer]),
        jwks={"keys": [manifest_signer.public_jwk()]},
    )
    bundle = build_bundle(contents, manifest_signer, T0 + timedelta(days=1))
    root = _root_certificate()
    trust = TrustStore(
        log_origin=ORIGIN,
        checkpoint_keys=(log_signer.verifier,),
        manifest_keys=(
            ManifestKey("bench", manifest_signer.private_key.public_key().public_bytes_raw()),
        ),
        pdf_roots=(root,),
        tsa_roots=(root,),
    )
    entries = read_container(bundle)
    manifest = Manifest.parse(entries[MANIFEST_NAME])
    return Bench(
        bundle=bundle,
        trust=trust,
        entries=entries,
        manifest=manifest,
        checkpoint=open_checkpoint(entries[CHECKPOINT_NAME], trust.checkpoint_keys, origin=ORIGIN),
        sealed_hashes={d.sealed_path: _sha256(entries[d.sealed_path]) for d in manifest.documents},
    )


def baseline(data: bytes) -> None:
    for line in data[:-1].split(b"\n"):
        json.loads(line)
        hashlib.sha256(line).digest()


def workloads(b: Bench) -> dict[str, Callable[[], Any]]:
    events_data, proofs_data = b.entries[EVENTS_NAME], b.entries[PROOFS_NAME]
    _, decoded_proofs = parse_proofs(proofs_data)
    events = parse_events(events_data)

    def events_and_inclusion() -> None:
        check_inclusion(parse_events(events_data), decoded_proofs, b.checkpoint)

    def ledger_checks() -> None:  # in verify_bundle's order
        _, proofs = parse_proofs(proofs_data)
        parsed = parse_events(events_data)
        check_inclusion(parsed, proofs, b.checkpoint)
        check_event_chain(parsed, b.manifest)
        check_document_events(parsed, b.manifest, b.sealed_hashes)

    return {
        "baseline": lambda: baseline(events_data),
        "events.jsonl + inclusion": events_and_inclusion,
        "all ledger checks": ledger_checks,
        "verify_bundle": lambda: verify_bundle(b.bundle, b.trust),
        # The parts of "all ledger checks":
        "parse_events": lambda: parse_events(events_data),
        "parse_proofs": lambda: parse_proofs(proofs_data),
        "check_inclusion": lambda: check_inclusion(events, decoded_proofs, b.checkpoint),
        "check_event_chain": lambda: check_event_chain(events, b.manifest),
        "check_document_events": lambda: check_document_events(events, b.manifest, b.sealed_hashes),
    }


def fastest(repeat: int, work: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """The fastest of ``repeat`` rounds of each workload, the rounds interleaved."""
    best = dict.fromkeys(work, float("inf"))
    for _ in range(repeat):
        for name, run in work.items():
            gc.collect()  # each run starts with the same garbage collector state
            started = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - started)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="report the fastest round")
    args = parser.parse_args(argv)
    n = args.events

    b = make_bench(n)
    report = verify_bundle(b.bundle, b.trust)
    failed = [c.name for c in report.checks if not c.ok]
    assert failed == ["pdf-signatures"], report.to_text()  # the stand-in PDF has no seal

    times = fastest(args.repeat, workloads(b))
    bare = times.pop("baseline")
    sizes = f"events.jsonl {len(b.entries[EVENTS_NAME]) / n:.0f} B/event, "
    sizes += f"proofs.json {len(b.entries[PROOFS_NAME]) / n:.0f} B/event"
    print(f"offline verifier: {n} events (log of {n}), fastest of {args.repeat} rounds")
    print(f"  CPU time; {sizes}")
    print(f"  {'json.loads + SHA-256 (baseline)':<28} {n / bare:>9,.0f} ev/s")
    for name in ("events.jsonl + inclusion", "all ledger checks", "verify_bundle"):
        print(f"  {name:<28} {n / times[name]:>9,.0f} ev/s   ratio {bare / times[name]:.2f}")
    print("  per event:")
    print(f"    {'baseline':<26} {bare / n * 1e6:6.1f} us")
    for name in (
        "parse_events",
        "parse_proofs",
        "check_inclusion",
        "check_event_chain",
        "check_document_events",
    ):
        print(f"    {name:<26} {times[name] / n * 1e6:6.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
