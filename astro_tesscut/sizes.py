"""Cutout sizes: checking them, and what a size means (pixels at a scale, a radius on the
sky, the service's ``x``, ``y``, ``units``), decided here alone."""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .exceptions import InvalidQueryError, InvalidQueryTypeError
from .ffi import COLUMNS, ROWS
from .targets import is_quantity, magnitude

__all__ = [
    "LEAST_PIXEL_SCALE",
    "PIXEL_SCALE",
    "CutoutSize",
    "parse_size",
]

#: TESS's pixel scale, arcsec a pixel: 21 at the centre of a camera (astrocut's figure) ...
PIXEL_SCALE = 21.0
#: ... and 19.5 at least, towards its corners.
LEAST_PIXEL_SCALE = 19.5
# Arcseconds in each unit a size may have.
_ARCSEC = {"arcsec": 1.0, "arcmin": 60.0, "deg": 3600.0}
# The units' names in TESScut's requests.
_WIRE = {"px": "px", "arcsec": "arcsec", "arcmin": "arcmin", "deg": "d"}
_ALLOWED = (
    f"a cutout is at most a whole FFI: 1 to {ROWS} rows (ny) and 1 to {COLUMNS} "
    f"columns (nx), or angles up to {ROWS * PIXEL_SCALE / 3600:.1f} by "
    f"{COLUMNS * PIXEL_SCALE / 3600:.1f} deg ({PIXEL_SCALE:g} arcsec per pixel)"
)

_SIZE_FORMS = (
    "give a number of pixels (10), a (ny, nx) pair ((45, 35)), or a Quantity in "
    "pixels or an angle (2 * u.arcmin)"
)


@dataclass(frozen=True)
class CutoutSize:
    """A checked cutout size: ``x`` CCD columns by ``y`` CCD rows, in ``units``.

    ``units`` is ``"px"``, ``"arcsec"``, ``"arcmin"`` or ``"deg"``. Pixel sizes
    are `int`.
    """

    x: float
    y: float
    units: str = "px"

    def params(self):
        """The size as TESScut query parameters (which spell degrees ``d``)."""
        return {"x": str(self.x), "y": str(self.y), "units": _WIRE[self.units]}

    def pixels_at(self, scale):
        """The sides in pixels, ``(nx, ny)`` (floats for angles), at ``scale`` arcsec a
        pixel: one figure, or one along the columns and one along the rows."""
        if self.units == "px":
            return self.x, self.y
        x_scale, y_scale = (scale, scale) if np.ndim(scale) == 0 else scale
        unit = _ARCSEC[self.units]
        return self.x * unit / x_scale, self.y * unit / y_scale

    def radius_deg(self):
        """The angle from the cutout's centre to its corners, degrees (pixels at
        `PIXEL_SCALE`): a circle of this radius holds the cutout, so every FFI it
        reaches may hold part of it."""
        arcsec = PIXEL_SCALE if self.units == "px" else _ARCSEC[self.units]
        return float(np.hypot(self.x, self.y)) / 2 * arcsec / 3600

    def pixel_bounds(self):
        """The fewest and most columns, then rows, a window of this size spans on a TESS CCD:
        ``((x_min, x_max), (y_min, y_max))``.

        A window's edges are rounded (half to even, as astrocut rounds them), so
        it may have a pixel more or less than its size; an angle spans 19.5 to
        21 arcsec a pixel.
        """
        fewest, most = self.pixels_at(PIXEL_SCALE), self.pixels_at(LEAST_PIXEL_SCALE)
        return tuple(
            (max(math.floor(low) - 1, 1), math.ceil(high) + 1)
            for low, high in zip(fewest, most, strict=True)
        )

    @property
    def label(self):
        """``"35x45"`` for pixels, ``"2.0x2.0arcmin"`` for angles (as in file names; the
        service's spelling of the unit)."""
        suffix = "" if self.units == "px" else _WIRE[self.units]
        return f"{self.x}x{self.y}{suffix}"


def parse_size(size):
    """Return ``size`` as a `CutoutSize`.

    Parameters
    ----------
    size : int, (ny, nx), or `~astropy.units.Quantity`
        A square side, or ``(ny, nx)`` (rows, then columns, as numpy shapes
        are), in pixels when plain numbers; a `~astropy.units.Quantity` (one
        value or two) in pixels or any angular unit.

    Raises
    ------
    InvalidQueryError
        A side that is not positive and finite, a fractional number of
        pixels, a side longer than a whole FFI's (2078 rows by 2136
        columns, collateral pixels included, or as many times 21 arcsec), a
        unit that is neither pixels nor an angle, mixed pixels and angles, or
        more than two sides.
    """
    if not is_quantity(size) and not (
        isinstance(size, tuple | list | np.ndarray) and any(map(is_quantity, size))
    ):
        return _pixel_size(size)
    sides = _sides(size)
    if len(sides) == 1:
        sides = sides * 2
    elif len(sides) != 2:
        raise InvalidQueryError(
            f"size: has {len(sides)} elements, but a cutout has one side or two (ny, nx)"
        )
    (ny, nx) = sides
    kinds = {_kind(side) for side in sides}
    if len(kinds) != 1:
        raise InvalidQueryError(
            f"size: ({ny}, {nx}) mixes pixels and angles; use one kind for both sides"
        )
    for side in sides:
        if not (math.isfinite(side.value) and side.value > 0):
            raise InvalidQueryError(f"size: every side must be positive and finite, got {side}")
    if kinds == {"px"}:
        ny, nx = _whole_pixels(ny), _whole_pixels(nx)
        _check_within_an_ffi(ny, nx)
        return CutoutSize(x=nx, y=ny, units="px")
    _check_angles_within_an_ffi(ny, nx)
    return _angular_size(nx, ny)


def _check_within_an_ffi(ny, nx):
    """Refuse pixel sides longer than a whole FFI's before anything is sized by them: a
    window that large would allocate memory for nothing (or overflow into a wrong one)."""
    if ny > ROWS or nx > COLUMNS:
        raise InvalidQueryError(f"size: ({ny:g}, {nx:g}) px is out of range; {_ALLOWED}")


def _check_angles_within_an_ffi(ny, nx):
    """Refuse angular sides longer than a whole FFI's (at 21 arcsec per pixel)."""
    from astropy import units as u

    # Compared in the sides' own unit: converting a huge angle to another could overflow.
    limits = [n * PIXEL_SCALE * u.arcsec for n in (ROWS, COLUMNS)]
    if ny.value > limits[0].to_value(ny.unit) or nx.value > limits[1].to_value(nx.unit):
        raise InvalidQueryError(f"size: ({ny}, {nx}) is out of range; {_ALLOWED}")


def _pixel_size(size):
    """A size of plain numbers (pixels), checked without astropy.units."""
    sides = (
        [_number(side) for side in size]
        if isinstance(size, tuple | list | np.ndarray)
        else [_number(size)]
    )
    if len(sides) not in (1, 2):
        raise InvalidQueryError(
            f"size: has {len(sides)} elements, but a cutout has one side or two (ny, nx)"
        )
    ny, nx = sides * 2 if len(sides) == 1 else sides
    for side in (ny, nx):
        if not (math.isfinite(side) and side > 0):
            raise InvalidQueryError(f"size: every side must be positive and finite, got {side:g}")
        if side != round(side):
            raise InvalidQueryError(f"size: a cutout is a whole number of pixels, got {side:g} px")
    _check_within_an_ffi(ny, nx)
    return CutoutSize(x=round(nx), y=round(ny), units="px")


def _number(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float, far beyond an FFI's side
            raise InvalidQueryError(
                f"size: a side of {magnitude(value)} pixels is out of range; {_ALLOWED}"
            ) from None
    if isinstance(value, tuple | list | np.ndarray):
        raise InvalidQueryError(
            f"size: must be one side or a (ny, nx) pair, got a nested {value!r}"
        )
    raise InvalidQueryTypeError(f"size: must be numeric, got {value!r}; {_SIZE_FORMS}")


def _sides(size):
    """The sides of a size holding Quantities, as a list of scalar Quantities."""
    if is_quantity(size):
        return list(np.atleast_1d(size))
    return [_side(side) for side in size]


def _side(value):
    from astropy import units as u

    if is_quantity(value):
        if not value.isscalar:
            raise InvalidQueryError(f"size: each side must be a single value, got {value}")
        return value
    return _number(value) * u.pixel


def _kind(side):
    from astropy import units as u

    if side.unit == u.pixel:
        return "px"
    if side.unit.physical_type == "angle":
        return "angle"
    raise InvalidQueryError(
        f"size: unit {side.unit} is not supported; use pixels (u.pixel) or an angle "
        "(u.arcsec, u.arcmin, u.deg, ...)"
    )


def _whole_pixels(side):
    if side.value != round(side.value):
        raise InvalidQueryError(
            f"size: a cutout is a whole number of pixels, got {side.value:g} px"
        )
    return round(side.value)


def _angular_size(nx, ny):
    from astropy import units as u

    # Keep the user's unit when the service knows it, so sizes travel exactly.
    for name in _ARCSEC:
        if nx.unit == u.Unit(name) and ny.unit == u.Unit(name):
            return CutoutSize(x=float(nx.value), y=float(ny.value), units=name)
    return CutoutSize(
        x=float(nx.to_value(u.arcsec)), y=float(ny.to_value(u.arcsec)), units="arcsec"
    )
