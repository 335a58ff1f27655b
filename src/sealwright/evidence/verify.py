"""Offline verification of an evidence bundle against a pinned trust file.

``verify_bundle`` never raises for a bad bundle: it returns a report with the eleven checks
of :data:`~sealwright.evidence.report.CHECK_NAMES`, in order. A check whose inputs could
not be established because an earlier check failed is reported as failed, "skipped
because <check> failed": nothing is ever reported as passing that was not checked.

What each check depends on:

    container ─> manifest-signature ─┬─> file-hashes
                                     ├─> checkpoint-signature ─┬─> witness-cosignatures
                                     │                         └─> inclusion-proofs
                                     ├─> event-chain
                                     ├─> document-hashes
                                     ├─> pdf-signatures
                                     ├─> signer-authentication
                                     └─> channel-assertions
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sealwright.errors import SealwrightError, VerificationFailed
from sealwright.evidence.assertion_check import (
    AssertionFindings,
    inspect_assertions,
    summarize,
)
from sealwright.evidence.auth_check import check_signer_authentication
from sealwright.evidence.bundle import CHECKPOINT_NAME, EVENTS_NAME, PROOFS_NAME
from sealwright.evidence.container import read_container
from sealwright.evidence.ledger_checks import (
    BundleEvent,
    check_checkpoint,
    check_document_events,
    check_event_chain,
    check_inclusion,
    parse_events,
    parse_proofs,
)
from sealwright.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME, Manifest
from sealwright.evidence.manifest_jws import verify_manifest_jws
from sealwright.evidence.pdf_check import check_sealed_pdf
from sealwright.evidence.report import CHECK_NAMES, Check, VerificationReport
from sealwright.evidence.trust import TrustStore
from sealwright.ledger.checkpoint import Checkpoint
from sealwright.witness.cosignature import verify_cosignatures

__all__ = ["verify_bundle"]

_DEPENDS_ON = {
    "container": (),
    "manifest-signature": ("container",),
    "file-hashes": ("manifest-signature",),
    "checkpoint-signature": ("manifest-signature",),
    "witness-cosignatures": ("checkpoint-signature",),
    "inclusion-proofs": ("checkpoint-signature",),
    "event-chain": ("manifest-signature",),
    "document-hashes": ("manifest-signature",),
    "pdf-signatures": ("manifest-signature",),
    "signer-authentication": ("manifest-signature",),
    "channel-assertions": ("manifest-signature",),
}
_T = TypeVar("_T")
# Entries every bundle has besides the sealed documents.
_FIXED_ENTRIES = (MANIFEST_NAME, SIGNATURE_NAME, EVENTS_NAME, PROOFS_NAME, CHECKPOINT_NAME)


@dataclass
class _State:
    """What the checks established so far (only ever read after the check that set it passed)."""

    trust: TrustStore
    at: datetime | None
    entries: dict[str, bytes] = field(default_factory=dict)
    manifest: Manifest | None = None
    checkpoint: Checkpoint | None = None
    parsed: dict[str, tuple[bool, Any]] = field(default_factory=dict)
    assertions: AssertionFindings | None = None

    def need_manifest(self) -> Manifest:
        assert self.manifest is not None  # guaranteed by _DEPENDS_ON
        return self.manifest

    def entry(self, name: str) -> bytes:
        if name not in self.entries:
            raise VerificationFailed(f"{name} is missing")
        return self.entries[name]

    def events(self) -> tuple[BundleEvent, ...]:
        """events.jsonl, parsed once for the three checks that read it (a parse error is
        raised again to each of them)."""
        return self._parsed("events", lambda: parse_events(self.entry(EVENTS_NAME)))

    def proofs(self) -> tuple[int, dict[int, tuple[bytes, ...]]]:
        return self._parsed("proofs", lambda: parse_proofs(self.entry(PROOFS_NAME)))

    def _parsed(self, name: str, parse: Callable[[], _T]) -> _T:
        if name not in self.parsed:
            try:
                self.parsed[name] = (True, parse())
            except Exception as exc:  # kept for each check that needs it, then re-raised
                self.parsed[name] = (False, exc)
        ok, result = self.parsed[name]
        if not ok:
            raise result
        return cast(_T, result)


def _container(s: _State, data: bytes) -> str:
    s.entries = read_container(data)
    missing = [name for name in _FIXED_ENTRIES if name not in s.entries]
    if missing:
        raise VerificationFailed(f"missing entries: {', '.join(missing)}")
    return f"{len(s.entries)} entries, canonical layout"


def _manifest_signature(s: _State) -> str:
    kid = verify_manifest_jws(
        s.entry(SIGNATURE_NAME), s.entry(MANIFEST_NAME), s.trust.manifest_key_bytes
    )
    s.manifest = Manifest.parse(s.entry(MANIFEST_NAME))
    return f"manifest.json signed by trusted key {kid!r}"


def _file_hashes(s: _State) -> str:
    listed = dict(s.need_manifest().files)
    present = {n for n in s.entries if n not in (MANIFEST_NAME, SIGNATURE_NAME)}
    problems = [
        f"{n}: in the bundle but not in the manifest" for n in sorted(present - set(listed))
    ]
    problems += [
        f"{n}: in the manifest but not in the bundle" for n in sorted(set(listed) - present)
    ]
    for name in sorted(present & set(listed)):
        if hashlib.sha256(s.entries[name]).hexdigest() != listed[name]:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    if problems:
        raise VerificationFailed("; ".join(problems))
    return f"{len(listed)} files match the manifest"


def _checkpoint_signature(s: _State) -> str:
    tree_size, _ = s.proofs()
    cp = check_checkpoint(s.entry(CHECKPOINT_NAME), s.trust, s.need_manifest(), tree_size)
    s.checkpoint = cp
    return f"checkpoint of {cp.origin!r} at size {cp.size}, signed by the pinned log key"


def _witness_cosignatures(s: _State) -> str:
    """The checkpoint carries cosignatures from at least ``min_witnesses`` of the pinned
    witnesses (C2SP tlog-cosignature): independent parties saw this tree and checked that it
    extends every earlier one they saw, so the log cannot show this envelope a forked or
    rolled-back history without them noticing."""
    assert s.checkpoint is not None  # guaranteed by _DEPENDS_ON
    trust = s.trust
    valid = verify_cosignatures(s.entry(CHECKPOINT_NAME), trust.witnesses)
    names = sorted({c.name for c in valid})
    if len(names) < trust.min_witnesses:
        raise VerificationFailed(
            f"{len(names)} valid cosignature(s) from pinned witnesses"
            f"{' (' + ', '.join(names) + ')' if names else ''}; "
            f"at least {trust.min_witnesses} required"
        )
    if trust.min_witnesses == 0:
        return f"none required; {len(names)} valid from pinned witnesses"
    return f"{len(names)} of {len(trust.witnesses)} pinned witnesses cosigned: {', '.join(names)}"


def _inclusion_proofs(s: _State) -> str:
    assert s.checkpoint is not None  # guaranteed by _DEPENDS_ON
    _, proofs = s.proofs()
    return check_inclusion(s.events(), proofs, s.checkpoint)


def _event_chain(s: _State) -> str:
    return check_event_chain(s.events(), s.need_manifest())


def _document_hashes(s: _State) -> str:
    manifest = s.need_manifest()
    sealed = {
        d.sealed_path: hashlib.sha256(s.entries[d.sealed_path]).hexdigest()
        for d in manifest.documents
        if d.sealed_path in s.entries
    }
    return check_document_events(s.events(), manifest, sealed)


def _pdf_signatures(s: _State) -> str:
    pdf_roots, tsa_roots = s.trust.pdf_root_certificates(), s.trust.tsa_root_certificates()
    summaries = [
        check_sealed_pdf(
            d.sealed_path, s.entry(d.sealed_path), pdf_roots=pdf_roots, tsa_roots=tsa_roots, at=s.at
        )
        for d in s.need_manifest().documents
    ]
    return "; ".join(summaries)


def _channel_assertions(s: _State) -> str:
    s.assertions = inspect_assertions(
        s.entries, s.need_manifest(), s.events(), s.trust.assertion_key_bytes
    )
    return summarize(s.assertions)


def verify_bundle(
    data: bytes, trust: TrustStore, *, at: datetime | None = None
) -> VerificationReport:
    """Verify the evidence bundle ``data`` trusting only ``trust``.

    ``at`` fixes the time at which certificate chains are validated (default: the time in
    each seal's timestamp token). The result's ``ok`` is true only if all checks pass.

    Synchronous and CPU-bound (pyHanko's validator runs its own event loop): from async
    code, call it in a worker thread, not on the running loop.
    """
    state = _State(trust=trust, at=at)
    steps: dict[str, Callable[[], str]] = {
        "container": lambda: _container(state, data),
        "manifest-signature": lambda: _manifest_signature(state),
        "file-hashes": lambda: _file_hashes(state),
        "checkpoint-signature": lambda: _checkpoint_signature(state),
        "witness-cosignatures": lambda: _witness_cosignatures(state),
        "inclusion-proofs": lambda: _inclusion_proofs(state),
        "event-chain": lambda: _event_chain(state),
        "document-hashes": lambda: _document_hashes(state),
        "pdf-signatures": lambda: _pdf_signatures(state),
        "signer-authentication": lambda: check_signer_authentication(state.events()),
        "channel-assertions": lambda: _channel_assertions(state),
    }
    results: dict[str, Check] = {}
    for name in CHECK_NAMES:
        failed = [d for d in _DEPENDS_ON[name] if not results[d].ok]
        if failed:
            results[name] = Check(name, False, f"skipped because {failed[0]} failed")
            continue
        results[name] = _run(name, steps[name])
    envelope_id = state.manifest.envelope.id if state.manifest is not None else None
    listed = () if state.assertions is None else state.assertions.listings
    return VerificationReport(
        envelope_id=envelope_id,
        checks=tuple(results.values()),
        assertions=tuple(a.to_dict() for a in listed),
    )


def _run(name: str, step: Callable[[], Any]) -> Check:
    try:
        return Check(name, True, str(step()))
    except SealwrightError as exc:
        return Check(name, False, str(exc))
    except Exception as exc:  # a verifier must report, not crash, whatever the input
        return Check(name, False, f"could not be checked ({type(exc).__name__}: {exc})")
