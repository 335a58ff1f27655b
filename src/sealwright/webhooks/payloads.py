"""What a webhook carries: ids and hashes of one ledger event, never document contents or
personal data (docs/webhooks.md, "Payload").

The body follows the specification's recommended shape -- ``type``, ``timestamp``,
``data`` -- as compact JSON with sorted keys. ``type`` is the event tag with ``:`` made
``.`` and ``-`` made ``_`` (``api:envelope:sent`` -> ``api.envelope.sent``): hierarchical,
full-stop delimited and unambiguous across sources. ``data`` copies only the fields listed
in ``_COPIED`` out of the event's own data, so a field added to an event tomorrow does not
leak into webhooks by default. Receivers fetch anything else through the API, where the
access is authorised and audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from sealwright.domain.events import EventTag

#: The envelope lifecycle events integrators usually want (the default filter).
LIFECYCLE: tuple[EventTag, ...] = (
    EventTag.ENVELOPE_SENT,
    EventTag.RECIPIENT_SIGNED,
    EventTag.RECIPIENT_DECLINED,
    EventTag.ENVELOPE_DECLINED,
    EventTag.ENVELOPE_COMPLETED,
    EventTag.DOCUMENT_SEALED,
    EventTag.ENVELOPE_VOIDED,
    EventTag.ENVELOPE_EXPIRED,
)
#: Webhook management events are never delivered by webhook (no feedback loops).
NOT_DELIVERED_SUBJECT = "webhook"
MAX_FILTER_ENTRIES = 50
_HEX = re.compile(r"^[0-9a-f]{1,128}$")
_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def event_type(tag: str) -> str:
    return tag.replace(":", ".").replace("-", "_")


def deliverable(tag: str) -> bool:
    parts = tag.split(":")
    return len(parts) == 3 and parts[1] != NOT_DELIVERED_SUBJECT


# -- filters -----------------------------------------------------------------------------------


def parse_filter(entries: Iterable[str]) -> tuple[str, ...]:
    """Validate an event filter: exact tags (``system:envelope:completed``), prefixes
    ending in ``:`` (``signer:recipient:``, ``system:``) or ``*`` for every deliverable
    event. An entry that matches no known tag is an error, not a silent no-op."""
    known = [t.value for t in EventTag if deliverable(t.value)]
    out: list[str] = []
    for raw in entries:
        entry = raw.strip()
        if entry == "*":
            pass
        elif entry.endswith(":"):
            if not any(t.startswith(entry) for t in known):
                raise ValueError(f"the prefix {entry!r} matches no deliverable event")
        elif entry not in known:
            raise ValueError(f"unknown or undeliverable event tag {entry!r}")
        if entry not in out:
            out.append(entry)
    if not out:
        raise ValueError("name at least one event tag or prefix")
    if len(out) > MAX_FILTER_ENTRIES:
        raise ValueError(f"at most {MAX_FILTER_ENTRIES} filter entries")
    return tuple(out)


def matches(filter_entries: Iterable[str], tag: str) -> bool:
    if not deliverable(tag):
        return False
    for entry in filter_entries:
        if entry == "*" or entry == tag or (entry.endswith(":") and tag.startswith(entry)):
            return True
    return False


# -- payloads ----------------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _hex(value: Any) -> str | None:
    return value if isinstance(value, str) and _HEX.fullmatch(value) else None


def _documents(value: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        return None
    out = []
    for item in value[:100]:
        if isinstance(item, Mapping) and _id(item.get("document")) and _hex(item.get("sha256")):
            out.append({"id": item["document"], "sha256": item["sha256"]})
    return out


def _copied(data: Mapping[str, Any]) -> dict[str, Any]:
    """Ids and hashes from the event's data; everything else stays out."""
    out: dict[str, Any] = {}
    if (doc := _id(data.get("document"))) is not None:
        out["document_id"] = doc
    if (digest := _hex(data.get("sha256"))) is not None:
        out["document_sha256"] = digest
    if (docs := _documents(data.get("documents"))) is not None:
        out["documents"] = docs
    if (recipient := _id(data.get("recipient"))) is not None:
        out["recipient_id"] = recipient
    return out


def build_payload(leaf: Mapping[str, Any], *, ledger_index: int, leaf_hash: bytes) -> bytes:
    """The body sent for one ledger event (``leaf`` is the event's canonical JSON, parsed)."""
    data = {
        "event_id": leaf["id"],
        "tag": leaf["tag"],
        "tenant_id": leaf["tenant"],
        "envelope_id": leaf.get("envelope"),
        "ledger_index": ledger_index,
        "leaf_hash": leaf_hash.hex(),
        **_copied(leaf.get("data") or {}),
    }
    body = {"type": event_type(leaf["tag"]), "timestamp": leaf["time"], "data": data}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
