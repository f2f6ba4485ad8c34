"""Checking targets, radii and sectors: pure functions, no I/O."""

import hashlib

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import AltAz, Galactic, SkyCoord

from astro_tesscut.exceptions import InvalidQueryError, InvalidQueryTypeError
from astro_tesscut.sizes import parse_size
from astro_tesscut.targets import (
    parse_coordinates,
    parse_radius,
    parse_sector,
    parse_sectors,
    parse_target,
    positions_of,
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
        (
            {"objectname": 261136679},
            InvalidQueryTypeError,
            r"^objectname: must be a string such as 'TIC 261136679', got int$",
        ),
        (
            {"object_name": b"Pi Men"},
            InvalidQueryTypeError,
            r"^object_name: must be a string .*, got bytes$",
        ),
        (
            {"objectname": "Ceres", "moving_target": True, "mt_type": 3},
            InvalidQueryError,
            r"^mt_type: must be one of majorbody, smallbody \(or major_body, small_body; ",
        ),
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
        (np.array([0.1, 0.2]), InvalidQueryError),
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


@pytest.mark.parametrize(
    ("given", "kind"),
    [("smallbody", "smallbody"), ("small_body", "smallbody"), ("Major_Body", "majorbody")],
)
def test_moving_target_types_in_astroquery_spelling(given, kind):
    target = parse_target(objectname="Ceres", moving_target=True, mt_type=given)
    assert target.mt_type == kind


def test_a_radius_of_several_values_is_refused_as_such():
    with pytest.raises(InvalidQueryError, match=r"^radius: must be a single angle, got \[1, 2\]"):
        parse_radius([1, 2])


# declinations at and just past the poles


@pytest.mark.parametrize(
    "given",
    [
        "84.3 90",
        "84.3 -90",
        (84.3, 90.0),
        (84.3, -90.0),
        (84.3 * u.deg, 90 * u.deg),
        "05:37:09 90:00:00",
        "05:37:09 -90:00:00",
    ],
)
def test_dec_at_a_pole_is_accepted(given):
    assert abs(parse_coordinates(given).dec.deg) == 90


@pytest.mark.parametrize(
    "given",
    [
        "84.3 90.5",
        "84.3 -90.5",
        (84.3, 90.000001),
        (84.3, -90.000001),
        (84.3, 91.0),
        "05:37:09 90:30:00",
        "05:37:09 -90:00:01",
        "05h37m09s -90d30m",
    ],
)
def test_dec_just_past_a_pole_is_refused(given):
    with pytest.raises(InvalidQueryError, match=r"^coordinates: .*Dec must be within \[-90, 90\]"):
        parse_coordinates(given)


def test_a_refused_dec_is_quoted_with_the_input():
    with pytest.raises(InvalidQueryError, match=r"got 90\.5 \(from \(84\.3, 90\.5\)\)$"):
        parse_coordinates((84.3, 90.5))
    with pytest.raises(InvalidQueryError, match=r"got -91\.0 \(from '84\.3 -91'\)$"):
        parse_coordinates("84.3 -91")


@pytest.mark.parametrize("given", ["25:00:00 90:00:00", "25:00:00 -90:00:00", "05:37:09 north"])
def test_text_refused_for_another_reason_does_not_blame_the_dec(given):
    with pytest.raises(InvalidQueryError, match="^coordinates: cannot parse") as info:
        parse_coordinates(given)
    assert "Dec must be within" not in str(info.value)
    assert "give 'RA Dec' in degrees" in str(info.value)


def test_a_frame_that_cannot_become_icrs_is_refused():
    nowhere = SkyCoord(alt=30 * u.deg, az=40 * u.deg, frame=AltAz())  # no place, no time
    for parse in (parse_coordinates, positions_of):
        with pytest.raises(InvalidQueryError, match="^coordinates: cannot be transformed to ICRS"):
            parse(nowhere)


def test_integers_too_large_for_a_float_are_refused_with_their_magnitude():
    with pytest.raises(InvalidQueryError, match=r"^coordinates: .*got about 10\^400$"):
        parse_coordinates((10**400, 0))
    with pytest.raises(InvalidQueryError, match=r"^coordinates: .*got about -10\^400$"):
        parse_coordinates((0, -(10**400)))
    with pytest.raises(InvalidQueryError, match=r"^radius: .*got about 10\^1000$"):
        parse_radius(10**1000)
    with pytest.raises(InvalidQueryError, match=r"^size: a side of about 10\^310 pixels"):
        parse_size(2**1030)


def test_zero_dimensional_arrays_are_numbers():
    # As numpy's functions of scalars give them (np.radians(1.0) is not a float).
    assert parse_coordinates((np.array(84.3), np.array(-80.4))).dec.deg == -80.4
    assert parse_radius(np.array(0.2)).deg == 0.2


def test_arrays_of_one_value_are_not_numbers():
    with pytest.raises(InvalidQueryTypeError, match="^coordinates: must be an angle or a number"):
        parse_coordinates((np.array([84.3]), np.array([-80.4])))


# how targets are named in messages and files


def test_targets_describe_themselves():
    assert parse_target(coordinates="84.29119 -80.46912").description == (
        "RA, Dec = 84.291190 -80.469120"
    )
    named = parse_target(objectname="Pi Men").at(PI_MEN)
    assert named.description == "'Pi Men' (84.291190 -80.469120)"
    moving = parse_target(objectname="1 Ceres", moving_target=True)
    assert moving.description == "moving target '1 Ceres'"


def short_label(name):
    return parse_target(objectname=name, moving_target=True).label


def test_a_name_of_up_to_64_bytes_is_its_own_label():
    assert short_label("C/2019 Y4 (ATLAS)") == "C_2019_Y4__ATLAS_"
    assert short_label("x" * 64) == "x" * 64
    assert short_label("Ω" * 32) == "Ω" * 32  # 64 bytes in UTF-8


LONG_NAME = " ".join(["C/2019 Y4 (ATLAS)"] * 5)  # 89 bytes


@pytest.mark.parametrize("name", ["x" * 65, LONG_NAME, "Ω" * 33, "\ud800" * 70])
def test_a_longer_name_keeps_its_start_and_ends_in_its_hash(name):
    label = short_label(name)
    digest = hashlib.sha256(name.encode(errors="surrogatepass")).hexdigest()[:8]
    start, _, end = label.rpartition("_")
    assert end == digest
    assert len(label.encode()) <= 64
    assert len(start.encode()) >= 53  # 55 bytes, less a character cut in two
    cleaned = "".join(c if c.isalnum() or c in "-." else "_" for c in name)
    assert cleaned.startswith(start)


def test_labels_of_long_names_differ_where_the_names_do():
    assert short_label(LONG_NAME + "A") != short_label(LONG_NAME + "B")
    assert short_label(LONG_NAME) == short_label(LONG_NAME)


# several sectors


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        (5, (5,)),
        (np.int64(68), (68,)),
        ([68, 28, 28], (28, 68)),
        ((3,), (3,)),
        ({13, 1}, (1, 13)),
        (frozenset([2]), (2,)),
        (np.array([4, 1]), (1, 4)),
        ([np.int32(2), 1], (1, 2)),
    ],
)
def test_sectors(given, expected):
    assert parse_sectors(given) == expected


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        ([], InvalidQueryError, r"flat and not empty, got \[\]; give None for every sector"),
        (np.array([[1, 2]]), InvalidQueryError, "must be flat and not empty"),
        (np.array([], dtype=int), InvalidQueryError, "must be flat and not empty"),
        ([1, 0], InvalidQueryError, "every sector of a list must be a positive integer, got 0"),
        ([1, -2], InvalidQueryError, "positive integer, got -2"),
        ([1, "2"], InvalidQueryTypeError, r"got '2' \(str\)"),
        ([1, 2.0], InvalidQueryTypeError, r"got 2.0 \(float\)"),
        ([True], InvalidQueryTypeError, r"got True \(bool\)"),
        ([np.bool_(True)], InvalidQueryTypeError, "positive integer"),
        (0, InvalidQueryError, "must be a positive integer, got 0"),
        ("1", InvalidQueryTypeError, r"got '1' \(str\)"),
    ],
)
def test_bad_sectors(given, error, words):
    with pytest.raises(error, match=f"^sector: .*{words}"):
        parse_sectors(given)


@pytest.mark.parametrize(("ra", "dec"), [([1.0, np.nan], [3.0, 4.0]), ([1.0, 2.0], [3.0, np.nan])])
def test_every_position_of_an_array_must_be_finite(ra, dec):
    with pytest.raises(InvalidQueryError, match="^coordinates: every position must be finite"):
        positions_of(SkyCoord(ra, dec, unit="deg"))


def test_positions_of_an_array_and_of_one():
    ra, dec = positions_of(SkyCoord([1.0, 2.0], [3.0, 4.0], unit="deg"))
    assert (list(ra), list(dec)) == ([1.0, 2.0], [3.0, 4.0])
    ra, dec = positions_of("84.29119 -80.46912")
    assert (list(ra), list(dec)) == ([84.29119], [-80.46912])


# The messages of target arguments given wrongly, whole: each says what to give instead.
TARGET_MESSAGES = [
    (
        {"objectname": "Pi Men", "object_name": "Pi Men"},
        "objectname, object_name: the same argument spelt two ways (astroquery 0.4.11's "
        "and 0.4.12's); give one of them",
    ),
    (
        {"coordinates": "1 2", "object_name": "Ceres", "moving_target": True},
        "coordinates: cannot be used with moving_target=True; give the moving target's "
        "JPL Horizons name or id as object_name instead",
    ),
    (
        {"moving_target": True},
        "objectname: required with moving_target=True (the JPL Horizons name or id of the "
        "asteroid, comet or planet)",
    ),
    ({"objectname": "Ceres", "mt_type": "smallbody"}, "mt_type: only used with moving_target=True"),
    (
        {},
        "coordinates, objectname: give one of them (a position, or a name such as 'TIC 261136679')",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), TARGET_MESSAGES)
def test_target_argument_messages(kwargs, message):
    with pytest.raises(InvalidQueryError) as info:
        parse_target(**kwargs)
    assert str(info.value) == message


def test_sexagesimal_text_past_a_pole_says_why_it_cannot_be_parsed():
    with pytest.raises(InvalidQueryError) as info:
        parse_coordinates("05:37:09 90:30:00")
    assert str(info.value) == (
        "coordinates: cannot parse '05:37:09 90:30:00'; Dec must be within [-90, 90] deg"
    )


@pytest.mark.parametrize(("ra", "dec"), [(84.3, np.nan), (np.nan, -80.4)])
def test_a_skycoord_must_be_finite(ra, dec):
    with pytest.raises(InvalidQueryError, match=r"^coordinates: RA and Dec must be finite, got \("):
        parse_coordinates(SkyCoord(ra * u.deg, dec * u.deg))
