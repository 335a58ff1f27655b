"""A QR code as a vector ReportLab flowable: one filled rectangle per dark module.

The certificate of completion carries each signer's signed QR code (docs/assertions.md §5).
Drawn as vector shapes (from segno's module matrix, error correction M) rather than an
embedded bitmap, it stays sharp at any zoom and any print resolution, and adds only a
few kilobytes. The four-module quiet zone the standard requires is part of the size.
"""

from __future__ import annotations

import segno
from reportlab.lib import colors
from reportlab.platypus import Flowable

__all__ = ["QrFlowable"]

_QUIET_ZONE = 4


class QrFlowable(Flowable):
    """``text`` as a square QR code ``size`` points wide (quiet zone included)."""

    def __init__(self, text: str, size: float) -> None:
        super().__init__()
        code = segno.make_qr(text, error="m")
        self.rows: list[list[bool]] = [
            [bool(m) for m in row] for row in code.matrix_iter(scale=1, border=_QUIET_ZONE)
        ]
        self.size = size
        self.width = self.height = size

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        canvas = self.canv
        count = len(self.rows)
        module = self.size / count
        canvas.saveState()
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        path = canvas.beginPath()
        for r, row in enumerate(self.rows):
            y = self.size - (r + 1) * module
            c = 0
            while c < count:
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < count and row[c]:
                    c += 1
                # One rectangle per run of dark modules: fewer path segments, no seams.
                path.rect(start * module, y, (c - start) * module, module)
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.restoreState()
