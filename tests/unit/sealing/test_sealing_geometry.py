from __future__ import annotations

import pytest
from pypdf import PageObject
from pypdf.generic import NameObject, NumberObject, RectangleObject

from sealwright.sealing._geometry import Matrix, PageGeometry, page_geometry


def apply(matrix: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = matrix
    return (a * x + c * y + e, b * x + d * y + f)


@pytest.mark.parametrize(
    ("rotation", "displayed_origin_in_user_space", "displayed_top_right_in_user_space"),
    [
        # A 100 x 200 visible box at (10, 20). "Displayed origin" is the corner a viewer
        # shows at bottom-left after turning the page clockwise by /Rotate.
        (0, (10, 20), (110, 220)),
        (90, (110, 20), (10, 220)),
        (180, (110, 220), (10, 20)),
        (270, (10, 220), (110, 20)),
    ],
)
def test_displayed_corners_map_to_the_right_user_space_corners(
    rotation: int,
    displayed_origin_in_user_space: tuple[float, float],
    displayed_top_right_in_user_space: tuple[float, float],
) -> None:
    geometry = PageGeometry(10, 20, 100, 200, rotation)
    matrix = geometry.displayed_to_user()
    width, height = geometry.displayed_width, geometry.displayed_height
    assert apply(matrix, 0, 0) == displayed_origin_in_user_space
    assert apply(matrix, width, height) == displayed_top_right_in_user_space


def test_quarter_turns_swap_displayed_width_and_height() -> None:
    for rotation, displayed in [
        (0, (100, 200)),
        (90, (200, 100)),
        (180, (100, 200)),
        (270, (200, 100)),
    ]:
        geometry = PageGeometry(0, 0, 100, 200, rotation)
        assert (geometry.displayed_width, geometry.displayed_height) == displayed


def page(media: list[float], crop: list[float] | None = None, rotate: int = 0) -> PageObject:
    result = PageObject.create_blank_page(width=media[2] - media[0], height=media[3] - media[1])
    result[NameObject("/MediaBox")] = RectangleObject(media)
    if crop is not None:
        result[NameObject("/CropBox")] = RectangleObject(crop)
    if rotate:
        result[NameObject("/Rotate")] = NumberObject(rotate)
    return result


def test_crop_box_is_clipped_to_the_media_box() -> None:
    geometry = page_geometry(page([0, 0, 600, 800], crop=[-50, 100, 500, 900]))
    assert (geometry.left, geometry.bottom, geometry.width, geometry.height) == (0, 100, 500, 700)


def test_reversed_box_corners_are_normalised() -> None:
    geometry = page_geometry(page([0, 0, 600, 800], crop=[500, 700, 100, 100]))
    assert (geometry.left, geometry.bottom, geometry.width, geometry.height) == (100, 100, 400, 600)


@pytest.mark.parametrize(("rotate", "expected"), [(-90, 270), (450, 90), (45, 0), (360, 0)])
def test_rotation_is_normalised(rotate: int, expected: int) -> None:
    assert page_geometry(page([0, 0, 100, 100], rotate=rotate)).rotation == expected


@pytest.mark.parametrize(
    "crop",
    [[0, 0, 0.5, 100], [700, 0, 800, 100], [0, 0, 1e9, 100]],
    ids=["too-thin", "outside-media-box", "absurd"],
)
def test_pages_without_a_usable_visible_area_are_refused(crop: list[float]) -> None:
    with pytest.raises(ValueError):
        page_geometry(page([0, 0, 600, 800], crop=crop))
