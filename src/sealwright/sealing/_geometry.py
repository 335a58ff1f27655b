"""Where a page is, as a viewer shows it.

Field coordinates throughout Sealwright are in PDF points on the page *as displayed*: origin
at the bottom-left corner of the visible area (the crop box), ``/Rotate`` already applied --
the page a signer sees in a viewer. Intake reports page sizes in that space and stamping maps
it back to the page's own user space, so both agree on every odd page (offset crop boxes,
landscape pages made by rotating a portrait one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class PageGeometry:
    left: float
    bottom: float
    width: float  # of the visible box in user space, before rotation
    height: float
    rotation: int  # clockwise, one of 0, 90, 180, 270

    @property
    def displayed_width(self) -> float:
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def displayed_height(self) -> float:
        return self.width if self.rotation in (90, 270) else self.height

    def displayed_to_user(self) -> Matrix:
        """The PDF matrix taking displayed coordinates to the page's user space."""
        right, top = self.left + self.width, self.bottom + self.height
        if self.rotation == 90:
            return (0.0, 1.0, -1.0, 0.0, right, self.bottom)
        if self.rotation == 180:
            return (-1.0, 0.0, 0.0, -1.0, right, top)
        if self.rotation == 270:
            return (0.0, -1.0, 1.0, 0.0, self.left, top)
        return (1.0, 0.0, 0.0, 1.0, self.left, self.bottom)


def page_geometry(page: Any) -> PageGeometry:
    """Geometry of a pypdf page; raises ``ValueError`` if it has no visible area."""
    media = _box(page.mediabox)
    crop = _box(page.cropbox)
    # Viewers clip the crop box to the media box.
    left, bottom = max(media[0], crop[0]), max(media[1], crop[1])
    right, top = min(media[2], crop[2]), min(media[3], crop[3])
    if right - left < 1 or top - bottom < 1:
        raise ValueError("page has no visible area")
    rotation = int(page.rotation) % 360
    if rotation % 90:
        # Not allowed by ISO 32000; viewers ignore such a value, and so do we.
        rotation = 0
    return PageGeometry(left, bottom, right - left, top - bottom, rotation)


def _box(rectangle: Any) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in rectangle)
    values = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    if not all(abs(v) < 1e7 for v in values):  # also rejects NaN and infinities
        raise ValueError("page box out of range")
    return values
