"""Which TESS sectors, cameras and CCDs see a position on the sky, offline.

tess-point (``tess_stars2px``) holds the spacecraft pointing of every sector
and the focal-plane geometry of the cameras, but maps one target at a time
in Python loops. `locate` evaluates the same model (`.pointing`) with numpy
for many targets, every sector, camera and CCD at once, and draws each FFI's
footprint on the sky as MAST does (see `locate`'s notes).
"""

import numbers

import numpy as np
from astropy import units as u
from astropy.coordinates import BaseCoordinateFrame, SkyCoord
from astropy.table import Table
from astropy.time import Time

from ..exceptions import InvalidQueryError, InvalidQueryTypeError
from ..targets import parse_radius
from .pointing import focal_plane, footprints, pixels_on_ccds, pointing_model, unit_vectors

__all__ = ["cube_hits", "cutout_radius", "locate", "sector_ranges"]

# The pixel scale MAST's footprint search turns cutout sizes into angles with (astrocut's
# TessFootprintCutout.ARCSEC_PER_PX); the optics make it 19.5 to 21 arcsec across a camera.
ARCSEC_PER_PIXEL = 21.0
_ARCSEC_PER_UNIT = {"px": ARCSEC_PER_PIXEL, "arcsec": 1.0, "arcmin": 60.0, "d": 3600.0}
SECTOR_HALF_LENGTH_DAYS = 13.7  # from the middle of a sector (tess-point's midtime) to its end
# From the end of a sector to its FFIs at MAST: in every dated snapshot of TESScut's answers
# a sector was served 35 to 44 days after it ended. No table of MAST's release dates is
# at hand offline (tess-point carries each sector's middle, not its release), so this is
# the longest lag seen, rounded up: a sector past it should be public.
RELEASE_LAG_DAYS = 45.0

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
        reaches its footprint. `None` (the default) for zero; a number is in
        degrees.
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
        until 45 days after its end). Empty, with the same columns, when no
        FFI holds any of the positions.

    Raises
    ------
    InvalidQueryError
        ``coords`` is not a SkyCoord (`~astro_tesscut.InvalidQueryTypeError`), cannot be
        transformed to ICRS or is not finite; ``radius`` is not an angle of
        zero or more; ``sectors`` holds a number tess-point does not know;
        ``now`` is not one `~astropy.time.Time`.

    Notes
    -----
    MAST's rule, with tess-point's geometry. TESScut finds the sectors of a
    position in the footprints of the FFIs in MAST's archive (CAOM's
    ``s_region``; astrocut's ``footprint_cutout`` reads the same polygons from
    MAST's footprint file and tests them with ``contains_point`` or, for an
    area, ``intersects_poly``). Each footprint is a spherical quadrilateral:
    great circles through the sky positions of the centres of the FFI's four
    corner pixels, (1, 1), (2136, 1), (2136, 2078) and (1, 2078), collateral
    pixels included. Checked against MAST's polygons for sectors 1-80 (the
    1,280 footprints astrocut's tests held, September 2024): their corners fall
    on those pixels to within the model's ~1 pixel, and over 20,000 random
    positions this footprint, drawn with tess-point's model, disagrees with
    MAST's on 0.12% of the FFIs found (0.64% for the whole image as a
    rectangle of pixels; any margin added only makes it worse).

    So a target on the collateral pixels is found (Pi Mensae in sector 35,
    column 2114.5), unlike with tess-point's science pixels (columns 45 to
    2092, rows 1 to 2048); but the edges, straight on the sky, cut inside the
    image where the optics bend it, by up to 8 pixels at the middle of the
    edges far from the camera's axis, and there MAST does not list a target
    although it is on the image. A target within a gap between CCDs can be on
    two footprints. With a radius, a footprint counts when the circle reaches
    it: the target inside, or within the radius of an edge or a corner
    (exact on the sphere).

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> from astro_tesscut.sky.geometry import locate
    >>> pi_men = SkyCoord(84.2911879979852, -80.4691197969941, unit="deg")
    >>> locate(pi_men, sectors=[1, 2, 3, 4])["sectorName"].tolist()
    ['tess-s0001-4-2', 'tess-s0004-4-3']
    """
    ra, dec = _parse_coords(coords)
    radius_deg = parse_radius(radius).deg
    now = _parse_now(now)
    model, edges = _taken(_parse_sectors(sectors, pointing_model().sectors))
    target, sector, camera, ccd, column, row = (
        np.concatenate(part)
        for part in zip(*_chunks(ra, dec, model, edges, radius_deg), strict=True)
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


def cutout_radius(size):
    """The angle from a cutout's centre to its corners, in degrees.

    A cutout of ``size`` (a `~astro_tesscut.sizes.CutoutSize`) overlaps every
    FFI that a circle of this radius round its centre reaches, and perhaps a
    few more (the circle holds the rectangle): the radius for finding which
    sectors a cutout falls on, as TESScut does with the cutout's own
    rectangle. Pixels count as ``ARCSEC_PER_PIXEL``.
    """
    return float(np.hypot(size.x, size.y)) / 2 * _ARCSEC_PER_UNIT[size.units] / 3600


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
    model, edges = _taken(index)
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
            np.asarray(ra, float), np.asarray(dec, float), model, edges, radius_deg
        )
    ]
    target, *rest = (np.concatenate(part) for part in zip(*parts, strict=True))
    return target.astype(np.int64), *rest


def _taken(index):
    """The pointing model and the footprints of the sectors at ``index`` only.

    The footprints as `_reaches` takes them: the corners and inward edge normals of
    `.pointing.footprints`, and the normals of the planes that bound the span of each
    edge (through the edge's axis and its first or its last corner, facing the edge).
    """
    corners, normals = (part[index] for part in footprints())
    following = np.roll(corners, -1, axis=-2)
    axis = np.cross(corners, following)
    return pointing_model().take(index), (
        corners,
        normals,
        np.cross(axis, corners),
        np.cross(following, axis),
    )


def _chunks(ra, dec, model, edges, radius_deg):
    """`_hits` over a bounded number of targets at a time, target indices made global.

    At least one chunk, so that no targets still gives correctly typed arrays.
    """
    for start in range(0, max(len(ra), 1), _CHUNK):
        target, *rest = _hits(
            ra[start : start + _CHUNK], dec[start : start + _CHUNK], model, radius_deg, edges
        )
        yield (target + start, *rest)


def _released(midtimes, now):
    """Whether each sector's FFIs should be public at ``now`` (a Time)."""
    return midtimes + SECTOR_HALF_LENGTH_DAYS + RELEASE_LAG_DAYS <= now.jd


def _hits(ra, dec, model, radius_deg, edges):
    """Every (target, sector, camera, CCD) whose footprint a target's circle reaches.

    ``edges`` are `.pointing.footprints` for the sectors of ``model``. Returns
    target, sector (index into ``model``), camera and CCD (0-based) and the
    pixel column and row, as arrays in that sort order.
    """
    n_sectors = len(model.sectors)
    # Each target in each camera's frame, as Levine_FPG.radec2pix, all at once.
    sky = np.stack(unit_vectors(ra, dec), axis=-1)
    frame = (sky @ model.rmat4.reshape(-1, 3).T).reshape(len(ra), n_sectors, 4, 3)
    x, y, z = np.moveaxis(frame, -1, 0)

    # Levine_FPG.star_in_fov widened by the radius, with the angles compared as
    # sines and tangents; never behind a camera, where its optics mean nothing. Every
    # footprint lies within it (its corners are less than 12.4 deg off the camera's axes).
    min_latitude = np.radians(max(_FOV_MIN_LATITUDE_DEG - radius_deg, 0.0))
    max_tan = np.tan(np.radians(min(_FOV_HALF_WIDTH_DEG + radius_deg, 90.0)))
    in_view = (
        (z > np.sin(min_latitude) * np.sqrt(x * x + y * y + z * z))
        & (np.abs(x) <= max_tan * z)
        & (np.abs(y) <= max_tan * z)
    )
    target, sector, camera = np.nonzero(in_view)

    reached = _reaches(sky[target], edges, (sector, camera), np.radians(radius_deg))
    pair, ccd = np.nonzero(reached)
    fp_x, fp_y = focal_plane(
        x[in_view][pair], y[in_view][pair], z[in_view][pair], model, sector[pair], camera[pair]
    )
    column, row = pixels_on_ccds(fp_x, fp_y, model, sector[pair], camera[pair])
    picked = np.arange(len(pair))
    return target[pair], sector[pair], camera[pair], ccd, column[picked, ccd], row[picked, ccd]


def _reaches(target, edges, cameras, radius):
    """Whether a circle of ``radius`` (radians) round each target reaches each footprint.

    ``target`` is (k, 3) unit vectors, ``cameras`` the (sector, camera) index of each
    into ``edges``, the footprints as `_taken` gives them. Returns (k, 4), for the
    camera's 4 CCDs: the target inside the footprint, or within ``radius`` of an edge
    (an arc of a great circle) or a corner.
    """
    corners, normals, after_start, before_end = edges

    def dot(vectors):
        return np.einsum("kcej,kj->kce", vectors[cameras], target, optimize=True)

    # The sine of the angle from each edge's great circle, positive inside.
    sines = dot(normals)
    inside = np.all(sines >= 0, axis=-1)
    if radius <= 0:
        return inside
    # Within the span of an edge its nearest point is the foot of the perpendicular;
    # elsewhere one of its ends, which are also the others' ends.
    beside = (dot(after_start) >= 0) & (dot(before_end) >= 0)
    to_edge = np.arcsin(np.minimum(np.abs(sines), 1.0))
    # From chord lengths: precise for the small angles that matter here.
    chords = np.linalg.norm(corners[cameras] - target[:, None, None], axis=-1)
    to_corner = 2 * np.arcsin(np.minimum(chords / 2, 1.0))
    distance = np.where(beside, to_edge, to_corner).min(axis=-1)
    return inside | (distance <= radius)


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
            f"sectors: unknown sector{'s' if len(unknown) > 1 else ''} {sector_ranges(unknown)}; "
            f"the pointing model knows {sector_ranges(known)}"
        )
    return np.flatnonzero(np.isin(known, wanted))


def sector_ranges(values):
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
