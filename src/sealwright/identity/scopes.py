"""API scopes, audiences and folders: what an access token lets its holder do (B1, B2).

Deny by default. A token names the actions it may take (``scope``), the services that
accept it (``aud``), and optionally the zones it may touch: folders (security zones
within a tenant) and single envelopes. Absent restrictions mean "every folder / envelope
of the token's tenant"; an empty restriction is never issued (it would grant nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    ENVELOPES_READ = "envelopes:read"
    ENVELOPES_WRITE = "envelopes:write"
    ENVELOPES_SEND = "envelopes:send"
    ENVELOPES_VOID = "envelopes:void"
    EVIDENCE_READ = "evidence:read"
    #: Webhook endpoints, their deliveries and dead letters (G2); tenant-wide.
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    #: View the documents of one envelope as one recipient (signing links, B3).
    SIGNING_VIEW = "signing:view"
    #: Sign as one recipient; the signer still passes every authentication method required.
    SIGNING_SIGN = "signing:sign"
    #: Verify signed QR codes online (C4): own and partner keys; tenant-neutral.
    QR_VERIFY = "qr:verify"


ALL_SCOPES = frozenset(Scope)

#: The REST API (``/v1``) accepts tokens whose ``aud`` includes this.
API_AUDIENCE = "sealwright-api"
#: The signer pages accept recipient-bound signing tokens (``/embedded/sign``) with this.
SIGNING_AUDIENCE = "sealwright-signing"
AUDIENCES = frozenset({API_AUDIENCE, SIGNING_AUDIENCE})
SIGNING_SCOPES = frozenset({Scope.SIGNING_VIEW, Scope.SIGNING_SIGN})

#: Envelopes are created in this folder unless the request names another.
DEFAULT_FOLDER = "general"
FOLDER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"
_FOLDER = re.compile(FOLDER_PATTERN)
#: Envelope ids are uuid4 hex; a restriction may name at most this many.
MAX_ENVELOPES = 100
_ENVELOPE_ID = re.compile(r"^[0-9a-f]{32}$")


def parse_scopes(text: str) -> frozenset[Scope]:
    """Space-separated scope names; unknown names are an error, not silently dropped."""
    out: set[Scope] = set()
    for word in text.split():
        try:
            out.add(Scope(word))
        except ValueError:
            raise ValueError(f"unknown scope {word!r}") from None
    return frozenset(out)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))


def audiences_for(scopes: Iterable[Scope]) -> frozenset[str]:
    """The audiences a token holding ``scopes`` needs: the API for envelope and evidence
    scopes, the signing pages for signing scopes (the API when it holds none at all)."""
    scopes = frozenset(scopes)
    out = set()
    if scopes - SIGNING_SCOPES or not scopes:
        out.add(API_AUDIENCE)
    if scopes & SIGNING_SCOPES:
        out.add(SIGNING_AUDIENCE)
    return frozenset(out)


def is_folder_name(name: object) -> bool:
    return isinstance(name, str) and _FOLDER.fullmatch(name) is not None


def is_envelope_id(value: object) -> bool:
    return isinstance(value, str) and _ENVELOPE_ID.fullmatch(value) is not None


def parse_folders(text: str) -> frozenset[str]:
    """Space-separated folder names (lower case, digits, ``-`` and ``_``, up to 50)."""
    names = frozenset(text.split())
    for name in sorted(names):
        if not is_folder_name(name):
            raise ValueError(f"invalid folder name {name!r}")
    if not names:
        raise ValueError("name at least one folder")
    return names


def parse_envelope_ids(text: str) -> frozenset[str]:
    ids = frozenset(text.split())
    for value in sorted(ids):
        if not is_envelope_id(value):
            raise ValueError(f"invalid envelope id {value[:40]!r}")
    if not ids or len(ids) > MAX_ENVELOPES:
        raise ValueError(f"name between 1 and {MAX_ENVELOPES} envelopes")
    return ids


def format_names(names: frozenset[str] | None) -> str | None:
    """Canonical text of a folder or envelope restriction; None (no restriction) stays."""
    return None if names is None else " ".join(sorted(names))


def within(child: frozenset[str] | None, parent: frozenset[str] | None) -> bool:
    """Is the restriction ``child`` at most as wide as ``parent``? None means unrestricted."""
    if parent is None:
        return True
    return child is not None and child <= parent


def allows(restriction: frozenset[str] | None, value: str) -> bool:
    return restriction is None or value in restriction
