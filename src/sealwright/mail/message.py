"""An outbound email, as the rest of Sealwright describes it: one recipient, text, maybe HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sealwright.errors import ValidationError

# A bare address, nothing a header parser could read as a second recipient or a display
# name. Deliberately looser than RFC 5321 in what it allows in each part (UTF-8 local parts
# are fine); the receiving MTA is the judge of deliverability.
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One email to one recipient. ``to`` is a bare address such as ``alice@example.org``.

    Header values are checked here so that no caller can smuggle a line break into a header
    (header injection adds recipients or rewrites the message).
    """

    to: str
    subject: str
    text: str
    html: str | None = None

    def __post_init__(self) -> None:
        if not _ADDRESS.fullmatch(self.to):
            raise ValidationError(f"not a single email address: {self.to!r}")
        if _CONTROL.search(self.subject):
            raise ValidationError("email subject contains control characters")

    def __repr__(self) -> str:
        # Bodies carry sign-in links and one-time codes: keep them out of logs and tracebacks.
        return f"MailMessage(to={self.to!r}, subject={self.subject!r}, text=<redacted>)"
