"""How TESScut names a cutout, and which names may answer a request.

A fixed target's cutout is ``tess-sSSSS-C-D_<ra>_<dec>_<nx>x<ny>_astrocut.fits``
(astrocut's legacy names: the position to 6 decimals, the window's columns
and rows); a moving target's, as astrocut names cutouts centred on a path,
``<target>_<tstart>-<tstop>_<x>-x-<y>_astrocut.fits``.

A name in the service's answer is untrusted: it becomes a file name in the
user's directory. `ExpectedNames` says which names an answer to one
request may hold (the sector, position and size asked for, and the kind of
target), so that an answer can never write over a cutout of another
target, sector or size.
"""

import re
from dataclasses import dataclass

from .exceptions import CorruptResponseError

__all__ = ["ANY_CUTOUT", "ExpectedNames", "cutout_name"]

_DECIMAL = r"-?[0-9]+(?:\.[0-9]+)?"
_FIXED = re.compile(
    rf"tess-s(?P<sector>[0-9]{{4}})-[1-4]-[1-4]_(?P<ra>{_DECIMAL})_(?P<dec>{_DECIMAL})"
    r"_(?P<nx>[1-9][0-9]*)x(?P<ny>[1-9][0-9]*)_astrocut\.fits"
)
_MOVING = re.compile(
    rf"[A-Za-z0-9][A-Za-z0-9._()+-]*_{_DECIMAL}-{_DECIMAL}_[0-9.]+-x-[0-9.]+_astrocut\.fits"
)
_SHAPES = (
    "tess-sSSSS-C-D_<ra>_<dec>_<x>x<y>_astrocut.fits, or for a moving target "
    "<target>_<tstart>-<tstop>_<x>-x-<y>_astrocut.fits"
)
_MAX_NAME_BYTES = 255  # a file system's limit
# The name's position is printed to 6 decimals; a little more than half a unit of the
# last one allows for the service's own float arithmetic.
_POSITION_TOLERANCE_DEG = 1e-6


def cutout_name(sector_name, ra, dec, nx, ny):
    """TESScut's name of a fixed target's cutout of ``nx`` columns by ``ny`` rows."""
    return f"{sector_name}_{ra:.6f}_{dec:.6f}_{nx}x{ny}_astrocut.fits"


@dataclass(frozen=True)
class ExpectedNames:
    """The names the cutouts answering one request may have.

    Parameters
    ----------
    moving : bool or None
        A moving target's names only (True), a fixed target's only (False),
        or either (`None`: a zip not known to answer any request).
    sector : int or None
        The sector asked for; any when `None`.
    position : (float, float) or None
        The fixed target's ICRS RA and Dec asked for, degrees; any when `None`.
    pixels : ((int, int), (int, int)) or None
        The least and most columns, then rows, a window of the size asked for
        can have (`~astro_tesscut.sizes.CutoutSize.pixel_bounds`); any when `None`.
    """

    moving: bool | None = None
    sector: int | None = None
    position: tuple | None = None
    pixels: tuple | None = None

    @classmethod
    def answering(cls, target, size, sector):
        """The names of the cutouts of ``target`` (a resolved `~astro_tesscut.targets.Target`)
        at ``size`` (a `~astro_tesscut.sizes.CutoutSize`) in ``sector`` (`None`: any)."""
        if target.moving:  # their names say no sector and no position
            return cls(moving=True)
        icrs = target.coord.icrs
        return cls(
            moving=False,
            sector=sector,
            position=(float(icrs.ra.deg), float(icrs.dec.deg)),
            pixels=size.pixel_bounds(),
        )

    def check(self, name):
        """Refuse ``name`` unless it is one of these names.

        Raises
        ------
        CorruptResponseError
            ``name`` is not how TESScut names a cutout, or names a cutout of
            another kind of target, sector, position or size than these.
        """
        if len(name.encode()) <= _MAX_NAME_BYTES and _MOVING.fullmatch(name):
            if self.moving is False:
                self._refuse(name, "a moving target's cutout, in the answer for a fixed position")
            return
        match = _FIXED.fullmatch(name)
        if match is None:
            raise CorruptResponseError(
                f"the cutout zip holds a member named {name!r}, which is not how TESScut names "
                f"a cutout ({_SHAPES}); refusing to write anything from it"
            )
        if self.moving:
            self._refuse(name, "a cutout of a fixed position, in the answer for a moving target")
        if self.sector is not None and int(match["sector"]) != self.sector:
            self._refuse(
                name,
                f"a cutout of sector {int(match['sector'])}, in the answer for sector "
                f"{self.sector}",
            )
        if self.position is not None:
            ra, dec = float(match["ra"]), float(match["dec"])
            if (
                abs((ra - self.position[0] + 180) % 360 - 180) > _POSITION_TOLERANCE_DEG
                or abs(dec - self.position[1]) > _POSITION_TOLERANCE_DEG
            ):
                self._refuse(
                    name,
                    f"a cutout at RA, Dec = {ra}, {dec}, in the answer for "
                    f"{self.position[0]:.6f}, {self.position[1]:.6f}",
                )
        if self.pixels is not None:
            shape = int(match["nx"]), int(match["ny"])
            if not all(low <= n <= high for n, (low, high) in zip(shape, self.pixels, strict=True)):
                (x0, x1), (y0, y1) = self.pixels
                self._refuse(
                    name,
                    f"a cutout of {shape[0]} x {shape[1]} pixels, in the answer for one of "
                    f"{_span(x0, x1)} x {_span(y0, y1)} pixels",
                )

    @staticmethod
    def _refuse(name, what):
        raise CorruptResponseError(
            f"the cutout zip holds {name!r}, {what}; refusing to write anything from it"
        )


def _span(low, high):
    return str(low) if low == high else f"{low}-{high}"


#: Any name TESScut gives a cutout: for zips not known to answer a given request.
ANY_CUTOUT = ExpectedNames()
