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
        (0.1 * u.deg, CutoutSize(0.1, 0.1, "d")),
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
        (5 * u.m, InvalidQueryError, "not supported"),
        (5 * u.s, InvalidQueryError, "not supported"),
        ((1, 2, 3), InvalidQueryError, "3 elements"),
        ((), InvalidQueryError, "0 elements"),
        ([[1, 2], [3, 4]], InvalidQueryError, "one side or a"),
        (np.ones((2, 2)), InvalidQueryError, "one side or a"),
        ((5 * u.pixel, 1 * u.arcmin), InvalidQueryError, "mixes pixels and angles"),
        ((5, 1 * u.arcmin), InvalidQueryError, "mixes pixels and angles"),
    ],
)
def test_bad_sizes_name_the_argument(given, error, words):
    with pytest.raises(error, match=words) as info:
        parse_size(given)
    assert str(info.value).startswith("size: ")
