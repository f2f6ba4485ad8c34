"""Which TESS sectors, cameras and CCDs see a position on the sky, offline.

tess-point (``tess_stars2px``) holds the spacecraft pointing of every sector
and the focal-plane geometry of the cameras, but maps one target at a time
in Python loops. `locate` evaluates the same model (`.pointing`) with numpy
for many targets, every sector, camera and CCD at once, and counts the whole
FFI, collateral pixels included, as a CCD's footprint, as MAST's TESScut does.
"""

import numbers

import numpy as np
from astropy import units as u
from astropy.coordinates import BaseCoordinateFrame, SkyCoord
from astropy.table import Table
from astropy.time import Time

from ..exceptions import InvalidQueryError, InvalidQueryTypeError
from ..targets import parse_radius
from .pointing import focal_plane, pixels_on_ccds, pointing_model, unit_vectors

__all__ = ["cube_hits", "locate"]

FFI_COLUMNS = 2136  # an FFI's size in pixels, collateral pixels included
FFI_ROWS = 2078
PIXEL_SCALE = 21 * u.arcsec  # approximate: the optics' distortion varies it across a camera
SECTOR_HALF_LENGTH_DAYS = 13.7  # from the middle of a sector (tess-point's midtime) to its end
RELEASE_LAG_DAYS = 60.0  # from the end of a sector to its FFIs at MAST, allowing for delays

# Levine_FPG.star_in_fov: a camera sees latitudes above 70 deg in its own
# frame, within 12.5 deg of its boresight along either axis.
_FOV_MIN_LATITUDE_DEG = 70.0
_FOV_HALF_WIDTH_DEG = 12.5
_CHUNK = 2000  # targets at a time: 2000 x 135 sectors x 4 cameras x 3 floats is ~26 MB


def locate(coords, *, radius=None, sectors=None, now=None):
    """Find the sectors, cameras and CCDs whose FFIs hold each position.

    Offline and vectorised: tess-point's pointing and focal-plane model,
    evaluated for every target, sector, camera and CCD at once.

    Parameters
    ----------
    coords : `~astropy.coordinates.SkyCoord`
        One position or an array of them, in any celestial frame (ICRS RA
        and Dec are used, without aberration).
    radius : `~astropy.units.Quantity`, `~astropy.coordinates.Angle`, float, str or None
        Also count an FFI when a circle of this radius around the target
        reaches it. `None` (the default) for zero; a number is in degrees.
    sectors : iterable of int, optional
        Only these sectors; every sector tess-point knows by default,
        including planned ones.
    now : `~astropy.time.Time`, optional
        The time at which to judge ``released``; the current time by default.

    Returns
    -------
    `~astropy.table.Table`
        One row per (target, sector, camera, CCD), sorted in that order, with
        columns ``target`` (index into the flattened ``coords``, 0 for one
        position), ``sectorName`` (as MAST names them, ``tess-s0001-4-2``),
        ``sector``, ``camera``, ``ccd``, ``column`` and ``row`` (1-based FFI
        pixel coordinates of the target, collateral pixels included) and
        ``released`` (`False` while the sector's FFIs may not be public yet:
        until 60 days after its end). Empty, with the same columns, when no
        FFI holds any of the positions.

    Raises
    ------
    InvalidQueryError
        ``coords`` is not a SkyCoord (`InvalidQueryTypeError`), cannot be
        transformed to ICRS or is not finite; ``radius`` is not an angle of
        zero or more; ``sectors`` holds a number tess-point does not know;
        ``now`` is not one `~astropy.time.Time`.

    Notes
    -----
    A target is on an FFI when its pixel position lies within the whole
    2136 x 2078 pixel image, edges included: columns 0.5 to 2136.5 and rows
    0.5 to 2078.5. MAST's TESScut counts the same footprint, while tess-point
    reports science pixels only (columns 45 to 2092, rows 1 to 2048), so this
    also finds targets that fall on collateral pixels or in the gaps between
    CCDs. With a radius, the distance from the pixel position to the image is
    turned into an angle at 21 arcsec per pixel, which is approximate.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> from astro_tesscut.archive.geometry import locate
    >>> pi_men = SkyCoord(84.2911879979852, -80.4691197969941, unit="deg")
    >>> locate(pi_men, sectors=[1, 2, 3, 4])["sectorName"].tolist()
    ['tess-s0001-4-2', 'tess-s0004-4-3']
    """
    ra, dec = _parse_coords(coords)
    radius_deg = parse_radius(radius).deg
    now = _parse_now(now)
    model = pointing_model()
    model = model.take(_parse_sectors(sectors, model.sectors))
    target, sector, camera, ccd, column, row = (
        np.concatenate(part) for part in zip(*_chunks(ra, dec, model, radius_deg), strict=True)
    )
    return Table(
        {
            "target": target,
            "sectorName": _sector_names(model.sectors)[sector, camera, ccd],
            "sector": model.sectors[sector],
            "camera": camera + 1,
            "ccd": ccd + 1,
            "column": column,
            "row": row,
            "released": _released(model.midtimes, now)[sector],
        }
    )


def cube_hits(ra, dec, *, radius_deg=0.0, sectors=None, released_only=False):
    """For many targets, each (target, sector, camera, CCD) whose FFI holds it, compactly.

    What `locate` finds, as small integer arrays and without a Table, so that
    a million targets over every sector fit in tens of megabytes.

    Parameters
    ----------
    ra, dec : `numpy.ndarray`
        ICRS degrees, finite.
    radius_deg : float, optional
        Also count FFIs a circle of this radius reaches.
    sectors : iterable of int, optional
        Only these sectors (checked as `locate` checks them); all by default.
    released_only : bool, optional
        Leave out sectors whose FFIs may not be public yet (see `locate`).

    Returns
    -------
    target : `numpy.ndarray` of int64
        Index into ``ra`` and ``dec``.
    sector, camera, ccd : `numpy.ndarray` of int32
        Sorted by target, then sector, camera and CCD.
    column, row : `numpy.ndarray` of float32
        1-based FFI pixel position, as `locate` gives it.
    """
    model = pointing_model()
    index = _parse_sectors(sectors, model.sectors)
    if released_only:
        index = index[_released(model.midtimes[index], Time.now())]
    model = model.take(index)
    parts = [
        (
            target,
            model.sectors[sector].astype(np.int32),
            (camera + 1).astype(np.int32),
            (ccd + 1).astype(np.int32),
            column.astype(np.float32),
            row.astype(np.float32),
        )
        for target, sector, camera, ccd, column, row in _chunks(
            np.asarray(ra, float), np.asarray(dec, float), model, radius_deg
        )
    ]
    target, *rest = (np.concatenate(part) for part in zip(*parts, strict=True))
    return target.astype(np.int64), *rest


def _chunks(ra, dec, model, radius_deg):
    """`_hits` over a bounded number of targets at a time, target indices made global.

    At least one chunk, so that no targets still gives correctly typed arrays.
    """
    for start in range(0, max(len(ra), 1), _CHUNK):
        target, *rest = _hits(
            ra[start : start + _CHUNK], dec[start : start + _CHUNK], model, radius_deg
        )
        yield (target + start, *rest)


def _released(midtimes, now):
    """Whether each sector's FFIs should be public at ``now`` (a Time)."""
    return midtimes + SECTOR_HALF_LENGTH_DAYS + RELEASE_LAG_DAYS <= now.jd


def _hits(ra, dec, model, radius_deg):
    """Every (target, sector, camera, CCD) whose FFI a target's circle reaches.

    Returns target, sector (index into ``model``), camera and CCD (0-based)
    and the pixel column and row, as arrays in that sort order.
    """
    n_sectors = len(model.sectors)
    # Each target in each camera's frame, as Levine_FPG.radec2pix, all at once.
    sky = np.stack(unit_vectors(ra, dec), axis=-1)
    frame = (sky @ model.rmat4.reshape(-1, 3).T).reshape(len(ra), n_sectors, 4, 3)
    x, y, z = np.moveaxis(frame, -1, 0)

    # Levine_FPG.star_in_fov widened by the radius, with the angles compared as
    # sines and tangents; never behind a camera, where its optics mean nothing.
    min_latitude = np.radians(max(_FOV_MIN_LATITUDE_DEG - radius_deg, 0.0))
    max_tan = np.tan(np.radians(min(_FOV_HALF_WIDTH_DEG + radius_deg, 90.0)))
    in_view = (
        (z > np.sin(min_latitude) * np.sqrt(x * x + y * y + z * z))
        & (np.abs(x) <= max_tan * z)
        & (np.abs(y) <= max_tan * z)
    )
    target, sector, camera = np.nonzero(in_view)

    fp_x, fp_y = focal_plane(x[in_view], y[in_view], z[in_view], model, sector, camera)
    column, row = pixels_on_ccds(fp_x, fp_y, model, sector, camera)

    # How far outside the FFI each position is (0 inside), to compare with the radius.
    off_x = np.maximum(np.maximum(0.5 - column, column - (FFI_COLUMNS + 0.5)), 0.0)
    off_y = np.maximum(np.maximum(0.5 - row, row - (FFI_ROWS + 0.5)), 0.0)
    reached = np.hypot(off_x, off_y) * PIXEL_SCALE.to_value(u.deg) <= radius_deg
    pair, ccd = np.nonzero(reached)
    return target[pair], sector[pair], camera[pair], ccd, column[reached], row[reached]


def _sector_names(sectors):
    """MAST's names of the FFIs, ``tess-s0001-4-2``, as an (S, 4, 4) array."""
    names = [
        f"tess-s{sector:04d}-{camera}-{ccd}"
        for sector in sectors
        for camera in range(1, 5)
        for ccd in range(1, 5)
    ]
    return np.array(names, dtype=str).reshape(len(sectors), 4, 4)


def _parse_coords(coords):
    """Flattened ICRS RA and Dec in degrees."""
    if not isinstance(coords, SkyCoord | BaseCoordinateFrame):
        raise InvalidQueryTypeError(
            f"coords: must be a SkyCoord (one position or an array of them), got "
            f"{type(coords).__name__}"
        )
    try:
        icrs = SkyCoord(coords).icrs
    except (ValueError, TypeError, AttributeError, u.UnitsError) as exc:
        raise InvalidQueryError(f"coords: cannot be transformed to ICRS ({exc})") from exc
    ra, dec = np.ravel(icrs.ra.deg), np.ravel(icrs.dec.deg)
    bad = np.flatnonzero(~(np.isfinite(ra) & np.isfinite(dec)))
    if bad.size:
        raise InvalidQueryError(
            f"coords: RA and Dec must be finite, got ({ra[bad[0]]}, {dec[bad[0]]}) at index "
            f"{bad[0]}"
        )
    return ra, dec


def _parse_sectors(sectors, known):
    """Indices into ``known`` of the sectors asked for; all of them for `None`."""
    if sectors is None:
        return np.arange(len(known))
    if isinstance(sectors, str | bytes) or not np.iterable(sectors):
        raise InvalidQueryTypeError(
            f"sectors: must be an iterable of sector numbers such as [1, 2], or None for "
            f"every sector; got {sectors!r}"
        )
    wanted = list(sectors)
    for sector in wanted:
        if isinstance(sector, bool | np.bool_) or not isinstance(sector, numbers.Integral):
            raise InvalidQueryTypeError(
                f"sectors: sector numbers must be integers, got {sector!r} "
                f"({type(sector).__name__})"
            )
    unknown = sorted({int(sector) for sector in wanted} - {int(sector) for sector in known})
    if unknown:
        raise InvalidQueryError(
            f"sectors: unknown sector{'s' if len(unknown) > 1 else ''} {_ranges(unknown)}; "
            f"the pointing model knows {_ranges(known)}"
        )
    return np.flatnonzero(np.isin(known, wanted))


def _ranges(values):
    """Integers as sorted runs: ``1-134 and 1751``."""
    runs = []
    for number in sorted(int(value) for value in values):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    parts = [str(first) if first == last else f"{first}-{last}" for first, last in runs]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _parse_now(now):
    if now is None:
        return Time.now()
    if not isinstance(now, Time):
        raise InvalidQueryTypeError(
            f"now: must be an astropy Time, or None for the current time; got {type(now).__name__}"
        )
    if not now.isscalar:
        raise InvalidQueryError(f"now: must be a single time, got {now.size} of them")
    return now
