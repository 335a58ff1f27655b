"""Attenuation (B3): the rules by which a token holder mints a narrower token from the one
in hand (RFC 8693 token exchange at ``POST /oauth/token``).

Pure: the web layer parses the request, checks the subject token and the DPoP proof, and
checks against the database that the named envelopes and recipient lie inside the child's
zone; this module decides what the child may hold. Widening anything is refused with the
OAuth error code to answer and a precise reason for the audit log (never the token).
"""

from __future__ import annotations

from dataclasses import dataclass

from sealwright.identity.scopes import Scope, audiences_for, format_names, within
from sealwright.identity.tokens import AccessToken

#: A recipient-bound signing token (a signing link) lives at most this long.
SIGNING_LINK_MAX_TTL = 600


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """What the caller asked for; None means "as the subject token has it"."""

    scopes: frozenset[Scope] | None = None
    audiences: frozenset[str] | None = None
    folders: frozenset[str] | None = None
    envelopes: frozenset[str] | None = None
    recipient: str | None = None
    lifetime: int | None = None
    single_use: bool | None = None
    #: The thumbprint of the key that signed the request's DPoP proof, if any.
    proof_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class Child:
    """What the child token will hold."""

    scopes: frozenset[Scope]
    audiences: frozenset[str]
    folders: frozenset[str] | None
    envelopes: frozenset[str] | None
    recipient: str | None
    single_use: bool
    expires_at: int
    jkt: str | None


class Refused(Exception):
    """The exchange is refused: ``error`` is the OAuth error code, ``reason`` the detail
    for the audit log."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


def attenuate(parent: AccessToken, req: ExchangeRequest, *, now: int, max_ttl: int) -> Child:
    scopes = parent.scopes if req.scopes is None else req.scopes
    if not scopes:
        raise Refused("invalid_scope", "no scope requested")
    if extra := scopes - parent.scopes:
        names = " ".join(sorted(s.value for s in extra))
        raise Refused("invalid_scope", f"widening: scope {names} not held by the subject token")
    # By default the child is meant only for the services its scopes concern.
    needed = parent.audiences & audiences_for(scopes)
    audiences = (needed or parent.audiences) if req.audiences is None else req.audiences
    if not audiences or not audiences <= parent.audiences:
        raise Refused("invalid_target", "widening: audience not held by the subject token")
    folders = parent.folders if req.folders is None else req.folders
    if not within(folders, parent.folders):
        raise Refused(
            "invalid_request",
            f"widening: folders {format_names(folders) or 'all'} beyond "
            f"{format_names(parent.folders)}",
        )
    envelopes = parent.envelopes if req.envelopes is None else req.envelopes
    if not within(envelopes, parent.envelopes):
        raise Refused("invalid_request", "widening: envelopes beyond the subject token's")
    recipient = parent.recipient if req.recipient is None else req.recipient
    if parent.recipient is not None and recipient != parent.recipient:
        raise Refused("invalid_request", "widening: another recipient than the subject token's")
    if recipient is not None and (envelopes is None or len(envelopes) != 1):
        raise Refused("invalid_request", "a recipient restriction needs exactly one envelope")
    if parent.single_use and req.single_use is False:
        raise Refused("invalid_request", "widening: the subject token is single-use")
    single_use = bool(parent.single_use or req.single_use or (req.single_use is None and recipient))
    jkt = parent.jkt
    if jkt is not None and req.proof_jkt != jkt:
        raise Refused("invalid_dpop_proof", "the subject token is bound to another DPoP key")
    if jkt is None:
        jkt = req.proof_jkt  # binding a child to a key only narrows it
    remaining = parent.expires_at - now
    cap = min(max_ttl, SIGNING_LINK_MAX_TTL if recipient is not None else max_ttl)
    if req.lifetime is not None:
        if req.lifetime <= 0:
            raise Refused("invalid_request", "expires_in must be positive")
        if req.lifetime > remaining:
            raise Refused("invalid_request", "widening: lifetime beyond the subject token's")
        if req.lifetime > cap:
            raise Refused("invalid_request", f"this token may live at most {cap} seconds")
        lifetime = req.lifetime
    else:
        lifetime = min(remaining, cap)
    if lifetime <= 0:
        raise Refused("invalid_request", "the subject token has expired")
    return Child(
        scopes=scopes,
        audiences=audiences,
        folders=folders,
        envelopes=envelopes,
        recipient=recipient,
        single_use=single_use,
        expires_at=now + lifetime,
        jkt=jkt,
    )
