"""Checking and normalising what the user says to cut out around, before any I/O.

A target is a fixed position (``coordinates``), a name to resolve to one
(``objectname``, or ``object_name`` as astroquery 0.4.12 spells it), or a
solar-system body that moves (``moving_target``).
"""

import hashlib
import math
import numbers
import sys
from dataclasses import dataclass, replace

import numpy as np

from .exceptions import InvalidQueryError, InvalidQueryTypeError
from .ffi import COLUMNS, ROWS

__all__ = [
    "BTJD_ZERO",
    "FFIPixel",
    "Target",
    "TimeWindow",
    "is_quantity",
    "is_sky_coordinate",
    "parse_coordinates",
    "parse_pixel",
    "parse_position",
    "parse_radius",
    "parse_sector",
    "parse_sectors",
    "parse_target",
    "parse_time",
    "positions_of",
    "table_positions",
]

MOVING_TARGET_TYPES = ("majorbody", "smallbody")
# TESScut's names above; astroquery's own tests write them with an underscore.
_MOVING_TARGET_ALIASES = {"major_body": "majorbody", "small_body": "smallbody"}

_COORDINATE_FORMS = (
    "give 'RA Dec' in degrees ('84.29119 -80.46912'), sexagesimal "
    "('05h37m09.89s -80d28m08.8s' or '05:37:09.89 -80:28:08.8'), "
    "a SkyCoord, or an (ra, dec) pair in degrees"
)
# Longest label, in UTF-8 bytes: file names made of it (a zip's, and the hidden one it is
# written under first) stay far below the 255 bytes file systems allow.
_LABEL_BYTES = 64
_LABEL_HASH = 8  # hex digits of the name's hash that end a shortened label


@dataclass(frozen=True)
class Target:
    """A checked target.

    Exactly one of ``coord`` (ICRS, scalar) and ``name`` is known for a fixed
    target until its name is resolved; a moving target has ``name`` (its JPL
    Horizons name or id) and optionally ``mt_type``. A cutout asked by FFI pixel
    has that ``pixel`` (an `FFIPixel`) and its position on the sky.
    """

    coord: object = None
    name: str | None = None
    moving: bool = False
    mt_type: str | None = None
    pixel: object = None

    @property
    def needs_resolving(self):
        """True for a named fixed target whose position is not known yet."""
        return self.coord is None and not self.moving

    def at(self, coord):
        """This target with its position resolved to ``coord``."""
        return replace(self, coord=coord)

    @property
    def description(self):
        """How messages name the target: its name and position, or the position."""
        if self.moving:
            return f"moving target {self.name!r}"
        position = self.coord.to_string("decimal", precision=6)
        return f"{self.name!r} ({position})" if self.name else f"RA, Dec = {position}"

    @property
    def label(self):
        """A short file-name-safe description: ``RA_Dec`` or the moving target's name.

        A name longer than 64 bytes keeps its start and ends in a hash of the
        whole name, so that each name has its own label, the same every time.
        """
        if not self.moving:
            return f"{self.coord.ra.deg:.6f}_{self.coord.dec.deg:.6f}"
        label = "".join(c if c.isalnum() or c in "-." else "_" for c in self.name)
        if len(label.encode()) <= _LABEL_BYTES:
            return label
        digest = hashlib.sha256(self.name.encode(errors="surrogatepass")).hexdigest()
        start = label.encode()[: _LABEL_BYTES - _LABEL_HASH - 1].decode(errors="ignore")
        return f"{start}_{digest[:_LABEL_HASH]}"


def parse_target(
    *, coordinates=None, objectname=None, object_name=None, moving_target=False, mt_type=None
):
    """Check the target arguments of a query and return a `Target`.

    ``object_name`` is ``objectname`` as astroquery 0.4.12 spells it; give
    either, not both.

    Raises
    ------
    InvalidQueryError
        Both or neither of ``coordinates`` and ``objectname``, both spellings
        of ``objectname``, ``coordinates`` with ``moving_target``, an unknown
        ``mt_type``, or bad coordinates.
    """
    if not isinstance(moving_target, bool | np.bool_):
        raise InvalidQueryTypeError(f"moving_target: must be True or False, got {moving_target!r}")
    if objectname is not None and object_name is not None:
        raise InvalidQueryError(
            "objectname, object_name: the same argument spelt two ways (astroquery 0.4.11's "
            "and 0.4.12's); give one of them"
        )
    argument = "objectname" if object_name is None else "object_name"
    name = objectname if object_name is None else object_name
    if name is not None:
        name = _parse_name(name, argument)

    if moving_target:
        if coordinates is not None:
            raise InvalidQueryError(
                "coordinates: cannot be used with moving_target=True; give the moving "
                f"target's JPL Horizons name or id as {argument} instead"
            )
        if name is None:
            raise InvalidQueryError(
                "objectname: required with moving_target=True (the JPL Horizons name or "
                "id of the asteroid, comet or planet)"
            )
        return Target(name=name, moving=True, mt_type=_parse_mt_type(mt_type))

    if mt_type is not None:
        raise InvalidQueryError("mt_type: only used with moving_target=True")
    if coordinates is not None and name is not None:
        raise InvalidQueryError(f"coordinates, {argument}: give one of them, not both")
    if coordinates is None and name is None:
        raise InvalidQueryError(
            "coordinates, objectname: give one of them (a position, or a name such "
            "as 'TIC 261136679')"
        )
    if name is not None:
        return Target(name=name)
    return Target(coord=parse_coordinates(coordinates))


def _parse_name(name, argument):
    """An object name, stripped; ``argument`` is how the caller spelt it."""
    if not isinstance(name, str):
        raise InvalidQueryTypeError(
            f"{argument}: must be a string such as 'TIC 261136679', got {type(name).__name__}"
        )
    name = name.strip()
    if not name:
        raise InvalidQueryError(f"{argument}: must not be empty")
    return name


def _parse_mt_type(mt_type):
    if mt_type is None:
        return None
    kind = mt_type.lower() if isinstance(mt_type, str) else None
    kind = _MOVING_TARGET_ALIASES.get(kind, kind)
    if kind not in MOVING_TARGET_TYPES:
        raise InvalidQueryError(
            f"mt_type: must be one of {', '.join(MOVING_TARGET_TYPES)} (or "
            f"{', '.join(_MOVING_TARGET_ALIASES)}; None lets the service try both), "
            f"got {mt_type!r}"
        )
    return kind


def parse_coordinates(coordinates):
    """Return ``coordinates`` as a scalar ICRS `~astropy.coordinates.SkyCoord`.

    Parameters
    ----------
    coordinates : str, `~astropy.coordinates.SkyCoord`, or (ra, dec)
        A string of RA and Dec in degrees or sexagesimal, a scalar
        `~astropy.coordinates.SkyCoord` or coordinate frame in any celestial
        frame, or a pair of numbers (degrees) or angular quantities.

    Raises
    ------
    InvalidQueryError
        The value cannot be parsed, is not one position, is not finite, or
        has a declination outside [-90, 90] degrees.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ra, dec = parse_position(coordinates)
    return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")


def parse_position(coordinates):
    """Return ``coordinates`` (any form `parse_coordinates` takes) as ICRS (ra, dec) in degrees.

    Numbers and strings of two numbers are read without importing
    astropy.coordinates; other forms are parsed by it.
    """
    if is_sky_coordinate(coordinates):
        if not coordinates.isscalar:
            raise InvalidQueryError(
                f"coordinates: must be a single position, got {coordinates.size} of them"
            )
        ra, dec = (float(value[0]) for value in _icrs_degrees(coordinates))
    elif isinstance(coordinates, str):
        ra, dec = _parse_coordinate_string(coordinates)
    elif isinstance(coordinates, tuple | list | np.ndarray) or is_quantity(coordinates):
        ra, dec = _parse_coordinate_pair(coordinates)
    else:
        raise InvalidQueryTypeError(
            f"coordinates: cannot use a {type(coordinates).__name__}; {_COORDINATE_FORMS}"
        )
    if not (math.isfinite(ra) and math.isfinite(dec)):
        raise InvalidQueryError(f"coordinates: RA and Dec must be finite, got ({ra}, {dec})")
    return ra, dec


def positions_of(coordinates):
    """ICRS RA and Dec arrays (degrees) of one position or a SkyCoord array of them."""
    if is_sky_coordinate(coordinates) and not coordinates.isscalar:
        ra, dec = _icrs_degrees(coordinates)
        if not (np.isfinite(ra).all() and np.isfinite(dec).all()):
            raise InvalidQueryError("coordinates: every position must be finite")
        return ra, dec
    ra, dec = parse_position(coordinates)
    return np.array([ra]), np.array([dec])


def table_positions(table, names=None, *, argument="targets"):
    """ICRS RA and Dec arrays (degrees) from a table's ``ra`` and ``dec`` columns, checked
    as a single position is.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Columns ``ra`` and ``dec``: numbers of degrees, or angles (a column unit).
    names : list of str, optional
        The rows' names, for errors.
    argument : str, optional
        The argument's name, for errors.

    Raises
    ------
    InvalidQueryError
        A column is missing, not numbers or angles; or a row is masked, not finite,
        has a Dec outside [-90, 90] deg or an RA outside [0, 360) deg (the first such
        row is named).
    """
    missing = [name for name in ("ra", "dec") if name not in table.colnames]
    if missing:
        raise InvalidQueryError(f"{argument}: the table has no {' or '.join(missing)} column")
    ra, dec = (_column_degrees(table[name], argument) for name in ("ra", "dec"))
    masked = np.ma.getmaskarray(table["ra"]) | np.ma.getmaskarray(table["dec"])
    problems = [
        (masked, "is masked"),
        (~(np.isfinite(ra) & np.isfinite(dec)), "is not finite"),
        ((dec < -90) | (dec > 90), "has a Dec outside [-90, 90] deg"),
        ((ra < 0) | (ra >= 360), "has an RA outside [0, 360) deg"),
    ]
    with np.errstate(invalid="ignore"):  # NaN compared: reported as not finite first
        for bad, what in problems:
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                name = f" ({names[row]!r})" if names is not None else ""
                raise InvalidQueryError(
                    f"{argument}: row {row}{name} {what}: ra = {ra[row]}, dec = {dec[row]}"
                    + (f" ({int(bad.sum())} rows in all)" if bad.sum() > 1 else "")
                )
    return ra, dec


def _column_degrees(column, argument):
    """A table column of positions as a float array of degrees (masked values as NaN)."""
    unit = getattr(column, "unit", None)
    try:
        values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    except (TypeError, ValueError) as exc:
        raise InvalidQueryTypeError(
            f"{argument}: column {column.info.name} must hold numbers of degrees or angles, "
            f"got {column.dtype}"
        ) from exc
    if unit is None:
        return values
    from astropy import units as u

    try:
        return values * unit.to(u.deg)
    except u.UnitConversionError as exc:
        raise InvalidQueryError(
            f"{argument}: column {column.info.name} is in {unit}, not an angle"
        ) from exc


def _icrs_degrees(coordinates):
    """Flattened ICRS RA and Dec of a SkyCoord or frame, degrees."""
    from astropy.coordinates import SkyCoord

    try:
        icrs = SkyCoord(coordinates).icrs
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidQueryError(f"coordinates: cannot be transformed to ICRS ({exc})") from exc
    return np.ravel(icrs.ra.deg), np.ravel(icrs.dec.deg)


def is_sky_coordinate(value):
    """A SkyCoord or coordinate frame (without importing astropy.coordinates to tell)."""
    coordinates = sys.modules.get("astropy.coordinates")
    return coordinates is not None and isinstance(
        value, coordinates.SkyCoord | coordinates.BaseCoordinateFrame
    )


def is_quantity(value):
    """An astropy Quantity (none can exist before astropy.units is imported)."""
    units = sys.modules.get("astropy.units")
    return units is not None and isinstance(value, units.Quantity)


def _parse_coordinate_string(text):
    words = text.replace(",", " ").split()
    try:
        values = [float(word) for word in words]
    except ValueError:
        values = None
    if values is not None:
        if len(values) != 2:
            raise InvalidQueryError(
                f"coordinates: {text!r} is not two numbers; {_COORDINATE_FORMS}"
            )
        return _checked_degrees(*values, given=text)
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    # Without units in the text, sexagesimal RA is read as hours, Dec as degrees.
    for unit in (None, (u.hourangle, u.deg)):
        try:
            coord = SkyCoord(text, frame="icrs", unit=unit)
        except (ValueError, TypeError, u.UnitsError):
            continue
        return float(coord.ra.deg), float(coord.dec.deg)
    reason = _COORDINATE_FORMS
    if len(words) == 2 and _beyond_a_pole(words[1]):
        reason = "Dec must be within [-90, 90] deg"
    raise InvalidQueryError(f"coordinates: cannot parse {text!r}; {reason}")


def _beyond_a_pole(dec_text):
    from astropy import units as u
    from astropy.coordinates import Angle

    try:
        return abs(Angle(dec_text, unit=u.deg).deg) > 90
    except (ValueError, TypeError, u.UnitsError):
        return False


def _parse_coordinate_pair(pair):
    if len(pair) != 2:
        raise InvalidQueryError(f"coordinates: an (ra, dec) pair has 2 elements, got {len(pair)}")
    degrees = [_to_degrees(value, "coordinates") for value in pair]
    return _checked_degrees(*degrees, given=pair)


def _checked_degrees(ra, dec, *, given):
    if not (math.isfinite(ra) and math.isfinite(dec)):
        raise InvalidQueryError(f"coordinates: RA and Dec must be finite, got {given!r}")
    if not -90 <= dec <= 90:
        raise InvalidQueryError(
            f"coordinates: Dec must be within [-90, 90] deg, got {dec} (from {given!r})"
        )
    if not 0 <= ra < 360:  # as strict as Dec: a number out of range is a mistake, not a wrap
        raise InvalidQueryError(
            f"coordinates: RA must be within [0, 360) deg, got {ra} (from {given!r})"
        )
    return ra, dec


def _to_degrees(value, argument):
    """A plain number (degrees) or an angular quantity as a float in degrees."""
    if is_quantity(value):
        from astropy import units as u

        if value.unit.physical_type != "angle":
            raise InvalidQueryError(
                f"{argument}: must be an angle or a number of degrees, got {value}"
            )
        return float(value.to_value(u.deg))
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()  # a 0-d array, as numpy's functions of scalars give
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            raise InvalidQueryError(
                f"{argument}: must be a finite number of degrees, got {magnitude(value)}"
            ) from None
    raise InvalidQueryTypeError(
        f"{argument}: must be an angle or a number of degrees, got {value!r}"
    )


def magnitude(integer):
    """``"about 10^400"``: how messages show an integer too large for a float (printing
    all its digits would drown the message, or fail past Python's limit on them)."""
    digits = int(abs(int(integer)).bit_length() * math.log10(2))
    return f"about {'-' * (integer < 0)}10^{digits}"


def parse_radius(radius):
    """Return the search radius as a non-negative `~astropy.coordinates.Angle`.

    Parameters
    ----------
    radius : None, float, str or `~astropy.units.Quantity`
        `None` for zero; a number is in degrees; a string is anything
        `~astropy.coordinates.Angle` parses (``"5 arcmin"``, ``"0.2d"``).
    """
    from astropy import units as u
    from astropy.coordinates import Angle

    if radius is None:
        return Angle(0, u.deg)
    if isinstance(radius, str):
        try:
            degrees = Angle(radius, unit=u.deg).deg
        except (ValueError, u.UnitsError) as exc:
            raise InvalidQueryError(
                f"radius: cannot parse {radius!r} as an angle (e.g. '5 arcmin' or 0.1 for degrees)"
            ) from exc
    else:
        if np.ndim(radius) != 0:
            raise InvalidQueryError(f"radius: must be a single angle, got {radius!r}")
        degrees = _to_degrees(radius, "radius")
    if not math.isfinite(degrees) or degrees < 0:
        raise InvalidQueryError(f"radius: must be a finite angle of zero or more, got {radius!r}")
    return Angle(degrees, u.deg)


@dataclass(frozen=True)
class FFIPixel:
    """A checked pixel of one FFI: 1-based ``column`` and ``row`` (collateral pixels
    included, as a target pixel file's 1CRV4P and 2CRV4P count them) of ``sector``,
    ``camera`` and ``ccd``."""

    sector: int
    camera: int
    ccd: int
    column: float
    row: float

    @property
    def description(self):
        sector_name = f"tess-s{self.sector:04d}-{self.camera}-{self.ccd}"
        return f"column {self.column:g}, row {self.row:g} of {sector_name}"


def parse_pixel(pixel, *, sectors, camera, ccd):
    """Check a cutout asked by pixel: ``pixel`` (column, row), 1-based, on the FFI of one
    sector (``sectors``, as `parse_sectors` returns them), ``camera`` and ``ccd``.

    Returns
    -------
    `FFIPixel`

    Raises
    ------
    InvalidQueryError
        Not one sector; a camera or CCD that is not 1 to 4; a pixel that is not
        two finite numbers within an FFI (columns 1-2136, rows 1-2078).
    """
    if sectors is None or len(sectors) != 1:
        raise InvalidQueryError(
            "sector: a pixel is on the FFI of one sector, camera and CCD; give sector= one "
            f"sector, got {'none' if sectors is None else list(sectors)}"
        )
    checked = {}
    for argument, value in (("camera", camera), ("ccd", ccd)):
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
            raise InvalidQueryTypeError(
                f"{argument}: a pixel needs its {argument}, 1, 2, 3 or 4; got {value!r}"
            )
        if not 1 <= value <= 4:
            raise InvalidQueryError(f"{argument}: must be 1, 2, 3 or 4, got {value}")
        checked[argument] = int(value)
    if not isinstance(pixel, tuple | list | np.ndarray) or len(pixel) != 2:
        raise InvalidQueryTypeError(
            f"pixel: must be a (column, row) pair of 1-based FFI pixels, got {pixel!r:.100}"
        )
    column, row = (_to_number(value, "pixel") for value in pixel)
    if not (1 <= column <= COLUMNS and 1 <= row <= ROWS):
        raise InvalidQueryError(
            f"pixel: ({column:g}, {row:g}) is outside an FFI: columns 1-{COLUMNS}, rows "
            f"1-{ROWS} (1-based, collateral pixels included)"
        )
    return FFIPixel(sectors[0], checked["camera"], checked["ccd"], column, row)


def _to_number(value, argument):
    """A finite real number as a float (numpy scalars too)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InvalidQueryTypeError(f"{argument}: must be numbers, got {value!r:.100}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidQueryError(f"{argument}: must be finite numbers, got {value!r:.100}")
    return number


#: BTJD, TESS's times, are BJD (TDB) - 2457000.
BTJD_ZERO = 2457000.0


@dataclass(frozen=True)
class TimeWindow:
    """A checked time window: cadences whose mid-time (``TIME``, BTJD) lies within
    ``start`` and ``stop``, both included."""

    start: float
    stop: float

    def __str__(self):
        return f"BTJD {self.start:.4f} to {self.stop:.4f}"

    def frames(self, times):
        """The first and stop index of the cadences of ``times`` (mid-times, BTJD, in
        order) within the window; equal when none is."""
        times = np.asarray(times)
        first = int(np.searchsorted(times, self.start, side="left"))
        return first, max(first, int(np.searchsorted(times, self.stop, side="right")))


def parse_time(time, argument="time"):
    """Return ``time`` as a `TimeWindow`, or `None` for every cadence.

    Parameters
    ----------
    time : None, or (start, stop)
        Two `~astropy.time.Time` (taken as TDB: the barycentric correction,
        at most 8.3 minutes, is not applied), or two numbers in BTJD
        (BJD - 2457000, as ``TIME`` counts), the start first.
    argument : str, optional
        The argument's name, for errors.
    """
    if time is None:
        return None
    time_module = sys.modules.get("astropy.time")
    if time_module is not None and isinstance(time, time_module.Time) and not time.isscalar:
        time = list(time)
    if not isinstance(time, tuple | list | np.ndarray) or len(time) != 2:
        raise InvalidQueryTypeError(
            f"{argument}: must be a (start, stop) pair of astropy Times or of BTJD numbers "
            f"(BJD - 2457000), got {time!r:.100}"
        )
    ends = []
    for end in time:
        if time_module is not None and isinstance(end, time_module.Time):
            end = float(end.tdb.jd1 - BTJD_ZERO) + float(end.tdb.jd2)
        ends.append(_to_number(end, argument))
    start, stop = ends
    if not start < stop:
        raise InvalidQueryError(
            f"{argument}: the start must come before the stop, got BTJD {start} to {stop}"
        )
    return TimeWindow(start, stop)


def parse_sector(sector, argument="sector"):
    """Return ``sector`` as a positive `int`, or `None` for every sector; errors name
    ``argument``."""
    if sector is None:
        return None
    if isinstance(sector, bool | np.bool_) or not isinstance(sector, numbers.Integral):
        raise InvalidQueryTypeError(
            f"{argument}: must be a positive integer such as 1, or None for every sector; "
            f"got {sector!r:.100} ({type(sector).__name__})"
        )
    if sector < 1:
        raise InvalidQueryError(f"{argument}: must be a positive integer, got {sector}")
    return int(sector)


def parse_sectors(sector, argument="sector"):
    """Return ``sector`` as a sorted tuple of distinct sectors, or `None` for every sector.

    Parameters
    ----------
    sector : None, int, or a list, tuple, set or 1-d array of int
        One sector, several (as astroquery accepts them: ``[28, 68]``), or
        `None`.
    argument : str, optional
        The argument's name, for errors.
    """
    if not isinstance(sector, list | tuple | set | frozenset | np.ndarray):
        single = parse_sector(sector, argument)
        return None if single is None else (single,)
    if (isinstance(sector, np.ndarray) and sector.ndim != 1) or not len(sector):
        raise InvalidQueryError(
            f"{argument}: a list of sectors must be flat and not empty, got {sector!r:.100}; "
            "give None for every sector"
        )
    chosen = set()
    for number in sector:
        if isinstance(number, bool | np.bool_) or not isinstance(number, numbers.Integral):
            raise InvalidQueryTypeError(
                f"{argument}: every sector of a list must be a positive integer, got "
                f"{number!r:.100} ({type(number).__name__})"
            )
        if number < 1:
            raise InvalidQueryError(
                f"{argument}: every sector of a list must be a positive integer, got {number}"
            )
        chosen.add(int(number))
    return tuple(sorted(chosen))
