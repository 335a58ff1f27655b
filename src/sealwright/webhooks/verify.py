"""Verifying a webhook, for receivers (and for Sealwright's own tests).

Usage (see ``docs/webhooks.md``)::

    verifier = WebhookVerifier([parse_verification_key("whsec_...")])
    verifier.verify(raw_body_bytes, request_headers)      # raises WebhookVerificationError

Checks, in order: the three headers are present and well-formed; the timestamp lies within
``tolerance`` seconds of now (replay protection); at least one listed signature, of a
version the verifier holds a key for, matches -- HMAC compared in constant time, Ed25519
checked by pyca/cryptography. Unknown versions and malformed entries in the list are
skipped, as the specification asks, so a sender may add schemes later. Every failure raises
the same exception; ``reason`` says which check failed, for the receiver's own logs.

Deduplicating by ``webhook-id`` (the same on every retry of one delivery) is left to the
receiver, which knows how long it keeps ids.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sealwright.errors import ValidationError, VerificationFailed
from sealwright.webhooks.keys import VerificationKey
from sealwright.webhooks.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_msg_id,
    parse_timestamp,
    signed_content,
)

DEFAULT_TOLERANCE = 300
#: A header longer than this is refused before any work (a sender lists a few keys).
MAX_SIGNATURE_HEADER = 4096


class WebhookVerificationError(VerificationFailed):
    code = "webhook-verification-failed"

    def __init__(self, reason: str) -> None:
        super().__init__("webhook verification failed")
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    msg_id: str
    timestamp: int
    #: The version of the signature that matched (``v1`` or ``v1a``).
    version: str


class WebhookVerifier:
    def __init__(self, keys: Sequence[VerificationKey], *, tolerance: int = DEFAULT_TOLERANCE):
        if not keys:
            raise ValueError("a verifier needs at least one key")
        self._keys = tuple(keys)
        self._tolerance = tolerance

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Verified:
        return self.verify_at_time(body, headers, now=int(time.time()))

    def verify_at_time(self, body: bytes, headers: Mapping[str, str], *, now: int) -> Verified:
        """As :meth:`verify`, at an explicit time (Unix seconds)."""
        lower = {k.lower(): v for k, v in headers.items()}
        msg_id = lower.get(ID_HEADER)
        stamp = lower.get(TIMESTAMP_HEADER)
        listed = lower.get(SIGNATURE_HEADER)
        if not msg_id or not stamp or not listed:
            raise WebhookVerificationError("missing webhook-id, -timestamp or -signature")
        if len(listed) > MAX_SIGNATURE_HEADER:
            raise WebhookVerificationError("webhook-signature too long")
        try:
            check_msg_id(msg_id)
            timestamp = parse_timestamp(stamp)
        except ValidationError:
            raise WebhookVerificationError("malformed webhook-id or webhook-timestamp") from None
        if timestamp < now - self._tolerance:
            raise WebhookVerificationError("timestamp too old")
        if timestamp > now + self._tolerance:
            raise WebhookVerificationError("timestamp too new")
        content = signed_content(msg_id, timestamp, body)
        for entry in listed.split(" "):
            version, comma, encoded = entry.partition(",")
            if not comma or not encoded:
                continue
            try:
                signature = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            for key in self._keys:
                if key.version == version and key.check(content, signature):
                    return Verified(msg_id, timestamp, version)
        raise WebhookVerificationError("no matching signature")
