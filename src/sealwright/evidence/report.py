"""The verifier's result: one named check per property, each PASS or FAIL with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CHECK_NAMES", "Check", "VerificationReport"]

#: Every report lists exactly these checks, in this order.
CHECK_NAMES = (
    "container",
    "manifest-signature",
    "file-hashes",
    "checkpoint-signature",
    "witness-cosignatures",
    "inclusion-proofs",
    "event-chain",
    "document-hashes",
    "pdf-signatures",
    "signer-authentication",
    "channel-assertions",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    #: What was established, or precisely what failed (file, event index, document).
    detail: str


@dataclass(frozen=True)
class VerificationReport:
    envelope_id: str | None
    checks: tuple[Check, ...]
    #: The bundle's verification-channel assertions (evidence/assertion_check.py), each
    #: with its channel and whether it verified: ``AssertionListing.to_dict()`` objects.
    assertions: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """True only if every one of the checks ran and passed."""
        names = tuple(c.name for c in self.checks)
        return names == CHECK_NAMES and all(c.ok for c in self.checks)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_text(self) -> str:
        width = max(len(n) for n in CHECK_NAMES)
        lines = [f"Evidence bundle for envelope {self.envelope_id or '(unknown)'}"]
        lines += [
            f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}" for c in self.checks
        ]
        lines += [
            f"  assertion {a['file']}: channel {a['channel'] or '?'}, result "
            f"{a['result'] or '?'}, {'verified' if a['ok'] else 'NOT verified'}"
            for a in self.assertions
        ]
        lines.append("RESULT: VERIFIED" if self.ok else "RESULT: NOT VERIFIED")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "envelope_id": self.envelope_id,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "assertions": list(self.assertions),
        }
