from __future__ import annotations

import math
from collections.abc import Callable
from io import BytesIO

import pytest
from pypdf import PdfReader

from sealwright.errors import ValidationError
from sealwright.sealing.stamp import MAX_POINTS_PER_FIELD, FieldStamp, Stroke, apply_fields

MANIFESTATION = "Jane Doe · 2026-03-01 12:00:05 UTC · Signer — approval"

MakePdf = Callable[..., bytes]


def wave() -> list[Stroke]:
    points = [(0.05 + 0.9 * i / 49, 0.5 + 0.3 * math.sin(i / 4), i * 16.0) for i in range(50)]
    return [points, [(0.5, 0.2, 900.0)]]  # a stroke and a dot


def text_of(pdf: bytes, page: int) -> str:
    return PdfReader(BytesIO(pdf)).pages[page].extract_text()


def test_no_fields_returns_the_input_unchanged(make_pdf: MakePdf) -> None:
    pdf = make_pdf()
    assert apply_fields(pdf, []) is pdf


def test_typed_fields_and_manifestation_end_up_in_the_page_content(make_pdf: MakePdf) -> None:
    pdf = make_pdf(pages=2)
    out = apply_fields(
        pdf,
        [
            FieldStamp(
                1, 72, 100, 200, 40, "signature", text="Jane Doe", manifestation=MANIFESTATION
            ),
            FieldStamp(1, 300, 100, 40, 20, "initials", text="JD"),
            FieldStamp(0, 72, 300, 120, 18, "date", text="2026-03-01"),
            FieldStamp(0, 72, 340, 200, 18, "text", text="ACME <Holdings> & Co"),
        ],
    )
    reader = PdfReader(BytesIO(out))
    assert len(reader.pages) == 2
    assert not reader.is_encrypted
    first, second = text_of(out, 0), text_of(out, 1)
    for expected in ("2026-03-01", "ACME <Holdings> & Co", "Page 1"):
        assert expected in first
    for expected in ("Jane Doe", "JD", "Page 2", "Signer — approval"):
        assert expected in second
    assert "Jane Doe" not in first  # each stamp on its own page only


def test_drawn_signature_becomes_vector_paths(make_pdf: MakePdf) -> None:
    out = apply_fields(
        make_pdf(pages=1),
        [FieldStamp(0, 72, 100, 200, 50, "signature", strokes=wave(), manifestation=MANIFESTATION)],
    )
    content = PdfReader(BytesIO(out)).pages[0].get_contents()
    assert content is not None
    operations = [op for _, op in content.operations]
    assert operations.count(b"l") >= 48  # one lineTo per point after the first
    assert b"S" in operations  # the stroke
    assert b"f" in operations or b"f*" in operations  # the dot
    assert "Signer — approval" in text_of(out, 0)


def test_long_text_is_kept_inside_its_box(make_pdf: MakePdf) -> None:
    long_text = "word " * 60
    out = apply_fields(make_pdf(pages=1), [FieldStamp(0, 72, 100, 120, 30, "text", text=long_text)])
    content = PdfReader(BytesIO(out)).pages[0].get_contents()
    assert content is not None
    assert b"W" in [op for _, op in content.operations]  # clipped to the field


def test_manifestation_moves_above_a_box_at_the_bottom_edge(make_pdf: MakePdf) -> None:
    out = apply_fields(
        make_pdf(pages=1),
        [FieldStamp(0, 72, 0, 150, 30, "signature", text="Jane", manifestation=MANIFESTATION)],
    )
    assert "approval" in text_of(out, 0)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (FieldStamp(5, 72, 100, 100, 30, "date", text="x"), "does not exist"),
        (FieldStamp(0, 560, 100, 100, 30, "date", text="x"), "outside the page"),
        (FieldStamp(0, -1, 100, 100, 30, "date", text="x"), "outside the page"),
        (FieldStamp(0, 72, 830, 100, 30, "date", text="x"), "outside the page"),
    ],
)
def test_fields_must_be_on_an_existing_page(
    make_pdf: MakePdf, field: FieldStamp, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        apply_fields(make_pdf(pages=1), [field])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "signature"}, "needs typed text or drawn strokes"),
        ({"kind": "initials", "text": "", "strokes": []}, "needs typed text or drawn strokes"),
        ({"kind": "checkbox", "text": "x"}, "unknown field kind"),
        ({"kind": "text", "text": "x", "width": 0}, "positive"),
        ({"kind": "text", "text": "x", "x": math.nan}, "finite"),
        ({"kind": "text", "text": "x" * 501}, "longer than"),
        ({"kind": "signature", "strokes": [[(0.1, 0.2)]]}, r"\(x, y, t_ms\)"),
        ({"kind": "signature", "strokes": [[(0.1, math.inf, 0.0)]]}, r"\(x, y, t_ms\)"),
        (
            {"kind": "signature", "strokes": [[(0.5, 0.5, 0.0)] * (MAX_POINTS_PER_FIELD + 1)]},
            "more than",
        ),
    ],
)
def test_field_contents_are_validated(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"page": 0, "x": 10, "y": 10, "width": 100, "height": 30}
    values.update(kwargs)
    with pytest.raises(ValidationError, match=message):
        FieldStamp(**values)  # type: ignore[arg-type]


def test_stroke_points_outside_the_unit_square_are_clamped_to_the_field(make_pdf: MakePdf) -> None:
    out = apply_fields(
        make_pdf(pages=1),
        [FieldStamp(0, 100, 100, 100, 50, "signature", strokes=[[(-5, -5, 0), (9, 9, 10)]])],
    )
    content = PdfReader(BytesIO(out)).pages[0].get_contents()
    assert content is not None
    moves = [args for args, op in content.operations if op in (b"m", b"l")]
    assert [[float(v) for v in args] for args in moves] == [[100, 100], [200, 150]]
