"""verify_bundle end to end: a valid bundle passes; each kind of tampering fails the check
that is responsible for it, with a detail that names what failed."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_world import (
    DOC_ID,
    ENVELOPE_A,
    EXPORTED_AT,
    ORIGIN,
    World,
    contents_for,
    make_ca,
    make_ledger,
    make_trust,
    recontain,
    resign,
)

from sealwright.evidence import CHECK_NAMES, VerificationReport, build_bundle, verify_bundle
from sealwright.evidence.container import read_container
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner
from sealwright.evidence.trust import ManifestKey
from sealwright.ledger.canonical import canonicalize, parse_canonical
from sealwright.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from sealwright.ledger.note import parse_note

PDF_PATH = f"documents/{DOC_ID}.sealed.pdf"


def failed(report: VerificationReport) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if not c.ok}


def assert_only(report: VerificationReport, *names: str) -> dict[str, str]:
    """Exactly the checks ``names`` failed (and nothing was skipped)."""
    fails = failed(report)
    assert set(fails) == set(names), report.to_text()
    assert not report.ok
    return fails


def edit_lines(data: bytes, edit: Any) -> bytes:
    lines = [parse_canonical(line) for line in data.splitlines()]
    edit(lines)
    return b"".join(canonicalize(x) + b"\n" for x in lines)


# -- the valid bundle ---------------------------------------------------------------------


def test_valid_bundle_passes_every_check(world: World) -> None:
    report = verify_bundle(world.bundle, world.trust)
    assert report.ok, report.to_text()
    assert tuple(c.name for c in report.checks) == CHECK_NAMES
    assert report.envelope_id == ENVELOPE_A


def test_bundle_layout(world: World) -> None:
    entries = read_container(world.bundle)
    assert sorted(entries) == [
        PDF_PATH,
        "keys/certificates.pem",
        "keys/jwks.json",
        "ledger/checkpoint.txt",
        "ledger/events.jsonl",
        "ledger/proofs.json",
        "manifest.json",
        "manifest.jws",
    ]
    manifest = parse_canonical(entries["manifest.json"])
    assert manifest["format"] == "sealwright-evidence/1"
    assert set(manifest["files"]) == set(entries) - {"manifest.json", "manifest.jws"}
    assert manifest["ledger"] == {"origin": ORIGIN, "tree_size": len(world.ledger.events)}
    assert manifest["exported_at"] == "2025-03-02T12:00:00.000000Z"
    assert manifest["documents"][0]["sealed_sha256"] == hashlib.sha256(world.sealed_pdf).hexdigest()
    header = json.loads(base64.urlsafe_b64decode(entries["manifest.jws"].split(b".")[0] + b"=="))
    assert header == {"alg": "Ed25519", "kid": "evidence-2025", "typ": "sealwright-manifest+jws"}
    lines = entries["ledger/events.jsonl"].splitlines()
    assert [parse_canonical(x)["index"] for x in lines] == [0, 2, 4, 6, 7, 8]
    proofs = parse_canonical(entries["ledger/proofs.json"])
    assert set(proofs["inclusion"]) == {"0", "2", "4", "6", "7", "8"}


def test_building_is_deterministic(world: World) -> None:
    again = build_bundle(world.contents, world.manifest_signer, EXPORTED_AT)
    assert again == world.bundle  # Ed25519 is deterministic, and so is the container


def test_report_rendering(world: World) -> None:
    report = verify_bundle(world.bundle, world.trust)
    text = report.to_text()
    assert text.splitlines()[0] == f"Evidence bundle for envelope {ENVELOPE_A}"
    assert [line.split()[:2] for line in text.splitlines()[1:-1]] == [
        ["PASS", name] for name in CHECK_NAMES
    ]
    assert text.splitlines()[-1] == "RESULT: VERIFIED"
    as_dict = report.to_dict()
    assert as_dict["ok"] is True
    assert [c["name"] for c in as_dict["checks"]] == list(CHECK_NAMES)
    json.dumps(as_dict)  # serialisable for --json


def test_a_failed_report_says_so(world: World) -> None:
    report = verify_bundle(b"", world.trust)
    assert report.to_text().splitlines()[-1] == "RESULT: NOT VERIFIED"
    assert report.to_dict()["ok"] is False
    assert report.envelope_id is None


# -- the container and the manifest --------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"PK", b"not a zip at all", b"PK\x05\x06" + bytes(18)])
def test_garbage_is_reported_not_raised(world: World, data: bytes) -> None:
    report = verify_bundle(data, world.trust)
    assert failed(report)["container"]
    assert all(
        d.startswith("skipped because") for n, d in failed(report).items() if n != "container"
    )


def test_missing_entry(world: World) -> None:
    bundle = recontain(world.bundle, {"ledger/proofs.json": None})
    fails = verify_bundle(bundle, world.trust)
    assert "ledger/proofs.json" in failed(fails)["container"]


def test_edited_manifest_fails_its_signature(world: World) -> None:
    entries = read_container(world.bundle)
    manifest = entries["manifest.json"].replace(b"Supply agreement", b"Supply agreemenT")
    bundle = recontain(world.bundle, {"manifest.json": manifest})
    fails = failed(verify_bundle(bundle, world.trust))
    assert "payload is not the manifest.json bytes" in fails["manifest-signature"]
    assert fails["file-hashes"] == "skipped because manifest-signature failed"


def test_altered_signature_fails(world: World) -> None:
    token = read_container(world.bundle)["manifest.jws"]
    head, payload, sig = token.split(b".")
    sig = (b"A" if sig[:1] != b"A" else b"B") + sig[1:]
    bundle = recontain(world.bundle, {"manifest.jws": b".".join([head, payload, sig])})
    assert "does not verify" in failed(verify_bundle(bundle, world.trust))["manifest-signature"]


def test_manifest_signed_by_an_unpinned_key_fails(world: World) -> None:
    rogue = Ed25519ManifestSigner(Ed25519PrivateKey.generate(), world.manifest_signer.kid)
    bundle = resign(world.bundle, rogue, {})
    assert "does not verify" in failed(verify_bundle(bundle, world.trust))["manifest-signature"]
    other_kid = Ed25519ManifestSigner(Ed25519PrivateKey.generate(), "someone-else")
    bundle = resign(world.bundle, other_kid, {})
    assert (
        "not in the trusted JWKS"
        in failed(verify_bundle(bundle, world.trust))["manifest-signature"]
    )


def test_wrong_manifest_key_in_trust(world: World) -> None:
    other = ManifestKey(world.manifest_signer.kid, bytes(32))
    trust = dataclasses.replace(world.trust, manifest_keys=(other,))
    assert_only(verify_bundle(world.bundle, trust), *CHECK_NAMES[1:])


def test_changed_file_without_resigning_fails_file_hashes(world: World) -> None:
    bundle = recontain(world.bundle, {"keys/certificates.pem": b"nothing to see\n"})
    fails = assert_only(verify_bundle(bundle, world.trust), "file-hashes")
    assert fails["file-hashes"] == "keys/certificates.pem: SHA-256 differs from the manifest"


def test_added_file_fails_file_hashes(world: World) -> None:
    bundle = recontain(world.bundle, {"notes.txt": b"trust me\n"})
    fails = assert_only(verify_bundle(bundle, world.trust), "file-hashes")
    assert "notes.txt: in the bundle but not in the manifest" in fails["file-hashes"]


def test_changed_event_line_without_resigning_fails_file_hashes(world: World) -> None:
    events = read_container(world.bundle)["ledger/events.jsonl"]
    bundle = recontain(world.bundle, {"ledger/events.jsonl": events.replace(b"r1", b"r2", 1)})
    fails = failed(verify_bundle(bundle, world.trust))
    assert "ledger/events.jsonl: SHA-256 differs" in fails["file-hashes"]
    assert "event at index 4" in fails["inclusion-proofs"]


# -- the ledger ----------------------------------------------------------------------------


def test_tampered_event_fails_inclusion(world: World) -> None:
    def edit(lines: list[dict[str, Any]]) -> None:
        lines[2]["event"]["data"]["recipient"] = "r2"

    events = edit_lines(read_container(world.bundle)["ledger/events.jsonl"], edit)
    bundle = resign(world.bundle, world.manifest_signer, {"ledger/events.jsonl": events})
    fails = failed(verify_bundle(bundle, world.trust))
    assert "event at index 4: not in the log" in fails["inclusion-proofs"]
    # The next event's prev no longer matches the edited event either.
    assert "event at index 6: prev does not match the leaf hash of index 4" in fails["event-chain"]
    assert set(fails) == {"inclusion-proofs", "event-chain"}


def test_tampered_proof_fails_inclusion(world: World) -> None:
    proofs = parse_canonical(read_container(world.bundle)["ledger/proofs.json"])
    node = bytearray(base64.b64decode(proofs["inclusion"]["6"][1]))
    node[0] ^= 1
    proofs["inclusion"]["6"][1] = base64.b64encode(bytes(node)).decode()
    bundle = resign(
        world.bundle, world.manifest_signer, {"ledger/proofs.json": canonicalize(proofs)}
    )
    fails = assert_only(verify_bundle(bundle, world.trust), "inclusion-proofs")
    assert fails["inclusion-proofs"].startswith("event at index 6: not in the log")


def test_missing_proof(world: World) -> None:
    proofs = parse_canonical(read_container(world.bundle)["ledger/proofs.json"])
    del proofs["inclusion"]["7"]
    bundle = resign(
        world.bundle, world.manifest_signer, {"ledger/proofs.json": canonicalize(proofs)}
    )
    fails = assert_only(verify_bundle(bundle, world.trust), "inclusion-proofs")
    assert fails["inclusion-proofs"] == "event at index 7: no inclusion proof"


def test_checkpoint_with_changed_root_fails(world: World) -> None:
    note = world.contents.checkpoint
    body = parse_note(note).text
    cp = Checkpoint.from_body(body)
    forged = note.replace(body, Checkpoint(cp.origin, cp.size, bytes(32)).to_body())
    bundle = resign(world.bundle, world.manifest_signer, {"ledger/checkpoint.txt": forged.encode()})
    fails = failed(verify_bundle(bundle, world.trust))
    assert "invalid signature for key" in fails["checkpoint-signature"]
    assert fails["inclusion-proofs"] == "skipped because checkpoint-signature failed"


def test_checkpoint_signed_by_another_key_fails(world: World) -> None:
    rogue = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    tree = world.ledger.tree()
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root), [rogue])
    bundle = resign(world.bundle, world.manifest_signer, {"ledger/checkpoint.txt": note.encode()})
    fails = assert_only(
        verify_bundle(bundle, world.trust),
        "checkpoint-signature",
        "witness-cosignatures",
        "inclusion-proofs",
    )
    assert "no verifiable signature from a known key" in fails["checkpoint-signature"]


def test_trust_pins_another_log(world: World) -> None:
    other = NoteSigner("other.test/log", Ed25519PrivateKey.generate())
    trust = dataclasses.replace(
        world.trust, log_origin="other.test/log", checkpoint_keys=(other.verifier,)
    )
    fails = assert_only(
        verify_bundle(world.bundle, trust),
        "checkpoint-signature",
        "witness-cosignatures",
        "inclusion-proofs",
    )
    assert "ledger/checkpoint.txt" in fails["checkpoint-signature"]


def test_trust_with_log_key_under_another_origin(world: World) -> None:
    # The right key, but the auditor expects a different origin line.
    renamed = NoteSigner("other.test/log", world.log_signer.private_key)
    trust = dataclasses.replace(
        world.trust, log_origin="other.test/log", checkpoint_keys=(renamed.verifier,)
    )
    assert_only(
        verify_bundle(world.bundle, trust),
        "checkpoint-signature",
        "witness-cosignatures",
        "inclusion-proofs",
    )


def test_tree_size_mismatch_between_manifest_and_checkpoint(world: World) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["ledger"]["tree_size"] = 11

    bundle = resign(world.bundle, world.manifest_signer, {}, manifest_edit=edit)
    fails = assert_only(
        verify_bundle(bundle, world.trust),
        "checkpoint-signature",
        "witness-cosignatures",
        "inclusion-proofs",
    )
    assert "checkpoint size 10 != manifest ledger.tree_size 11" in fails["checkpoint-signature"]


def test_tree_size_mismatch_in_proofs(world: World) -> None:
    proofs = parse_canonical(read_container(world.bundle)["ledger/proofs.json"])
    proofs["tree_size"] = 9
    bundle = resign(
        world.bundle, world.manifest_signer, {"ledger/proofs.json": canonicalize(proofs)}
    )
    fails = assert_only(
        verify_bundle(bundle, world.trust),
        "checkpoint-signature",
        "witness-cosignatures",
        "inclusion-proofs",
    )
    assert "ledger/proofs.json tree_size 9" in fails["checkpoint-signature"]


def test_event_of_another_envelope_fails_the_chain(world: World) -> None:
    contents = contents_for(
        world.ledger,
        envelope=ENVELOPE_A,
        documents=world.contents.documents,
        log_signer=world.log_signer,
        jwks=dict(world.contents.jwks),
        pki=world.pki,
        pick=lambda e: e["envelope"] == ENVELOPE_A or e["tag"] == "signer:otp:failed",
    )
    bundle = build_bundle(contents, world.manifest_signer, EXPORTED_AT)
    fails = assert_only(verify_bundle(bundle, world.trust), "event-chain")
    assert "event at index 5: envelope 'env-b' is not 'env-a'" in fails["event-chain"]


def test_withheld_event_fails_the_chain(world: World) -> None:
    contents = contents_for(
        world.ledger,
        envelope=ENVELOPE_A,
        documents=world.contents.documents,
        log_signer=world.log_signer,
        jwks=dict(world.contents.jwks),
        pki=world.pki,
        pick=lambda e: e["envelope"] == ENVELOPE_A and e["tag"] != "signer:otp:passed",
    )
    bundle = build_bundle(contents, world.manifest_signer, EXPORTED_AT)
    fails = assert_only(verify_bundle(bundle, world.trust), "event-chain")
    assert "event at index 6: seq is 3, expected 2" in fails["event-chain"]
    assert "event at index 6: prev does not match the leaf hash of index 2" in fails["event-chain"]


def test_incomplete_envelope_fails_document_hashes(world: World) -> None:
    ledger = make_ledger(world.original_pdf, world.sealed_pdf, complete=False)
    contents = contents_for(
        ledger,
        envelope=ENVELOPE_A,
        documents=world.contents.documents,
        log_signer=world.log_signer,
        jwks=dict(world.contents.jwks),
        pki=world.pki,
    )
    bundle = build_bundle(contents, world.manifest_signer, EXPORTED_AT)
    fails = assert_only(verify_bundle(bundle, world.trust), "document-hashes")
    assert fails["document-hashes"] == "no system:envelope:completed event"


def test_original_hash_differs_from_intake_event(world: World) -> None:
    doc = dataclasses.replace(world.contents.documents[0], sha256="0" * 64)
    contents = dataclasses.replace(world.contents, documents=(doc,))
    bundle = build_bundle(contents, world.manifest_signer, EXPORTED_AT)
    fails = assert_only(verify_bundle(bundle, world.trust), "document-hashes")
    assert fails["document-hashes"] == (
        "document doc-1: original sha256/size differ from api:document:added at index 2"
    )


# -- the sealed PDF ------------------------------------------------------------------------


def test_changed_pdf_byte_fails_pdf_and_document_checks(world: World) -> None:
    pdf = bytearray(world.sealed_pdf)
    position = pdf.index(b"ReportLab")
    pdf[position] ^= 0x20  # "ReportLab" -> "reportLab" in the info dictionary: signed bytes
    bundle = resign(world.bundle, world.manifest_signer, {PDF_PATH: bytes(pdf)})
    fails = assert_only(verify_bundle(bundle, world.trust), "document-hashes", "pdf-signatures")
    assert (
        f"{PDF_PATH}: signature 'SealwrightSeal': signed bytes modified" in fails["pdf-signatures"]
    )
    assert f"{PDF_PATH} is not the PDF sealed at index 7" in fails["document-hashes"]


def test_unpinned_pdf_root_fails(world: World) -> None:
    trust = dataclasses.replace(world.trust, pdf_roots=(make_ca("Other CA").pem,))
    fails = assert_only(verify_bundle(world.bundle, trust), "pdf-signatures")
    assert "signer not trusted to pdf_roots" in fails["pdf-signatures"]
    assert "timestamp" not in fails["pdf-signatures"]


def test_unpinned_tsa_root_fails(world: World) -> None:
    trust = dataclasses.replace(world.trust, tsa_roots=(make_ca("Other TSA CA").pem,))
    fails = assert_only(verify_bundle(world.bundle, trust), "pdf-signatures")
    assert (
        "signature timestamp not intact, valid and trusted to tsa_roots" in fails["pdf-signatures"]
    )


def test_trust_roots_swapped_fail(world: World) -> None:
    trust = make_trust(
        world.pki,
        world.log_signer,
        world.manifest_signer,
        pdf_roots=world.trust.tsa_roots,
        tsa_roots=world.trust.pdf_roots,
    )
    assert_only(verify_bundle(world.bundle, trust), "pdf-signatures")
