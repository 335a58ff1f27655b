"""The witness's errors, a branch of :mod:`sealwright.errors`.

    SealwrightError
    └── WitnessError                 anything about a witness exchange
        ├── WitnessRefused           the witness said no; ``.status`` (HTTP) and ``.reason``
        │   └── OldSizeMismatch      409: ``old`` is not the witness's size; ``.witness_size``
        ├── WitnessUnavailable       no answer: connection refused, timeout, 5xx
        └── BadWitnessResponse       an answer that breaks the protocol or does not verify

The witness raises :class:`WitnessRefused` to refuse a request, and the server turns it
into the HTTP answer; the client raises the same class from that answer, so both sides
speak of a refusal in the same terms.
"""

from __future__ import annotations

from sealwright.errors import SealwrightError

__all__ = [
    "BadWitnessResponse",
    "OldSizeMismatch",
    "WitnessError",
    "WitnessRefused",
    "WitnessUnavailable",
]


class WitnessError(SealwrightError):
    code = "witness"


class WitnessRefused(WitnessError):
    """A refusal with its HTTP status (tlog-witness fixes which status means what)."""

    code = "witness-refused"

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"witness refused ({status}): {reason}")
        self.status = status
        self.reason = reason


class OldSizeMismatch(WitnessRefused):
    """``old`` differs from the size of the witness's latest cosigned checkpoint.

    The caller should build a consistency proof from ``witness_size`` and resend -- unless
    ``witness_size`` exceeds the checkpoint's size, in which case the witness has seen a
    larger tree than the log now presents (a rollback, or a fork)."""

    code = "witness-old-size"

    def __init__(self, witness_size: int) -> None:
        super().__init__(409, f"old size does not match; the witness is at size {witness_size}")
        self.witness_size = witness_size


class WitnessUnavailable(WitnessError):
    code = "witness-unavailable"


class BadWitnessResponse(WitnessError):
    code = "witness-bad-response"
