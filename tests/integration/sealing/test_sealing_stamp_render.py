"""Stamps land where the signer saw the field, on rotated and cropped pages too (poppler)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from sealwright.sealing.stamp import FieldStamp, apply_fields

MakePdf = Callable[..., bytes]


def render(pdf: bytes, tmp_path: Path) -> tuple[int, int, bytes]:
    """Page 1 as viewers show it (crop box, rotated), 1 pixel per point: (width, height, RGB)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm is not installed")
    (tmp_path / "in.pdf").write_bytes(pdf)
    options = ["-r", "72", "-cropbox", "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run(
        [pdftoppm, *options, str(tmp_path / "in.pdf"), str(tmp_path / "out")],
        check=True,
        timeout=60,
    )
    data = (tmp_path / "out.ppm").read_bytes()
    magic, width, height, maximum, pixels = data.split(maxsplit=4)
    assert (magic, maximum) == (b"P6", b"255")
    return int(width), int(height), pixels


def ink_box(width: int, height: int, pixels: bytes) -> tuple[int, int, int, int]:
    """Bounding box (left, top, right, bottom) of blue ink pixels, top-left origin."""
    xs, ys = [], []
    for y in range(height):
        row = pixels[3 * width * y : 3 * width * (y + 1)]
        for x in range(width):
            red, green, blue = row[3 * x : 3 * x + 3]
            if blue > 80 and blue > red + 40 and blue > green + 30:
                xs.append(x)
                ys.append(y)
    assert xs, "no ink found"
    return min(xs), min(ys), max(xs), max(ys)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("crop", [False, True])
def test_a_drawn_line_appears_at_its_displayed_position(
    make_pdf: MakePdf, tmp_path: Path, rotation: int, crop: bool
) -> None:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(make_pdf(pages=1))))
    if rotation:
        writer.pages[0].rotate(rotation)
    if crop:
        writer.pages[0].cropbox.lower_left = (40, 60)
    buffer = BytesIO()
    writer.write(buffer)
    # A horizontal line 200 pt long at 100 pt from the displayed left and bottom edges.
    line = [[(0.0, 0.5, 0.0), (1.0, 0.5, 100.0)]]
    stamped = apply_fields(
        buffer.getvalue(), [FieldStamp(0, 100, 90, 200, 20, "signature", strokes=line)]
    )
    width, height, pixels = render(stamped, tmp_path)
    left, top, right, bottom = ink_box(width, height, pixels)
    assert abs(left - 100) <= 2
    assert abs(right - 300) <= 2
    assert abs((height - (top + bottom) / 2) - 100) <= 2
    assert bottom - top <= 3  # horizontal as displayed, whatever /Rotate says
