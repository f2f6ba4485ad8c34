"""Which TESS sectors, cameras and CCDs see a position on the sky, offline.

tess-point (``tess_stars2px``) holds the spacecraft pointing of every sector
and the focal-plane geometry of the cameras, but maps one target at a time
in Python loops. `locate` evaluates the same model (``astro_tesscut.sky.pointing``) with numpy
for many targets, every sector, camera and CCD at once. Each FFI's footprint
on the sky is MAST's own polygon where the package carries it
(``data/tess_ffi_footprints.ecsv``), and elsewhere is drawn from the model as
MAST draws it (see `locate`'s notes).
"""

import functools
import numbers
import threading
from importlib.resources import files

import numpy as np

from ..exceptions import InvalidQueryError, InvalidQueryTypeError
from ..targets import BTJD_ZERO, parse_radius
from .pointing import focal_plane, footprints, pixels_on_ccds, pointing_model, unit_vectors

__all__ = ["cube_hits", "locate", "mast_footprints", "may_overlap", "sector_dates", "sector_ranges"]

# MAST's footprints of the SPOC FFIs (their s_region polygons), made and refreshed by
# benchmarks/make_footprints.py: sector, camera, ccd, then ra1 dec1 ... ra4 dec4 (deg).
FOOTPRINTS_FILE = "tess_ffi_footprints.ecsv"
_FOOTPRINT_COLUMNS = ["sector", "camera", "ccd"] + [
    f"{axis}{index}" for index in range(1, 5) for axis in ("ra", "dec")
]
# What the ``footprint`` column of `locate` says answered: MAST's polygon, or the model's.
FROM_MAST, FROM_MODEL = "MAST", "model"

SECTOR_HALF_LENGTH_DAYS = 13.7  # from the middle of a sector (tess-point's midtime) to its end
_SECTOR_SPAN_SLACK_DAYS = 3.0  # sectors are not all of one length
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

    Offline and vectorised: MAST's FFI footprints where the package carries
    them, tess-point's pointing and focal-plane model for the other sectors
    and for the pixel position, evaluated for every target, sector, camera and
    CCD at once.

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
        until 45 days after its end) and ``footprint``, whose footprint
        answered: ``"MAST"`` (MAST's own polygon, `mast_footprints`) or
        ``"model"`` (drawn from the pointing model, for sectors without one).
        Empty, with the same columns, when no FFI holds any of the positions.

    Raises
    ------
    InvalidQueryError
        ``coords`` is not a SkyCoord (`~astro_tesscut.InvalidQueryTypeError`), cannot be
        transformed to ICRS or is not finite; ``radius`` is not an angle of
        zero or more; ``sectors`` holds a number tess-point does not know;
        ``now`` is not one `~astropy.time.Time`.

    Notes
    -----
    MAST's rule, with MAST's footprints where known. TESScut finds the sectors
    of a position in the footprints of the FFIs in MAST's archive (CAOM's
    ``s_region``; astrocut's ``footprint_cutout`` reads the same polygons from
    MAST's footprint file and tests them with ``contains_point`` or, for an
    area, ``intersects_poly``). Each footprint is a spherical quadrilateral:
    great circles through four vertices. For every (sector, camera, CCD) in
    `mast_footprints` (sectors 1-80 as shipped) the vertices are MAST's, so
    the answer is MAST's polygon test itself. For the others they are the
    sky positions, by tess-point's model, of the centres of the FFI's four
    corner pixels, (1, 1), (2136, 1), (2136, 2078) and (1, 2078), collateral
    pixels included, where MAST's vertices lie: for sectors 1-80 nearly all
    of MAST's vertices fall on those pixels to within a pixel or two (a few
    reach further, up to 108 pixels for one corner of sector 1, camera 2,
    CCD 1), and over 20,000 random positions the model's footprint disagrees
    with MAST's on 0.12% of the FFIs found (0.64% for the whole image as a
    rectangle of pixels; any margin added only makes it worse). The pixel
    ``column`` and ``row`` always come from the model.

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
    model, edges, from_mast = _taken(_parse_sectors(sectors, pointing_model().sectors))
    target, sector, camera, ccd, column, row = (
        np.concatenate(part)
        for part in zip(*_chunks(ra, dec, model, edges, radius_deg), strict=True)
    )
    from astropy.table import Table

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
            "footprint": np.where(from_mast[sector, camera, ccd], FROM_MAST, FROM_MODEL),
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
        index = index[_released(model.midtimes[index], _parse_now(None))]
    model, edges, _ = _taken(index)
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
    MAST's polygons where `mast_footprints` has them, of `.pointing.footprints`
    elsewhere, and the normals of the planes that bound the span of each edge (through
    the edge's axis and its first or its last corner, facing the edge). Returns the
    model, those four (S, 4, 4, 4, 3) arrays and, (S, 4, 4), whether each is MAST's.
    """
    model = pointing_model()
    corners, normals, from_mast = (
        part[index] for part in _mast_vectors().merged(model.sectors, *footprints())
    )
    following = np.roll(corners, -1, axis=-2)
    axis = np.cross(corners, following)
    return (
        model.take(index),
        (corners, normals, np.cross(axis, corners), np.cross(following, axis)),
        from_mast,
    )


def mast_footprints():
    """MAST's footprints of the SPOC FFIs that the package carries, as a Table.

    One row per FFI, ``sector``, ``camera``, ``ccd`` and the four vertices of
    its ``s_region`` polygon, ``ra1``, ``dec1`` ... ``ra4``, ``dec4`` (ICRS
    degrees), in order round it; the table's ``meta`` says where and when
    they were taken from (``benchmarks/make_footprints.py`` makes the file
    and refreshes it from MAST's footprint cache). `locate` and `cube_hits`
    use these polygons for every FFI listed and the pointing model's
    elsewhere.
    """
    from astropy.table import Table

    return Table.read(files("astro_tesscut") / "data" / FOOTPRINTS_FILE, format="ascii.ecsv")


class _MastVectors:
    """`mast_footprints` as unit vectors, laid out like `.pointing.footprints`.

    ``sectors`` (M,) ascending; ``corners`` and ``normals`` (M, 4, 4, 4, 3), by sector,
    camera, CCD and vertex (the inward normal of the great circle from each vertex to
    the next); ``known`` (M, 4, 4), which FFIs the table lists.
    """

    def __init__(self, sector, camera, ccd, vertices):
        self.sectors = np.unique(sector)
        row = np.searchsorted(self.sectors, sector)
        count = len(self.sectors)
        self.known = np.zeros((count, 4, 4), dtype=bool)
        self.known[row, camera - 1, ccd - 1] = True
        ra, dec = vertices[:, 0::2], vertices[:, 1::2]
        vectors = np.stack(unit_vectors(ra, dec), axis=-1)  # (k, 4, 3)
        normals = np.cross(vectors, np.roll(vectors, -1, axis=-2))
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
        # The vertices may go round either way: the normals are turned to face inwards.
        inward = np.sign(np.einsum("kej,kj->ke", normals, vectors.sum(axis=-2)))
        self.corners = np.zeros((count, 4, 4, 4, 3))
        self.normals = np.zeros((count, 4, 4, 4, 3))
        self.corners[row, camera - 1, ccd - 1] = vectors
        self.normals[row, camera - 1, ccd - 1] = normals * inward[..., None]

    def merged(self, sectors, corners, normals):
        """The model's footprints (`.pointing.footprints` of ``sectors``) with MAST's put in
        where known: corners, normals and (S, 4, 4) whether each is MAST's. Remembered for
        the last model's arrays, so that a call costs nothing."""
        memo = getattr(self, "_memo", None)
        if memo is not None and memo[0] is corners:
            return memo[1]
        from_mast = np.zeros((len(sectors), 4, 4), dtype=bool)
        merged = (corners, normals, from_mast)
        if len(self.sectors):
            row = np.minimum(np.searchsorted(self.sectors, sectors), len(self.sectors) - 1)
            from_mast = self.known[row] & (self.sectors[row] == sectors)[:, None, None]
            chosen = from_mast[..., None, None]
            merged = (
                np.where(chosen, self.corners[row], corners),
                np.where(chosen, self.normals[row], normals),
                from_mast,
            )
        self._memo = (corners, merged)
        return merged


def _mast_vectors():
    """The footprint file as `_MastVectors`, read once per process."""
    with _READING:
        return _read_mast_vectors()


_READING = threading.Lock()


@functools.cache
def _read_mast_vectors():
    """Read the ECSV file's data rows with numpy (a millisecond; astropy's reader takes ten
    times that): after its ``#`` header, one line of column names, then numbers only."""
    text = (files("astro_tesscut") / "data" / FOOTPRINTS_FILE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or lines[0].split() != _FOOTPRINT_COLUMNS:
        raise ValueError(
            f"astro_tesscut/data/{FOOTPRINTS_FILE}: columns must be {' '.join(_FOOTPRINT_COLUMNS)}"
        )
    data = np.loadtxt(lines[1:], ndmin=2).reshape(-1, len(_FOOTPRINT_COLUMNS))
    sector, camera, ccd = data[:, :3].astype(int).T
    return _MastVectors(sector, camera, ccd, data[:, 3:])


def _chunks(ra, dec, model, edges, radius_deg):
    """`_hits` over a bounded number of targets at a time, target indices made global.

    At least one chunk, so that no targets still gives correctly typed arrays.
    """
    for start in range(0, max(len(ra), 1), _CHUNK):
        target, *rest = _hits(
            ra[start : start + _CHUNK], dec[start : start + _CHUNK], model, radius_deg, edges
        )
        yield (target + start, *rest)


def sector_dates(sectors):
    """Roughly when each of ``sectors`` was observed, by the pointing model: (start, stop),
    BTJD, its middle give or take ``SECTOR_HALF_LENGTH_DAYS``; `None` for a sector the
    model does not know."""
    model = pointing_model()
    middle = dict(zip(model.sectors.tolist(), (model.midtimes - BTJD_ZERO).tolist(), strict=True))
    return [
        (middle[s] - SECTOR_HALF_LENGTH_DAYS, middle[s] + SECTOR_HALF_LENGTH_DAYS)
        if s in middle
        else None
        for s in sectors
    ]


def may_overlap(sectors, window):
    """Which of ``sectors`` may hold cadences within ``window`` (a
    ``TimeWindow``), by their dates (`sector_dates`, widened by days either side:
    sectors differ in length): a boolean per sector. A sector the model does not know may."""
    slack = _SECTOR_SPAN_SLACK_DAYS
    return np.array(
        [
            dates is None or (dates[0] - slack <= window.stop and window.start <= dates[1] + slack)
            for dates in sector_dates(sectors)
        ],
        dtype=bool,
    )


def _released(midtimes, now):
    """Whether each sector's FFIs should be public at ``now`` (a Time)."""
    return midtimes + SECTOR_HALF_LENGTH_DAYS + RELEASE_LAG_DAYS <= now.jd


def _hits(ra, dec, model, radius_deg, edges):
    """Every (target, sector, camera, CCD) whose footprint a target's circle reaches.

    ``edges`` are the footprints of the sectors of ``model`` (`_taken`). Returns
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
    # footprint lies within it, the model's and MAST's (their corners are less than 12.4 deg
    # off the camera's axes; tests/test_geometry.py checks both).
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
    from astropy import units as u
    from astropy.coordinates import BaseCoordinateFrame, SkyCoord

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
    for number in sorted({int(value) for value in values}):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    parts = [str(first) if first == last else f"{first}-{last}" for first, last in runs]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _parse_now(now):
    from astropy.time import Time

    if now is None:
        return Time.now()
    if not isinstance(now, Time):
        raise InvalidQueryTypeError(
            f"now: must be an astropy Time, or None for the current time; got {type(now).__name__}"
        )
    if not now.isscalar:
        raise InvalidQueryError(f"now: must be a single time, got {now.size} of them")
    return now
