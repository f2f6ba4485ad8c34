"""Checking cutout sizes: pure functions, no I/O."""

import numpy as np
import pytest
from astropy import units as u

from astro_tesscut.exceptions import InvalidQueryError, InvalidQueryTypeError
from astro_tesscut.sizes import CutoutSize, parse_size


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (10, CutoutSize(10, 10, "px")),
        (np.int32(7), CutoutSize(7, 7, "px")),
        (10.0, CutoutSize(10, 10, "px")),
        ((45, 35), CutoutSize(35, 45, "px")),  # (ny, nx): x is columns
        ([45, 35], CutoutSize(35, 45, "px")),
        (np.array([45, 35]), CutoutSize(35, 45, "px")),
        (5 * u.pixel, CutoutSize(5, 5, "px")),
        ([45, 35] * u.pixel, CutoutSize(35, 45, "px")),
        (2 * u.arcmin, CutoutSize(2.0, 2.0, "arcmin")),
        ([30, 60] * u.arcsec, CutoutSize(60.0, 30.0, "arcsec")),
        (0.1 * u.deg, CutoutSize(0.1, 0.1, "deg")),
        ((1 * u.arcmin, 30 * u.arcsec), CutoutSize(30.0, 60.0, "arcsec")),
        (1 * u.mas, CutoutSize(0.001, 0.001, "arcsec")),
    ],
)
def test_sizes(given, expected):
    size = parse_size(given)
    assert size == expected
    assert isinstance(size.x, type(expected.x))


def test_params_and_label():
    assert parse_size((45, 35)).params() == {"x": "35", "y": "45", "units": "px"}
    assert parse_size((45, 35)).label == "35x45"
    assert parse_size(2 * u.arcmin).params() == {"x": "2.0", "y": "2.0", "units": "arcmin"}
    assert parse_size(2 * u.arcmin).label == "2.0x2.0arcmin"


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        (0, InvalidQueryError, "positive and finite"),
        (-5, InvalidQueryError, "positive and finite"),
        ((10, -1), InvalidQueryError, "positive and finite"),
        (np.nan, InvalidQueryError, "positive and finite"),
        (np.inf, InvalidQueryError, "positive and finite"),
        (-1 * u.arcmin, InvalidQueryError, "positive and finite"),
        (10.5, InvalidQueryError, "whole number of pixels"),
        ("10", InvalidQueryTypeError, "numeric"),
        (("a", 3), InvalidQueryTypeError, "numeric"),
        (None, InvalidQueryTypeError, "numeric"),
        (True, InvalidQueryTypeError, "numeric"),
        (3 + 1j, InvalidQueryTypeError, "numeric"),
        (
            5 * u.m,
            InvalidQueryError,
            r"not supported; use pixels \(u.pixel\) or an angle \(u.arcsec",
        ),
        (5 * u.s, InvalidQueryError, "not supported"),
        ((1, 2, 3), InvalidQueryError, "3 elements"),
        ([1, 2, 3] * u.arcmin, InvalidQueryError, "has 3 elements, but a cutout has"),
        (0 * u.arcmin, InvalidQueryError, "positive and finite"),
        ((5, 0) * u.pixel, InvalidQueryError, "positive and finite"),
        ((), InvalidQueryError, "0 elements"),
        ([[1, 2], [3, 4]], InvalidQueryError, "one side or a"),
        (np.ones((2, 2)), InvalidQueryError, "one side or a"),
        ((5 * u.pixel, 1 * u.arcmin), InvalidQueryError, "mixes pixels and angles"),
        ((5, 1 * u.arcmin), InvalidQueryError, "mixes pixels and angles"),
        (([1, 2] * u.arcmin, 1 * u.arcmin), InvalidQueryError, "each side must be a single value"),
        (10.5 * u.pixel, InvalidQueryError, "whole number of pixels, got 10.5 px"),
        (2079, InvalidQueryError, r"\(2079, 2079\) px is out of range"),
        (13 * u.deg, InvalidQueryError, "out of range; a cutout is at most a whole FFI"),
    ],
)
def test_bad_sizes_name_the_argument(given, error, words):
    with pytest.raises(error, match=words) as info:
        parse_size(given)
    assert str(info.value).startswith("size: ")


# A whole FFI: 2078 rows by 2136 columns, or as many times 21 arcsec in angle.
ROWS_DEG, COLUMNS_DEG = 2078 * 21 / 3600, 2136 * 21 / 3600  # 12.12 and 12.46 deg


@pytest.mark.parametrize(
    "given",
    [
        (2078, 2136),
        [2078, 2136] * u.pixel,
        (2078 * 21 * u.arcsec, 2136 * 21 * u.arcsec),
        (ROWS_DEG * 60 * u.arcmin, COLUMNS_DEG * 60 * u.arcmin),
    ],
)
def test_a_whole_ffi_is_the_largest_size(given):
    parse_size(given)


@pytest.mark.parametrize(
    "given",
    [
        (2079, 10),
        (10, 2137),
        (2078, 2137),
        (2137, 2136),  # the columns' limit is not the rows'
        (ROWS_DEG * 1.001 * u.deg, 1 * u.deg),
        (1 * u.deg, COLUMNS_DEG * 1.001 * u.deg),
        (12.3 * u.deg, 1 * u.deg),  # more rows than an FFI has, fewer than its columns
        (1 * u.arcmin, COLUMNS_DEG * 61 * u.arcmin),
    ],
)
def test_a_side_longer_than_an_ffi_is_refused(given):
    with pytest.raises(InvalidQueryError, match=r"^size: .* is out of range"):
        parse_size(given)


def test_sides_in_pixels_at_a_scale():
    assert CutoutSize(0.05, 0.05, "deg").pixels_at(20.0) == (9.0, 9.0)
    assert CutoutSize(3.0, 1.5, "arcmin").pixels_at((20.0, 10.0)) == (9.0, 9.0)
    assert CutoutSize(180.0, 90.0, "arcsec").pixels_at(20.0) == (9.0, 4.5)
    assert CutoutSize(9, 7, "px").pixels_at(20.0) == (9, 7)


def test_the_radius_that_holds_a_cutout():
    assert CutoutSize(3, 4, "px").radius_deg() == pytest.approx(2.5 * 21 / 3600)
    assert CutoutSize(30.0, 40.0, "arcsec").radius_deg() == pytest.approx(25 / 3600)
    assert CutoutSize(0.3, 0.4, "deg").radius_deg() == pytest.approx(0.25)


def test_degrees_are_the_services_d_on_the_wire_only():
    size = parse_size(0.1 * u.deg)
    assert size.units == "deg"
    assert size.params() == {"x": "0.1", "y": "0.1", "units": "d"}
    assert size.label == "0.1x0.1d"
