"""The channel-assertions check of bundle verification (docs/assertions.md).

For each ``assertions/NNN-<channel>.jws`` of a bundle this check establishes that

* it is an assertion signed by a key the trust file pins as an *assertion* key
  (``assertion_keys``; manifest or token keys are never accepted) and its claims are well
  formed (channels/assertions.py), with the channel its file name says;
* it binds this envelope and the hashes of this bundle's original documents (the bytes
  each sealed PDF was made from, ``manifest.documents[].sha256``);
* a ``system:assertion:issued`` event of this envelope names it: same assertion id,
  channel and result, and the SHA-256 of exactly these bytes;
* it names the recipient that event names: the event's ``subject`` (pseudonymous id) equals
  the claims' ``sub``, that recipient appears in the envelope's other events, and
  recipients and pseudonymous ids correspond one to one throughout the bundle;

and that every assertion the ledger says was issued is in the bundle. Failures name the
assertion file (and its id where it could be read). Bundles without assertions and without
such events pass ("no assertions"), so older bundles verify as they always did.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sealwright.channels.assertions import verify_assertion
from sealwright.errors import VerificationFailed
from sealwright.evidence.bundle import ASSERTIONS_DIR
from sealwright.evidence.ledger_checks import BundleEvent
from sealwright.evidence.manifest import Manifest

__all__ = ["ISSUED", "AssertionListing", "inspect_assertions", "summarize"]

ISSUED = "system:assertion:issued"
_NAME = re.compile(r"assertions/(\d{3})-([a-z][a-z0-9-]{0,31})\.jws")
_MAX_LISTED = 10


@dataclass(frozen=True, slots=True)
class AssertionListing:
    """One assertion as ``sealwright verify --json`` lists it."""

    file: str
    id: str | None
    channel: str | None
    result: str | None
    recipient: str | None
    kid: str | None
    ok: bool
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "id": self.id,
            "channel": self.channel,
            "result": self.result,
            "recipient": self.recipient,
            "kid": self.kid,
            "ok": self.ok,
            "problems": list(self.problems),
        }


@dataclass(frozen=True, slots=True)
class AssertionFindings:
    listings: tuple[AssertionListing, ...]
    #: Problems not tied to one file (e.g. an issued assertion missing from the bundle).
    general: tuple[str, ...]


def inspect_assertions(
    entries: Mapping[str, bytes],
    manifest: Manifest,
    events: Sequence[BundleEvent],
    assertion_keys: Mapping[str, bytes],
) -> AssertionFindings:
    envelope = manifest.envelope.id
    doc_hashes = {d.sha256 for d in manifest.documents}
    issued: dict[str, Mapping[str, Any]] = {}
    named_recipients: set[str] = set()
    for e in events:
        data = e.event.get("data")
        if not isinstance(data, Mapping) or e.event.get("envelope") != envelope:
            continue
        if e.event.get("tag") == ISSUED:
            if isinstance(data.get("assertion"), str):
                issued.setdefault(data["assertion"], data)
        elif isinstance(data.get("recipient"), str):
            named_recipients.add(data["recipient"])
    files = sorted(n for n in entries if n.startswith(ASSERTIONS_DIR))
    listings: list[AssertionListing] = []
    subjects: dict[str, str] = {}  # recipient -> pseudonymous id
    owners: dict[str, str] = {}  # pseudonymous id -> recipient
    seen: set[str] = set()
    for position, name in enumerate(files, start=1):
        listing = _inspect(
            name,
            position,
            entries[name],
            envelope,
            doc_hashes,
            issued,
            named_recipients,
            assertion_keys,
        )
        jti = listing.id
        if jti is not None:
            if jti in seen:
                listing = _failed(listing, f"assertion {jti} appears twice")
            seen.add(jti)
            event = issued.get(jti)
            recipient = listing.recipient
            if recipient is not None and event is not None:
                subject = str(event.get("subject"))
                if subjects.setdefault(recipient, subject) != subject:
                    listing = _failed(listing, f"recipient {recipient} has two pseudonymous ids")
                if owners.setdefault(subject, recipient) != recipient:
                    listing = _failed(listing, "its pseudonymous id names two recipients")
        listings.append(listing)
    general = [
        f"the ledger names assertion {jti} ({data.get('channel')}) but the bundle lacks it"
        for jti, data in issued.items()
        if jti not in seen
    ]
    if files and not assertion_keys:
        general.insert(0, "the trust file pins no assertion keys (assertion_keys)")
    return AssertionFindings(tuple(listings), tuple(general))


def summarize(findings: AssertionFindings) -> str:
    """The check's one-line detail; raises :class:`VerificationFailed` listing problems."""
    problems = [
        f"{item.file}{f' ({item.id})' if item.id else ''}: {p}"
        for item in findings.listings
        for p in item.problems
    ]
    problems += findings.general
    if problems:
        shown = problems[:_MAX_LISTED]
        if len(problems) > _MAX_LISTED:
            shown.append(f"and {len(problems) - _MAX_LISTED} more")
        raise VerificationFailed("; ".join(shown))
    if not findings.listings:
        return "no assertions in this bundle"
    channels = sorted({i.channel or "" for i in findings.listings})
    return (
        f"{len(findings.listings)} assertion(s) ({', '.join(channels)}) signed by trusted "
        "assertion keys, bound to the documents, the recipients and their ledger events"
    )


def _failed(listing: AssertionListing, problem: str) -> AssertionListing:
    return AssertionListing(
        file=listing.file,
        id=listing.id,
        channel=listing.channel,
        result=listing.result,
        recipient=listing.recipient,
        kid=listing.kid,
        ok=False,
        problems=(*listing.problems, problem),
    )


def _inspect(
    name: str,
    position: int,
    data: bytes,
    envelope: str,
    doc_hashes: set[str],
    issued: Mapping[str, Mapping[str, Any]],
    named_recipients: set[str],
    keys: Mapping[str, bytes],
) -> AssertionListing:
    match = _NAME.fullmatch(name)
    listing = AssertionListing(name, None, None, None, None, None, True)
    if match is None or int(match.group(1)) != position:
        return _failed(listing, f"entry name is not assertions/{position:03d}-<channel>.jws")
    try:
        kid, claims = verify_assertion(data.decode("ascii"), keys)
    except UnicodeDecodeError:
        return _failed(listing, "not ASCII")
    except VerificationFailed as exc:
        return _failed(listing, str(exc))
    event = issued.get(claims.jti)
    listing = AssertionListing(
        file=name,
        id=claims.jti,
        channel=claims.channel,
        result=claims.result.value,
        recipient=None if event is None else str(event.get("recipient")),
        kid=kid,
        ok=True,
    )
    problems: list[str] = []
    if claims.channel != match.group(2):
        problems.append(f"channel {claims.channel!r} differs from its file name")
    if claims.envelope != envelope:
        problems.append(f"binds envelope {claims.envelope}, not this one")
    foreign = [h for h in claims.documents if h not in doc_hashes]
    if foreign:
        problems.append(f"binds document hash {foreign[0][:16]}..., not a document of this bundle")
    if event is None:
        problems.append(f"no {ISSUED} event names it")
    else:
        if event.get("sha256") != hashlib.sha256(data).hexdigest():
            problems.append(f"its SHA-256 differs from the one its {ISSUED} event records")
        if event.get("channel") != claims.channel or event.get("result") != claims.result.value:
            problems.append(f"channel or result differs from its {ISSUED} event")
        if event.get("subject") != claims.sub:
            problems.append(
                f"names another recipient (sub) than its event's recipient {event.get('recipient')}"
            )
        if event.get("recipient") not in named_recipients:
            problems.append(f"recipient {event.get('recipient')} appears in no other event")
    for p in problems:
        listing = _failed(listing, p)
    return listing
