"""Checking targets, radii and sectors: pure functions, no I/O."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Galactic, SkyCoord

from astro_tesscut.exceptions import InvalidQueryError, InvalidQueryTypeError
from astro_tesscut.targets import (
    parse_coordinates,
    parse_radius,
    parse_sector,
    parse_target,
)

PI_MEN = SkyCoord(84.29119 * u.deg, -80.46912 * u.deg)


@pytest.mark.parametrize(
    "given",
    [
        "84.29119 -80.46912",
        "84.29119, -80.46912",
        "05h37m09.8856s -80d28m08.832s",
        "05:37:09.8856 -80:28:08.832",
        (84.29119, -80.46912),
        [84.29119, -80.46912],
        np.array([84.29119, -80.46912]),
        (84.29119 * u.deg, -80.46912 * u.deg),
        [84.29119, -80.46912] * u.deg,
        PI_MEN,
        PI_MEN.transform_to(Galactic()),
        PI_MEN.frame,
    ],
)
def test_coordinates_in_every_form_give_the_same_icrs_position(given):
    coord = parse_coordinates(given)
    assert coord.frame.name == "icrs"
    assert coord.isscalar
    assert coord.separation(PI_MEN) < 1 * u.marcsec


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        ("84.3 95.0", InvalidQueryError, "Dec must be within"),
        ((84.3, -91), InvalidQueryError, "Dec must be within"),
        ("05:37:09 95:00:00", InvalidQueryError, "Dec must be within"),
        ("nan -80", InvalidQueryError, "finite"),
        ((np.nan, -80.0), InvalidQueryError, "finite"),
        ((84.3, np.inf), InvalidQueryError, "finite"),
        ("pi mensae", InvalidQueryError, "cannot parse"),
        ("84.3", InvalidQueryError, "not two numbers"),
        ("84.3 -80.4 12", InvalidQueryError, "not two numbers"),
        ("", InvalidQueryError, "not two numbers"),
        ((1, 2, 3), InvalidQueryError, "2 elements"),
        (("a", "b"), InvalidQueryTypeError, "number of degrees"),
        ((84 * u.m, 3 * u.deg), InvalidQueryError, "must be an angle"),
        (SkyCoord([1, 2] * u.deg, [3, 4] * u.deg), InvalidQueryError, "single position"),
        (84.3, InvalidQueryTypeError, "cannot use a float"),
        ({"ra": 1}, InvalidQueryTypeError, "cannot use a dict"),
    ],
)
def test_bad_coordinates_name_the_argument(given, error, words):
    with pytest.raises(error, match=words) as info:
        parse_coordinates(given)
    assert str(info.value).startswith("coordinates:")


def test_target_from_coordinates():
    target = parse_target(coordinates="84.29119 -80.46912")
    assert not target.needs_resolving
    assert target.label == "84.291190_-80.469120"


def test_target_from_name_needs_resolving():
    target = parse_target(objectname="  TIC 261136679 ")
    assert target.name == "TIC 261136679"
    assert target.needs_resolving
    assert not target.at(PI_MEN).needs_resolving


def test_moving_target():
    target = parse_target(objectname="1 Ceres", moving_target=True, mt_type="SmallBody")
    assert (target.moving, target.mt_type, target.needs_resolving) == (True, "smallbody", False)
    assert target.label == "1_Ceres"


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({}, InvalidQueryError, r"^coordinates, objectname: give one"),
        (
            {"coordinates": "1 2", "objectname": "Pi Men"},
            InvalidQueryError,
            r"^coordinates, objectname: give one of them, not both",
        ),
        (
            {"coordinates": "1 2", "objectname": "Ceres", "moving_target": True},
            InvalidQueryError,
            r"^coordinates: cannot be used with moving_target",
        ),
        ({"moving_target": True}, InvalidQueryError, r"^objectname: required"),
        ({"objectname": "Ceres", "moving_target": "yes"}, InvalidQueryTypeError, r"^moving_target"),
        (
            {"objectname": "Ceres", "moving_target": True, "mt_type": "comet"},
            InvalidQueryError,
            r"^mt_type: must be one of majorbody, smallbody",
        ),
        ({"objectname": "Pi Men", "mt_type": "smallbody"}, InvalidQueryError, r"^mt_type"),
        ({"objectname": "   "}, InvalidQueryError, r"^objectname: must not be empty"),
        ({"objectname": 261136679}, InvalidQueryTypeError, r"^objectname: must be a string"),
    ],
)
def test_bad_target_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        parse_target(**kwargs)


@pytest.mark.parametrize(
    ("given", "degrees"),
    [
        (None, 0.0),
        (0, 0.0),
        (0.2, 0.2),
        (5 * u.arcmin, 5 / 60),
        ("5 arcmin", 5 / 60),
        ("0.2d", 0.2),
        ("0.5", 0.5),
        (np.float64(0.1), 0.1),
    ],
)
def test_radius(given, degrees):
    assert parse_radius(given).deg == pytest.approx(degrees)


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (-1, InvalidQueryError),
        (np.nan, InvalidQueryError),
        (np.inf * u.deg, InvalidQueryError),
        (3 * u.m, InvalidQueryError),
        ("five arcmin", InvalidQueryError),
        ([1, 2], InvalidQueryError),
        (True, InvalidQueryTypeError),
        (object(), InvalidQueryTypeError),
    ],
)
def test_bad_radius(given, error):
    with pytest.raises(error, match="^radius: "):
        parse_radius(given)


@pytest.mark.parametrize(("given", "expected"), [(None, None), (1, 1), (np.int64(68), 68)])
def test_sector(given, expected):
    assert parse_sector(given) == expected


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (0, InvalidQueryError),
        (-3, InvalidQueryError),
        (1.0, InvalidQueryTypeError),
        (1.5, InvalidQueryTypeError),
        ("1", InvalidQueryTypeError),
        (True, InvalidQueryTypeError),
        ([1, 2], InvalidQueryTypeError),
    ],
)
def test_bad_sector(given, error):
    with pytest.raises(error, match="^sector: "):
        parse_sector(given)


def test_package_errors_are_value_and_type_errors():
    with pytest.raises(ValueError, match="^sector"):
        parse_sector(0)
    with pytest.raises(TypeError, match="^sector"):
        parse_sector("1")


@pytest.mark.parametrize("given", ["400 -80", (400.0, -80.0), "-10 20", (360, 0)])
def test_ra_outside_a_turn_is_refused_as_dec_is(given):
    with pytest.raises(InvalidQueryError, match=r"^coordinates: RA must be within \[0, 360\)"):
        parse_coordinates(given)


def test_ra_at_the_edges_of_a_turn():
    assert parse_coordinates("0 0").ra.deg == 0
    assert parse_coordinates((359.999999, 0)).ra.deg == 359.999999
