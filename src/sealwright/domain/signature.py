"""What a signer submits as a signature, and what it means (21 CFR 11.50). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sealwright.errors import ValidationError

MEANING = "I have reviewed this document and I sign it to approve its content"
MAX_STROKE_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class SignatureInput:
    """A typed name, or drawn strokes: each stroke a list of [x, y, t_ms], x and y in 0..1."""

    kind: str
    text: str
    strokes: Sequence[Sequence[Sequence[float]]] = ()

    def validate(self) -> None:
        if self.kind not in ("typed", "drawn"):
            raise ValidationError("signature must be typed or drawn")
        if self.kind == "typed" and not self.text.strip():
            raise ValidationError("type your full name to sign")
        if self.kind == "drawn":
            points = sum(len(s) for s in self.strokes)
            if not self.strokes or points < 2:
                raise ValidationError("draw your signature in the box to sign")
            if points > MAX_STROKE_POINTS:
                raise ValidationError("the drawn signature is too large")
            for stroke in self.strokes:
                for point in stroke:
                    if len(point) != 3 or not (0 <= point[0] <= 1 and 0 <= point[1] <= 1):
                        raise ValidationError("drawn signature points must be [x, y, t] in 0..1")
