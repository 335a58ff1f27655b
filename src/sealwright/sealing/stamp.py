"""Draw completed fields onto the document's pages, before the seal is applied.

Each stamped page gets an overlay drawn with reportlab and merged into the page's content
with pypdf. What a signer filled in becomes part of the page itself, not a form field or an
annotation, so it is covered by the seal like everything else and no viewer can hide it.

Coordinates are PDF points on the page as displayed, origin bottom-left (see
:mod:`sealwright.sealing._geometry`). Stroke points are normalised to the field's own box:
``(0, 0)`` is its bottom-left corner and ``(1, 1)`` its top-right, y pointing *up* as in PDF
(a browser canvas, whose y points down, must send ``1 - y``).

Below every signature and initials box goes the manifestation required by 21 CFR 11.50
(printed name, date and time, meaning of the signature) in small print.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Literal

from pypdf import PdfReader, PdfWriter, Transformation
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from sealwright.errors import ValidationError
from sealwright.sealing._fonts import Fonts, fonts
from sealwright.sealing._geometry import PageGeometry, page_geometry

FieldKind = Literal["signature", "initials", "date", "text"]
#: ``(x, y, t_ms)``: a point of a drawn signature, x and y in 0..1 of the field's box.
StrokePoint = tuple[float, float, float]
Stroke = Sequence[StrokePoint]

MAX_TEXT_LENGTH = 500
MAX_POINTS_PER_FIELD = 20_000

_KINDS = frozenset({"signature", "initials", "date", "text"})
_INK = (0.05, 0.15, 0.45)  # the dark blue of a ballpoint: signatures read as signed, not typed
_TEXT = (0.0, 0.0, 0.0)
_SMALL_PRINT = (0.25, 0.25, 0.25)
_SMALL_SIZE = 6.0
_SMALL_LEADING = 7.0
_MIN_SIZE = 4.0


@dataclass(frozen=True)
class FieldStamp:
    """A filled field to draw. Signatures and initials need ``text`` (typed) or ``strokes``."""

    page: int  # 0-based
    x: float
    y: float
    width: float
    height: float
    kind: FieldKind
    text: str | None = None
    strokes: Sequence[Stroke] | None = None
    #: e.g. "Jane Doe · 2026-03-01 13:00:05 UTC · Signer — approval"
    manifestation: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValidationError(f"unknown field kind {self.kind!r}")
        if not all(math.isfinite(v) for v in (self.x, self.y, self.width, self.height)):
            raise ValidationError("field geometry must be finite numbers")
        if self.width <= 0 or self.height <= 0:
            raise ValidationError("field width and height must be positive")
        if self.text is not None and len(self.text) > MAX_TEXT_LENGTH:
            raise ValidationError(f"field text is longer than {MAX_TEXT_LENGTH} characters")
        if self.strokes is not None:
            points = [p for stroke in self.strokes for p in stroke]
            if len(points) > MAX_POINTS_PER_FIELD:
                raise ValidationError(f"drawing has more than {MAX_POINTS_PER_FIELD} points")
            if not all(len(p) == 3 and all(math.isfinite(v) for v in p) for p in points):
                raise ValidationError("stroke points must be finite (x, y, t_ms) triples")
        if self.kind in ("signature", "initials") and not (self.text or self.strokes):
            raise ValidationError(f"a {self.kind} field needs typed text or drawn strokes")


def apply_fields(pdf: bytes, fields: Sequence[FieldStamp]) -> bytes:
    """Return a new PDF with ``fields`` drawn onto their pages (input is left untouched)."""
    if not fields:
        return pdf
    reader = PdfReader(BytesIO(pdf))
    if reader.is_encrypted:
        raise ValidationError("cannot stamp an encrypted PDF")
    writer = PdfWriter(clone_from=reader)
    by_page: dict[int, list[FieldStamp]] = defaultdict(list)
    for stamp in fields:
        if not 0 <= stamp.page < len(writer.pages):
            raise ValidationError(f"field on page {stamp.page + 1}, which does not exist")
        by_page[stamp.page].append(stamp)

    order = sorted(by_page)
    geometries = {index: page_geometry(writer.pages[index]) for index in order}
    for index in order:
        _check_on_page(by_page[index], geometries[index])
    overlay = PdfReader(BytesIO(_draw_overlays(order, by_page, geometries)))
    for overlay_index, index in enumerate(order):
        page = writer.pages[index]
        page.merge_transformed_page(
            overlay.pages[overlay_index],
            Transformation(geometries[index].displayed_to_user()),
            over=True,
        )
        page.compress_content_streams()
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


def _check_on_page(stamps: list[FieldStamp], geometry: PageGeometry) -> None:
    for stamp in stamps:
        if (
            stamp.x < 0
            or stamp.y < 0
            or stamp.x + stamp.width > geometry.displayed_width + 0.5
            or stamp.y + stamp.height > geometry.displayed_height + 0.5
        ):
            raise ValidationError(f"a field on page {stamp.page + 1} lies outside the page")


def _draw_overlays(
    order: list[int], by_page: dict[int, list[FieldStamp]], geometries: dict[int, PageGeometry]
) -> bytes:
    # One reportlab document, one page per stamped page: font subsets are embedded once.
    buffer = BytesIO()
    canvas = Canvas(buffer, invariant=True)
    font_names = fonts()
    for index in order:
        geometry = geometries[index]
        canvas.setPageSize((geometry.displayed_width, geometry.displayed_height))
        for stamp in by_page[index]:
            _draw_field(canvas, stamp, font_names)
            if stamp.manifestation and stamp.kind in ("signature", "initials"):
                _draw_manifestation(canvas, stamp, geometry, font_names)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_field(canvas: Canvas, stamp: FieldStamp, names: Fonts) -> None:
    canvas.saveState()
    clip = canvas.beginPath()
    clip.rect(stamp.x, stamp.y, stamp.width, stamp.height)
    canvas.clipPath(clip, stroke=0, fill=0)
    if stamp.kind in ("signature", "initials"):
        canvas.setStrokeColorRGB(*_INK)
        canvas.setFillColorRGB(*_INK)
        if stamp.strokes:
            _draw_strokes(canvas, stamp)
        else:
            _draw_text(canvas, stamp, names.script, max_ratio=0.75)
    else:
        canvas.setFillColorRGB(*_TEXT)
        _draw_text(canvas, stamp, names.regular, max_ratio=0.6)
    canvas.restoreState()


def _draw_text(canvas: Canvas, stamp: FieldStamp, font: str, *, max_ratio: float) -> None:
    text = " ".join((stamp.text or "").split())  # no newlines or control whitespace
    if not text:
        return
    padding = min(2.0, stamp.width * 0.05)
    available = stamp.width - 2 * padding
    size = stamp.height * max_ratio
    width = stringWidth(text, font, size)
    if width <= available:
        # Centre the x-height band, so descenders fit below and capitals above.
        canvas.setFont(font, size)
        canvas.drawString(stamp.x + padding, stamp.y + (stamp.height - size * 0.5) / 2, text)
        return
    size, lines = _fit_lines(text, font, available, stamp.height - 2 * padding, size)
    canvas.setFont(font, size)
    leading = size * 1.15
    top = stamp.y + stamp.height - padding
    for number, line in enumerate(lines):
        # Past the last line that fits, the clip path cuts the rest off.
        canvas.drawString(stamp.x + padding, top - (number + 1) * leading + size * 0.25, line)


def _fit_lines(
    text: str, font: str, width: float, height: float, largest: float
) -> tuple[float, list[str]]:
    """The largest size (down to the minimum) at which ``text``, wrapped, fits the box."""
    size = largest
    while True:
        lines: list[str] = simpleSplit(text, font, size, width)
        fits = len(lines) * size * 1.15 <= height and all(
            stringWidth(line, font, size) <= width for line in lines
        )
        if fits or size <= _MIN_SIZE:
            return size, lines
        size = max(_MIN_SIZE, size * 0.9)


def _draw_strokes(canvas: Canvas, stamp: FieldStamp) -> None:
    line_width = max(0.6, min(2.0, stamp.height * 0.035))
    canvas.setLineWidth(line_width)
    canvas.setLineCap(1)
    canvas.setLineJoin(1)
    for stroke in stamp.strokes or ():
        points = [
            (stamp.x + _unit(p[0]) * stamp.width, stamp.y + _unit(p[1]) * stamp.height)
            for p in stroke
        ]
        if not points:
            continue
        if len(points) == 1:  # a tap: a dot
            canvas.circle(points[0][0], points[0][1], line_width / 2, stroke=0, fill=1)
            continue
        path = canvas.beginPath()
        path.moveTo(*points[0])
        for point in points[1:]:
            path.lineTo(*point)
        canvas.drawPath(path, stroke=1, fill=0)


def _draw_manifestation(
    canvas: Canvas, stamp: FieldStamp, geometry: PageGeometry, names: Fonts
) -> None:
    page_width, page_height = geometry.displayed_width, geometry.displayed_height
    wrap = min(max(stamp.width, 180.0), page_width - 4)
    text = " ".join((stamp.manifestation or "").split())
    lines: list[str] = simpleSplit(text, names.regular, _SMALL_SIZE, wrap)[:4]
    block = len(lines) * _SMALL_LEADING
    # Start under the box; shift left only as far as needed to stay on the page.
    longest = max((stringWidth(line, names.regular, _SMALL_SIZE) for line in lines), default=0)
    x = max(2.0, min(stamp.x, page_width - longest - 2))
    if stamp.y - block - 1 >= 0:
        top = stamp.y - 1  # below the box, where the eye expects it
    else:
        top = min(page_height, stamp.y + stamp.height + block + 1)  # no room: above it
    canvas.saveState()
    canvas.setFillColorRGB(*_SMALL_PRINT)
    canvas.setFont(names.regular, _SMALL_SIZE)
    for number, line in enumerate(lines):
        canvas.drawString(x, top - (number + 1) * _SMALL_LEADING + 1.5, line)
    canvas.restoreState()


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))
