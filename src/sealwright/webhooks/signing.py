"""Signing a webhook (Standard Webhooks 1.0, "Signature scheme" and "Webhook headers").

The signed content is ``webhook-id "." webhook-timestamp "." body`` over the exact body
bytes sent. ``webhook-signature`` is a space-separated list of ``<version>,<base64>``: one
per key, so that during a secret rotation the old and the new key both sign and receivers
holding either accept the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sealwright.errors import ValidationError
from sealwright.webhooks.keys import SigningSecret, b64

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
#: Message ids: never a "." (it delimits the signed content), never a space or a comma.
_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def check_msg_id(msg_id: str) -> str:
    if not _MSG_ID.fullmatch(msg_id):
        raise ValidationError("a webhook id is 1 to 200 letters, digits, '_' or '-'")
    return msg_id


def parse_timestamp(text: str) -> int:
    """A ``webhook-timestamp`` value: whole, non-negative Unix seconds, digits only."""
    if not _TIMESTAMP.fullmatch(text):
        raise ValidationError("a webhook timestamp is whole Unix seconds")
    return int(text)


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValidationError("a webhook timestamp is whole, non-negative Unix seconds")
    return f"{check_msg_id(msg_id)}.{timestamp}.".encode() + body


def signature(secret: SigningSecret, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``<version>,<base64>`` entry."""
    return f"{secret.version},{b64(secret.sign(signed_content(msg_id, timestamp, body)))}"


def signature_header(
    secrets: Sequence[SigningSecret], msg_id: str, timestamp: int, body: bytes
) -> str:
    if not secrets:
        raise ValidationError("a webhook needs at least one signing key")
    return " ".join(signature(s, msg_id, timestamp, body) for s in secrets)


def webhook_headers(
    secrets: Sequence[SigningSecret], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets, msg_id, timestamp, body),
    }
