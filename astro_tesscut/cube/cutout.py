"""Cutouts from FFI cubes: where they fall, what they read, the target pixel files they make.

The pixel window of a cutout is placed exactly as astrocut places it (so the
same cube, position and size give the same pixels): the target's pixel
position through the WCS of the FFI in the middle of the sector, the window's
edges rounded half to even. Where an edge falls within a millionth of a pixel
of a tie (a position made from a whole or half pixel, say), the last bits
decide it, and the window is placed with astropy exactly as astrocut does.
Only the window's rows are read from the cube.

That WCS is in the cube's table, which a cube just opened has not read yet.
So the first cutout of a remote cube guesses its window from TESS's pointing model
(``astro_tesscut.sky.pointing``, a pixel or two off) and reads those rows, widened by a margin,
in the same round trip as the table: a cold cutout costs two round trips,
the headers and then everything else. A guess that misses costs one more.

Positions travel as plain ICRS degrees and the WCS is evaluated with numpy
(``astro_tesscut.sky.sip``), so that a cutout imports neither astropy.coordinates nor
astropy.wcs unless the caller's input needs them.
"""

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cutout_names import cutout_name
from ..exceptions import InvalidFileError, InvalidQueryError, TessCutError
from ..ffi import COLUMNS, ROWS
from ..files import cutout_from_bytes, write_files
from ..sizes import LEAST_PIXEL_SCALE, parse_size
from ..sky.pointing import ffi_pixels, pointing_model
from ..targets import positions_of
from .ffi_cube import CADENCE_BYTES, FFICube, open_cube
from .pipeline import ahead, check_room, holding, submit
from .source import is_url
from .tpf import tpf_bytes

__all__ = ["cutout", "cutouts"]

# Pixels added on each side of a window guessed from the pointing model: it
# agrees with the FFIs' WCS to 2.2 pixels at worst (tests/test_pointing.py).
_GUESS_MARGIN = 3
# Within this many pixels of a rounding tie, the last bits of a position decide which way
# a window's edge rounds: there it is placed with astropy, as astrocut places it (the numpy
# WCS here agrees with astropy's to 5e-10 pixels elsewhere).
_TIE = 1e-6
GROUP_TARGETS = 16  # most neighbouring positions whose pixels are read together
GROUP_BYTES = 64 * 2**20  # and most pixel bytes they hold
# Within a cube row, runs of pixels at most this far apart are one request:
# fetching a gap this small costs less than a request does.
MERGE_GAP = 32 * 1024


def cutout(cube, coordinates, *, size=5, storage_options=None):
    """Cut a target pixel file out of an FFI cube.

    Parameters
    ----------
    cube : path-like, URL or ``FFICube``
        The cube (astrocut's or MAST's format): a path, or any fsspec URL
        such as ``s3://stpubdata/tess/public/mast/tess-s0001-4-2-cube.fits``.
    coordinates : str, `~astropy.coordinates.SkyCoord` or (ra, dec)
        The cutout's centre, in any form `~astro_tesscut.TessCutClass` takes.
    size : int, (ny, nx), or `~astropy.units.Quantity`, optional
        As for `~astro_tesscut.TessCutClass.get_cutouts`; 5 pixels by default.
    storage_options : dict, optional
        For a URL: fsspec's (s3fs's) options, such as ``{"anon": True}``.

    Returns
    -------
    `~astropy.io.fits.HDUList`
        In TESScut's format; ``filename()`` gives TESScut's name for it.

    Raises
    ------
    InvalidQueryError
        The window lies wholly off the cube.
    """
    (hdul,) = cutouts(cube, coordinates, size=size, storage_options=storage_options)
    return hdul


def cutouts(cube, coordinates, *, size=5, output_dir=None, storage_options=None):
    """Cut target pixel files for many targets out of one FFI cube.

    The cube's headers and table are read once for all of them.

    Parameters
    ----------
    cube : path-like, URL or ``FFICube``
        The cube, as for `cutout`.
    coordinates : `~astropy.coordinates.SkyCoord` (scalar or array), or one position
        The cutouts' centres.
    size : int, (ny, nx), or `~astropy.units.Quantity`, optional
        The same for every cutout.
    output_dir : path-like, optional
        Write the files here under TESScut's names (each complete before it
        takes its name) and return their paths, instead of `HDUList` objects.
    storage_options : dict, optional
        For a URL: fsspec's (s3fs's) options, such as ``{"anon": True}``.

    Returns
    -------
    list of `~astropy.io.fits.HDUList`, or of `pathlib.Path` with ``output_dir``
        One per target, in order.
    """
    ra, dec = positions_of(coordinates)
    size = parse_size(size)
    if output_dir is None:
        keep = cutout_from_bytes
    else:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)

        def keep(name, data):
            (path,) = write_files([(name, data)], output_dir)
            return path

    return list(cut(prepare_cube(cube, storage_options), ra, dec, size, keep=keep))


def prepare_cube(cube, storage_options=None, *, key=None):
    """The `~astro_tesscut.cube.ffi_cube.FFICube` at ``cube`` (or ``cube`` itself), opened
    for cutting.

    For a URL, TESS's pointing model, which guesses the first cutout's rows,
    is built on a thread while the cube's headers are in flight.

    Raises
    ------
    InvalidFileError
        The cube's header names another (sector, camera, ccd) than ``key``, the
        one its name gives (which its files would be named after otherwise).
    """
    if isinstance(cube, FFICube):
        return cube
    if is_url(cube):
        submit(pointing_model)
    opened = open_cube(cube, storage_options)
    if key is not None and opened.key is not None and tuple(opened.key) != tuple(key):
        name = str(cube).replace("\\", "/").rsplit("/", 1)[-1]  # as opened, links included
        raise InvalidFileError(
            "cube: {} holds sector {}, camera {}, CCD {} by its header, not sector {}, "
            "camera {}, CCD {} as its name says; refusing it".format(name, *opened.key, *key)
        )
    return opened


@dataclass
class Outcome:
    """What cutting one position gave (`cut_many`).

    Attributes
    ----------
    index : int
        The position's index.
    name : str
        TESScut's name of its file ("" when there is none).
    made : object
        What ``keep`` made of the file (`None` when there is none).
    skipped : bool
        A whole file of that name was there already (``done``): not made again.
    error : Exception or None
        Why there is no file: its window lies off the cube (``off_cube``), it
        would hold more memory than the budget, its pixels could not be read,
        its file not kept.
    off_cube : bool
        Its window misses the cube.
    """

    index: int
    name: str = ""
    made: object = None
    skipped: bool = False
    error: Exception | None = None
    off_cube: bool = False


def cut_many(cube, ra, dec, size, *, keep=None, done=None, windows=None, time=None):
    """Cut each position's window out of ``cube``: the one cutting path, of one target
    and of a batch's task alike.

    Neighbouring positions (consecutive ones, as a batch orders them) are read
    in groups (at most `GROUP_TARGETS` of them and `GROUP_BYTES` of pixels),
    the runs of a cube row they share, or nearly, fetched once
    (`~astro_tesscut.cube.ffi_cube.FFICube.read_rectangles`); a few groups are
    made ahead on threads, within the memory budget.

    Parameters
    ----------
    cube : `~astro_tesscut.cube.ffi_cube.FFICube`
        The cube, opened.
    ra, dec : `numpy.ndarray`
        1-d arrays of ICRS positions, degrees.
    size : `~astro_tesscut.sizes.CutoutSize`
        The cutouts' size.
    keep : callable, optional
        ``keep(name, data)`` runs on each file where it is made (on a thread), so
        that writing it overlaps making the next; by default the file is kept
        as ``(name, data)`` (data: a uint8 array).
    done : callable, optional
        ``done(name)``: whether a whole file of that name is there already.
    windows : `numpy.ndarray`, optional
        The positions' windows, when they are placed otherwise than by their
        position (`pixel_window`); by default `cutout_windows`.
    time : `~astro_tesscut.targets.TimeWindow`, or a sequence of them, optional
        Only the cadences within this window (or each position's own; `None`:
        every cadence). Only their bytes are read; a window with no cadence of
        the cube misses it, as a window off its pixels does.

    Yields
    ------
    `Outcome`
        One per position, in order.
    """
    times = time if isinstance(time, list | tuple) else [time] * len(ra)
    if windows is None:
        # Guessing rows to read with the table pays when they are read whole, or when a
        # time window's runs in a row would merge into one request anyway: a pixel's
        # cadences span at most MERGE_GAP bytes.
        short = cube.frames * CADENCE_BYTES <= MERGE_GAP
        windows = cutout_windows(cube, ra, dec, size, guess=short or not any(times))
    else:
        cube.load()
    windows = np.asarray(windows).tolist()
    frames = [(0, cube.frames) if each is None else each.frames(cube.times) for each in times]
    outcomes = [Outcome(index) for index in range(len(windows))]
    wanted = []
    for outcome, window, target_ra, target_dec in zip(
        outcomes, windows, ra.tolist(), dec.tolist(), strict=True
    ):
        column, column_stop, row, row_stop = window
        first, stop = frames[outcome.index]
        if off_cube(cube, window):
            outcome.off_cube = True
            c0, r0 = cube.ccd_origin
            if (c0, r0) != (0, 0) or cube.columns < COLUMNS or cube.rows < ROWS:
                # A cube of a region of a CCD: the region, and the window, in FFI pixels
                # (1-based, as the sector table gives them).
                outcome.error = InvalidQueryError(
                    f"coordinates: ({target_ra}, {target_dec}) lies outside the region of "
                    f"{cube.sector_name} the cube holds (columns {c0 + 1}..{c0 + cube.columns}"
                    f", rows {r0 + 1}..{r0 + cube.rows} of the FFI, 1-based); its cutout "
                    f"window (columns {c0 + column + 1}..{c0 + column_stop}, rows "
                    f"{r0 + row + 1}..{r0 + row_stop}) misses it"
                )
                continue
            outcome.error = InvalidQueryError(
                f"coordinates: ({target_ra}, {target_dec}) lies off {cube.sector_name}; its "
                f"cutout window (columns {column}..{column_stop - 1}, rows {row}.."
                f"{row_stop - 1}) misses the cube's {cube.columns} x {cube.rows} pixels"
            )
            continue
        if first == stop:
            outcome.off_cube = True
            outcome.error = InvalidQueryError(
                f"time: no cadence of {cube.sector_name} lies within "
                f"{times[outcome.index]} (its FFIs' mid-times run from BTJD "
                f"{cube.times[0]:.4f} to {cube.times[-1]:.4f})"
            )
            continue
        try:
            check_room(
                column_stop - column,
                row_stop - row,
                stop - first,
                f"a cutout of {cube.sector_name}",
            )
        except InvalidQueryError as exc:
            outcome.error = exc
            continue
        name = cut_name(cube, target_ra, target_dec, window)
        if done is not None and done(name):
            outcome.name, outcome.skipped = name, True
            continue
        wanted.append(outcome.index)

    def make(group):
        rectangles = [(*_rectangle(windows[i]), *frames[i]) for i in group]
        with holding(_pixel_bytes(rectangles)):
            try:
                blocks = cube.read_rectangles(rectangles, gap=MERGE_GAP)
            except (TessCutError, OSError, ValueError) as exc:
                for i in group:
                    outcomes[i].error = exc
                return
            for i, block in zip(group, blocks, strict=True):
                outcome = outcomes[i]
                try:
                    outcome.name, data = cut_one(
                        cube, float(ra[i]), float(dec[i]), windows[i], block, frames[i]
                    )
                    outcome.made = (
                        (outcome.name, data) if keep is None else keep(outcome.name, data)
                    )
                except (TessCutError, OSError, ValueError) as exc:
                    outcome.error = exc

    groups = _groups(wanted, windows, frames)
    made = ahead(make, groups, remote=cube.source.remote) if len(groups) > 1 else map(make, groups)
    finished = 0  # outcomes up to here are final
    for group, _ in zip(groups, made, strict=True):
        yield from outcomes[finished : group[-1] + 1]
        finished = group[-1] + 1
    yield from outcomes[finished:]


def pixel_window(cube, pixel, size):
    """The window of a cutout asked by FFI pixel (a `~astro_tesscut.targets.FFIPixel`),
    placed on the pixel itself: ``size`` pixels wide (an angle at the FFI's own pixel
    scale), the pixel in the middle (left of the middle for an even side).

    Returns
    -------
    `numpy.ndarray`
        Integer (1, 4): first column, column after the last, first row, row after
        the last, 0-based in the cube, as `cutout_windows` gives them.
    """
    cube.load()
    scales = cube.projection.pixel_scales() * 3600  # arcsec per pixel
    sides = [max(round(side), 1) for side in size.pixels_at(scales)]
    window = []
    for centre, origin, side in zip((pixel.column, pixel.row), cube.ccd_origin, sides, strict=True):
        first = math.floor(centre + 0.5) - 1 - origin - (side - 1) // 2
        window += [first, first + side]
    return np.array([window])


def cut(cube, ra, dec, size, *, skip_off_cube=False, keep=None, windows=None):
    """Yield the target pixel file of each position, as ``(name, data)`` (data: uint8 array)
    or as what ``keep(name, data)`` makes of it (see `cut_many`).

    Parameters
    ----------
    cube : path-like or `~astro_tesscut.cube.ffi_cube.FFICube`
        The cube.
    ra, dec : `numpy.ndarray`
        1-d arrays of ICRS positions, degrees.
    size : `~astro_tesscut.sizes.CutoutSize`
        The cutouts' size.
    skip_off_cube : bool, optional
        Leave out positions whose window misses the cube instead of raising.
    keep, windows : optional
        As for `cut_many`.

    Raises
    ------
    InvalidQueryError
        A window lies off the cube, or would hold more memory than the budget.
    InvalidFileError
        The cube could not be read.
    """
    for outcome in cut_many(prepare_cube(cube), ra, dec, size, keep=keep, windows=windows):
        if outcome.error is None:
            yield outcome.made
        elif not (outcome.off_cube and skip_off_cube):
            raise outcome.error


def _rectangle(window):
    """A window (first column, column stop, first row, row stop) as a rectangle to read:
    (first row, row stop, first column, column stop)."""
    column, column_stop, row, row_stop = window
    return row, row_stop, column, column_stop


def _groups(indices, windows, frames):
    """Consecutive positions (neighbours, as a batch orders them) read together: at most
    `GROUP_TARGETS` of them and `GROUP_BYTES` of pixels (of their ``frames``, first and
    stop, each)."""
    groups, size = [], 0
    for i in indices:
        nbytes = _pixel_bytes([(*_rectangle(windows[i]), *frames[i])])
        if not groups or len(groups[-1]) == GROUP_TARGETS or size + nbytes > GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += nbytes
    return groups


def _pixel_bytes(rectangles):
    """Bytes of the pixels (and uncertainties) of rectangles, each with its frames."""
    return sum((r1 - r0) * (c1 - c0) * (f1 - f0) * 8 for r0, r1, c0, c1, f0, f1 in rectangles)


def off_cube(cube, window):
    """True when a window (as `cutout_windows` gives it) misses the cube entirely."""
    column, column_stop, row, row_stop = window
    return column_stop <= 0 or row_stop <= 0 or column >= cube.columns or row >= cube.rows


def cut_name(cube, ra, dec, window):
    """TESScut's name of the file of a target and its window."""
    column, column_stop, row, row_stop = window
    return cutout_name(cube.sector_name, ra, dec, column_stop - column, row_stop - row)


def cut_one(cube, ra, dec, window, pixels=None, frames=None):
    """The target pixel file of one target and its window: ``(name, data)``.

    ``pixels``, when given, are the window's (pixels, on_cube), already read;
    ``frames`` (first, stop) the FFIs they are of, every one by default.
    """
    column, column_stop, row, row_stop = window
    frames = frames or (0, cube.frames)
    if pixels is None:
        ((pixels, on_cube),) = cube.read_rectangles([(*_rectangle(window), *frames)])
    else:
        pixels, on_cube = pixels
    origin = cube.ccd_origin
    data = tpf_bytes(
        cube,
        corner=(column + origin[0], row + origin[1]),
        pixels=pixels,
        on_cube=on_cube,
        ra=ra,
        dec=dec,
        aperture_wcs=aperture_wcs(cube, column, row),
        residual=_residual(cube, column, row, column_stop - column, row_stop - row),
        linear_wcs=_linear_wcs(cube, column, column_stop, row, row_stop),
        frames=frames,
    )
    return cut_name(cube, ra, dec, window), data


def cutout_windows(cube, ra, dec, size, *, guess=True):
    """The pixel windows of cutouts, as astrocut computes them.

    Parameters
    ----------
    cube : `~astro_tesscut.cube.ffi_cube.FFICube`
        The cube; a first cutout of it reads its table along with the
        guessed rows of the first position (see the module docstring).
    ra, dec : `numpy.ndarray`
        ICRS positions, degrees.
    size : `~astro_tesscut.sizes.CutoutSize`
        The cutouts' size.
    guess : bool, optional
        For a cube not loaded yet, read the first position's rows, guessed,
        with its table (see the module docstring).

    Returns
    -------
    `numpy.ndarray`
        Integer (n, 4): first column, column after the last, first row, row
        after the last, 0-based, possibly past the cube's edges.
    """
    ra, dec = np.atleast_1d(ra), np.atleast_1d(dec)
    if len(ra):
        cube.load(prefetch=_guessed_window(cube, ra[0], dec[0], size) if guess else None)
    projection = cube.projection
    centre = np.stack(projection.world_to_pixel(ra, dec))
    if not np.isfinite(centre).all():
        raise InvalidQueryError(
            f"coordinates: some positions lie far outside {cube.sector_name}'s footprint"
        )
    scales = projection.pixel_scales() * 3600  # arcsec per pixel
    halves = [side / 2 for side in size.pixels_at(scales)]
    windows = _windows(centre, halves)
    tied = _near_a_tie(centre, halves)
    if tied.any():
        windows[tied] = _astrocut_windows(cube, ra[tied], dec[tied], size)
    return windows


def _near_a_tie(centre, halves):
    """Which windows have an edge within `_TIE` of a rounding tie: a half pixel (an edge),
    or a whole one (the centre of a window too small to keep more than one pixel)."""
    near = np.zeros(centre.shape[1], dtype=bool)
    for axis, half in enumerate(halves):
        for edge in (centre[axis] - half, centre[axis] + half, centre[axis] + 0.5):
            near |= np.abs(edge % 1 - 0.5) < _TIE
    return near


def _astrocut_windows(cube, ra, dec, size):
    """Windows placed exactly as astrocut (1.4) places them, with astropy: the centres by
    ``SkyCoord.to_pixel`` (``all_world2pix``), an angle's half side by quantities."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import proj_plane_pixel_scales

    wcs = cube.wcs
    centre = np.stack(SkyCoord(ra, dec, unit="deg").to_pixel(wcs))
    if size.units == "px":
        halves = [size.x / 2, size.y / 2]
    else:
        scales = proj_plane_pixel_scales(wcs)
        halves = [
            ((side * u.Unit(size.units)) / u.Quantity(scale, unit)).decompose().value / 2
            for side, scale, unit in zip((size.x, size.y), scales, wcs.wcs.cunit, strict=True)
        ]
    return _windows(centre, halves)


def _windows(centre, halves):
    """Windows around (2, n) pixel centres, edges rounded half to even, as astrocut's."""
    windows = np.empty((centre.shape[1], 4), dtype=int)
    for axis, half in enumerate(halves):
        low = np.round(centre[axis] - half).astype(int)
        high = np.round(centre[axis] + half).astype(int)
        tiny = low == high  # a window that rounds to nothing keeps the centre's pixel
        low[tiny] = np.floor(centre[axis][tiny]).astype(int)
        high[tiny] = low[tiny] + 1
        windows[:, 2 * axis], windows[:, 2 * axis + 1] = low, high
    return windows


def _guessed_window(cube, ra, dec, size):
    """Rows and columns (row_start, row_stop, column_start, column_stop) that should hold
    the first cutout of a cube not yet loaded, from the pointing model; `None` when the
    cube is loaded or the model cannot say (a sector it does not know, a CCD it misses)."""
    if cube.loaded or cube.key is None or not cube.source.remote:
        return None
    sector, camera, ccd = cube.key
    if sector not in pointing_model().sectors or not (1 <= camera <= 4 and 1 <= ccd <= 4):
        return None
    column, row = ffi_pixels(ra, dec, sector, camera, ccd)
    centre = np.array([column - 1, row - 1])  # 0-based; MAST's cubes are whole FFIs
    if not np.isfinite(centre).all():
        return None
    # At the fewest arcseconds a pixel anywhere on a CCD: an angle's window guessed large.
    halves = [side / 2 for side in size.pixels_at(LEAST_PIXEL_SCALE)]
    ((column, column_stop, row, row_stop),) = _windows(centre, halves)
    window = (
        max(row - _GUESS_MARGIN, 0),
        min(row_stop + _GUESS_MARGIN, cube.rows),
        max(column - _GUESS_MARGIN, 0),
        min(column_stop + _GUESS_MARGIN, cube.columns),
    )
    return window if window[0] < window[1] and window[2] < window[3] else None


@functools.lru_cache(maxsize=8)
def _ffi_wcs_cards(cube):
    return tuple((keyword, value, "") for keyword, value in cube.wcs_cards)


def _linear_wcs(cube, column, column_stop, row, row_stop):
    """A TAN WCS tangent to the FFI's at the window's centre, for the table columns.

    Column WCS keywords have no room for SIP terms; over a cutout the
    difference is far below a pixel (see `_residual` for the APERTURE WCS).
    """
    # Centre of the window in cutout pixels, 1-based (FITS), and in FFI pixels, 0-based.
    crpix = ((column_stop - column + 1) / 2, (row_stop - row + 1) / 2)
    x0, y0 = column + crpix[0] - 1, row + crpix[1] - 1
    ra, dec = cube.projection.pixel_to_world(
        np.array([x0, x0 + 0.5, x0 - 0.5, x0, x0]), np.array([y0, y0, y0, y0 + 0.5, y0 - 0.5])
    )
    xi, eta = _gnomonic(np.radians(ra), np.radians(dec), np.radians(ra[0]), np.radians(dec[0]))
    cd = [[xi[1] - xi[2], xi[3] - xi[4]], [eta[1] - eta[2], eta[3] - eta[4]]]
    return {"crpix": crpix, "crval": (float(ra[0]), float(dec[0])), "cd": np.degrees(cd).tolist()}


def _gnomonic(ra, dec, ra0, dec0):
    """Standard (tangent-plane) coordinates of points about (ra0, dec0), radians."""
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    xi = np.cos(dec) * np.sin(ra - ra0) / cos_c
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cos_c
    return xi, eta


def aperture_wcs(cube, column, row):
    """The APERTURE WCS cards: the FFI's TAN-SIP WCS moved to the cutout's origin (exact)."""
    shift = {"CRPIX1": column, "CRPIX2": row}
    return [(k, v - shift[k] if k in shift else v, c) for k, v, c in _ffi_wcs_cards(cube)]


def _residual(cube, column, row, width, height):
    """WCS_MSEP and WCS_SIG of the APERTURE WCS against the FFI's, degrees.

    The APERTURE WCS is the FFI's moved, so this measures only rounding;
    it is checked on the window's corners and centre.
    """
    xs = np.array([0, width - 1, 0, width - 1, (width - 1) / 2])
    ys = np.array([0, 0, height - 1, height - 1, (height - 1) / 2])
    ra1, dec1 = cube.projection.moved(column, row).pixel_to_world(xs, ys)
    ra0, dec0 = cube.projection.pixel_to_world(xs + column, ys + row)
    separation = _separation(ra0, dec0, ra1, dec1)
    return float(separation.max()), float(np.sqrt(np.sum(separation**2)))


def _separation(ra0, dec0, ra1, dec1):
    """Angular separations in degrees (the haversine formula, stable for tiny angles)."""
    ra0, dec0, ra1, dec1 = map(np.radians, (ra0, dec0, ra1, dec1))
    a = np.sin((dec1 - dec0) / 2) ** 2 + np.cos(dec0) * np.cos(dec1) * np.sin((ra1 - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))
