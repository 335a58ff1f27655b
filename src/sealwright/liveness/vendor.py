"""An adapter point for a commercial liveness vendor -- not wired to any vendor.

Subclass :class:`VendorLiveness` (or configure it with a ``send`` callable) to reach a
vendor's API. Two shapes are common and both fit:

* **synchronous**: the vendor answers the upload with a verdict. Implement
  :meth:`VendorLiveness.submit` to POST the video (e.g. with ``httpx``, mutual TLS or an API
  key read from the keyring at run time, never from code) and return the vendor's JSON;
  :meth:`VendorLiveness.interpret` maps that JSON to a :class:`LivenessResult`.
* **signed callback**: the vendor answers later on a webhook. ``submit`` then returns
  ``{"pending": true, "reference": ...}``; the channel stays pending, and a route of the
  deployment verifies the callback's signature (:meth:`VendorLiveness.verify_callback`,
  HMAC-SHA256 over the raw body with a shared secret, compared in constant time) before
  completing the run with the verdict.

Whatever the vendor, the replay check (:mod:`sealwright.liveness.fingerprint`) stays local,
the video is sent only where the operator's data-processing agreement allows, and no vendor
answer is logged beyond its reason codes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sealwright.liveness import fingerprint as fp
from sealwright.liveness.decode import Unreadable, decode
from sealwright.liveness.port import ActionFinding, LivenessChallenge, LivenessResult, Reason

__all__ = ["VendorLiveness"]

Sender = Callable[[bytes, LivenessChallenge], Mapping[str, Any]]


class VendorLiveness:
    """Base class: ``send`` (or an overridden :meth:`submit`) talks to the vendor."""

    name = "vendor"

    def __init__(self, send: Sender | None = None, *, name: str | None = None,
                 callback_secret: bytes | None = None) -> None:
        self._send = send
        self._secret = callback_secret
        if name is not None:
            self.name = name

    def submit(self, video: bytes, challenge: LivenessChallenge) -> Mapping[str, Any]:
        """Send the capture; the vendor's answer as JSON. Override or pass ``send``."""
        if self._send is None:
            raise NotImplementedError("no liveness vendor is configured")
        return self._send(video, challenge)

    def interpret(self, answer: Mapping[str, Any], challenge: LivenessChallenge) -> LivenessResult:
        """Map ``{"passed": bool, "score": 0..1 or 0..100, "reasons": [...],
        "actions": {"blink": true, ...}}`` to a result; override for another shape."""
        raw = float(answer.get("score", 0))
        score = max(0, min(100, round(raw * 100 if raw <= 1 else raw)))
        seen = answer.get("actions", {})
        findings = tuple(ActionFinding(a, bool(seen.get(a, False))) for a in challenge.actions)
        reasons = tuple(str(r) for r in answer.get("reasons", ()))[:8]
        passed = bool(answer.get("passed")) and not reasons
        return LivenessResult(passed, score, self.name, findings, reasons)

    def verify_callback(self, body: bytes, signature_hex: str) -> bool:
        """A vendor callback's HMAC-SHA256 signature, checked in constant time."""
        if self._secret is None:
            return False
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature_hex.lower())

    def check(
        self, video: bytes, challenge: LivenessChallenge, *, known: Sequence[Sequence[int]] = ()
    ) -> LivenessResult:
        try:
            frames = decode(video)
        except Unreadable:
            return LivenessResult(False, 0, self.name, (), (Reason.UNREADABLE.value,))
        print_ = fp.fingerprint(frames.gray)
        if any(fp.near_match(print_, old) for old in known):
            return LivenessResult(False, 0, self.name, (), (Reason.REPLAY.value,), print_)
        try:
            answer = self.submit(video, challenge)
        except NotImplementedError:
            raise
        except Exception:  # a vendor outage is a failed check, never a pass
            return LivenessResult(False, 0, self.name, (), (Reason.PROVIDER_ERROR.value,), print_)
        result = self.interpret(answer, challenge)
        return LivenessResult(
            result.passed, result.score, result.provider, result.findings, result.reasons, print_
        )
