"""``Rect.check_within``: a field must sit on a page that exists, inside its bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealwright.domain.envelopes import Rect
from sealwright.errors import ValidationError

A4 = (595.0, 842.0)
LETTER_LANDSCAPE = (792.0, 612.0)
PAGES = [A4, LETTER_LANDSCAPE, A4]


def test_a_field_well_inside_the_page_is_accepted() -> None:
    Rect(page=1, x=72, y=72, width=200, height=40).check_within(3, PAGES)


def test_a_field_filling_the_page_exactly_is_accepted() -> None:
    Rect(page=1, x=0, y=0, width=A4[0], height=A4[1]).check_within(3, PAGES)


def test_half_a_point_of_rounding_is_tolerated_but_no_more() -> None:
    Rect(page=1, x=100, y=0, width=A4[0] - 100 + 0.5, height=10).check_within(3, PAGES)
    Rect(page=1, x=0, y=100, width=10, height=A4[1] - 100 + 0.5).check_within(3, PAGES)
    with pytest.raises(ValidationError, match="exceeds page 1"):
        Rect(page=1, x=100, y=0, width=A4[0] - 100 + 0.51, height=10).check_within(3, PAGES)
    with pytest.raises(ValidationError, match="exceeds page 1"):
        Rect(page=1, x=0, y=100, width=10, height=A4[1] - 100 + 0.51).check_within(3, PAGES)


@pytest.mark.parametrize("page", [0, -1, 4, 100])
def test_pages_are_counted_from_one_up_to_the_page_count(page: int) -> None:
    with pytest.raises(ValidationError) as info:
        Rect(page=page, x=0, y=0, width=10, height=10).check_within(3, PAGES)
    assert str(info.value) == f"page {page} does not exist (document has 3)"


def test_first_and_last_page_are_valid() -> None:
    Rect(page=1, x=0, y=0, width=10, height=10).check_within(3, PAGES)
    Rect(page=3, x=0, y=0, width=10, height=10).check_within(3, PAGES)


@pytest.mark.parametrize(
    ("x", "y", "width", "height"),
    [
        (10, 10, 0, 10),
        (10, 10, 10, 0),
        (10, 10, -5, 10),
        (10, 10, 10, -5),
        (-1, 10, 10, 10),
        (10, -1, 10, 10),
        (-0.01, 10, 10, 10),
    ],
    ids=["zero-width", "zero-height", "neg-width", "neg-height", "neg-x", "neg-y", "tiny-neg-x"],
)
def test_degenerate_or_off_page_origin_is_refused(
    x: float, y: float, width: float, height: float
) -> None:
    with pytest.raises(ValidationError, match="positive size and lie on the page"):
        Rect(page=1, x=x, y=y, width=width, height=height).check_within(3, PAGES)


def test_size_of_the_named_page_is_used_not_the_first() -> None:
    # 700 points wide fits landscape Letter (page 2) but not A4 (pages 1 and 3).
    wide = {"x": 50.0, "y": 50.0, "width": 700.0, "height": 100.0}
    Rect(page=2, **wide).check_within(3, PAGES)
    with pytest.raises(ValidationError, match=r"exceeds page 1 \(595x842 points\)"):
        Rect(page=1, **wide).check_within(3, PAGES)
    with pytest.raises(ValidationError, match=r"exceeds page 3 \(595x842 points\)"):
        Rect(page=3, **wide).check_within(3, PAGES)
    # 700 points tall fits A4 but not landscape Letter (612 tall).
    tall = {"x": 50.0, "y": 50.0, "width": 100.0, "height": 700.0}
    Rect(page=1, **tall).check_within(3, PAGES)
    with pytest.raises(ValidationError, match=r"exceeds page 2 \(792x612 points\)"):
        Rect(page=2, **tall).check_within(3, PAGES)


def test_origin_beyond_the_page_is_refused() -> None:
    with pytest.raises(ValidationError, match="exceeds page 1"):
        Rect(page=1, x=A4[0] + 1, y=0, width=1, height=1).check_within(1, [A4])


@pytest.mark.parametrize("field", ["x", "y", "width", "height"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_coordinates_are_refused(field: str, bad: float) -> None:
    # NaN fails every comparison, so a check written as "refuse if bad" lets it through.
    values = {"x": 10.0, "y": 10.0, "width": 10.0, "height": 10.0, field: bad}
    with pytest.raises(ValidationError):
        Rect(page=1, **values).check_within(1, [A4])


def test_rect_is_immutable() -> None:
    rect = Rect(page=1, x=0, y=0, width=1, height=1)
    with pytest.raises(AttributeError):
        rect.x = 5  # type: ignore[misc]


_page_size = st.tuples(
    st.floats(min_value=50, max_value=5000), st.floats(min_value=50, max_value=5000)
)


@given(size=_page_size, data=st.data())
def test_every_rect_inside_the_page_is_accepted(
    size: tuple[float, float], data: st.DataObject
) -> None:
    w, h = size
    x = data.draw(st.floats(min_value=0, max_value=w - 1))
    y = data.draw(st.floats(min_value=0, max_value=h - 1))
    width = data.draw(st.floats(min_value=0.01, max_value=w - x))
    height = data.draw(st.floats(min_value=0.01, max_value=h - y))
    Rect(page=1, x=x, y=y, width=width, height=height).check_within(1, [size])


@given(
    size=_page_size,
    x=st.floats(min_value=0, max_value=1e6),
    y=st.floats(min_value=0, max_value=1e6),
    width=st.floats(min_value=0.01, max_value=1e6),
    height=st.floats(min_value=0.01, max_value=1e6),
)
def test_accepted_exactly_when_inside_with_half_point_tolerance(
    size: tuple[float, float], x: float, y: float, width: float, height: float
) -> None:
    w, h = size
    rect = Rect(page=1, x=x, y=y, width=width, height=height)
    inside = x + width <= w + 0.5 and y + height <= h + 0.5
    if inside:
        rect.check_within(1, [size])
    else:
        with pytest.raises(ValidationError, match="exceeds page 1"):
            rect.check_within(1, [size])
