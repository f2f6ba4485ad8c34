"""Cutouts from FFI cubes: where they fall, what they read, the target pixel files they make.

The pixel window of a cutout is placed exactly as astrocut places it (so the
same cube, position and size give the same pixels): the target's pixel
position through the WCS of the FFI in the middle of the sector, the window's
edges rounded half to even. Only the window's rows are read from the cube.
"""

import collections
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..exceptions import InvalidQueryError
from ..files import cutout_from_bytes, write_files
from ..sizes import parse_size
from ..targets import parse_coordinates
from .cube import FFICube, open_cube
from .tpf import tpf_bytes, tpf_name

__all__ = ["cut", "cutout", "cutout_windows", "cutouts"]

_WORKERS = 3  # cutouts made at once in a batch


def cutout(cube, coordinates, *, size=5):
    """Cut a target pixel file out of an FFI cube.

    Parameters
    ----------
    cube : path-like or `~astro_tesscut.archive.cube.FFICube`
        The cube (astrocut's or MAST's format).
    coordinates : str, `~astropy.coordinates.SkyCoord` or (ra, dec)
        The cutout's centre, in any form `~astro_tesscut.TessCutClass` takes.
    size : int, (ny, nx), or `~astropy.units.Quantity`, optional
        As for `~astro_tesscut.TessCutClass.get_cutouts`; 5 pixels by default.

    Returns
    -------
    `~astropy.io.fits.HDUList`
        In TESScut's format; ``filename()`` gives TESScut's name for it.

    Raises
    ------
    InvalidQueryError
        The window lies wholly off the cube.
    """
    (hdul,) = cutouts(cube, coordinates, size=size)
    return hdul


def cutouts(cube, coordinates, *, size=5, output_dir=None):
    """Cut target pixel files for many targets out of one FFI cube.

    The cube's headers and table are read once for all of them.

    Parameters
    ----------
    cube : path-like or `~astro_tesscut.archive.cube.FFICube`
        The cube.
    coordinates : `~astropy.coordinates.SkyCoord` (scalar or array), or one position
        The cutouts' centres.
    size : int, (ny, nx), or `~astropy.units.Quantity`, optional
        The same for every cutout.
    output_dir : path-like, optional
        Write the files here under TESScut's names (each complete before it
        takes its name) and return their paths, instead of `HDUList` objects.

    Returns
    -------
    list of `~astropy.io.fits.HDUList`, or of `pathlib.Path` with ``output_dir``
        One per target, in order.
    """
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
    if output_dir is None:
        keep = cutout_from_bytes
    else:

        def keep(name, data):
            (path,) = write_files([(name, data)], output_dir)
            return path

    return list(cut(cube, _positions(coordinates), parse_size(size), keep=keep))


def cut(cube, coords, size, *, skip_off_cube=False, keep=None):
    """Yield the target pixel file of each position, as ``(name, data)`` (data: uint8 array)
    or as what ``keep(name, data)`` makes of it.

    Parameters
    ----------
    cube : path-like or `~astro_tesscut.archive.cube.FFICube`
        The cube.
    coords : `~astropy.coordinates.SkyCoord`
        A 1-d array of positions.
    size : `~astro_tesscut.sizes.CutoutSize`
        The cutouts' size.
    skip_off_cube : bool, optional
        Leave out positions whose window misses the cube instead of raising.
    keep : callable, optional
        Run on each file where it is made (in a worker thread for a batch), so
        that writing it overlaps making the next.
    """
    cube = cube if isinstance(cube, FFICube) else open_cube(cube)
    windows = cutout_windows(cube, coords, size)

    def make(job):
        coord, (column, column_stop, row, row_stop) = job
        ra, dec = float(coord.ra.deg), float(coord.dec.deg)
        if column_stop <= 0 or row_stop <= 0 or column >= cube.columns or row >= cube.rows:
            if skip_off_cube:
                return None
            raise InvalidQueryError(
                f"coordinates: ({ra}, {dec}) lies off {cube.sector_name}; its cutout window "
                f"(columns {column}..{column_stop - 1}, rows {row}..{row_stop - 1}) misses the "
                f"cube's {cube.columns} x {cube.rows} pixels"
            )
        pixels, on_cube = cube.read_pixels(row, row_stop, column, column_stop)
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
        )
        name = tpf_name(cube, ra, dec, column_stop - column, row_stop - row)
        return (name, data) if keep is None else keep(name, data)

    jobs = zip(coords, windows, strict=True)
    for result in _ahead(make, jobs) if len(coords) > 1 else map(make, jobs):
        if result is not None:
            yield result


def _ahead(function, items):
    """``function(item)`` for each item, a few computed ahead in threads, yielded in order.

    Reads, copies and writes release the GIL, so a second core works while
    the caller writes the previous file; the lookahead bounds the memory held.
    """
    pending = collections.deque()
    for item in items:
        pending.append(_workers().submit(function, item))
        if len(pending) > 2 * _WORKERS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@functools.cache
def _workers():
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="astro_tesscut-cutout")


def cutout_windows(cube, coords, size):
    """The pixel windows of cutouts, as astrocut computes them.

    Returns
    -------
    `numpy.ndarray`
        Integer (n, 4): first column, column after the last, first row, row
        after the last, 0-based, possibly past the cube's edges.
    """
    from astropy import units as u
    from astropy.wcs.utils import proj_plane_pixel_scales

    wcs = cube.wcs
    x, y = wcs.all_world2pix(coords.ra.deg, coords.dec.deg, 0, quiet=True)
    centre = np.stack([np.atleast_1d(x), np.atleast_1d(y)])
    if not np.isfinite(centre).all():
        raise InvalidQueryError(
            f"coordinates: some positions lie far outside {cube.sector_name}'s footprint"
        )
    halves = []
    for axis, side in enumerate((size.x, size.y)):
        if size.units == "px":
            halves.append(side / 2)
        else:
            unit = {"arcsec": u.arcsec, "arcmin": u.arcmin, "d": u.deg}[size.units]
            scale = proj_plane_pixel_scales(wcs)[axis] * u.Unit(wcs.wcs.cunit[axis])
            halves.append(float((side * unit / scale).decompose()) / 2)
    windows = np.empty((centre.shape[1], 4), dtype=int)
    for axis, half in enumerate(halves):
        low = np.round(centre[axis] - half).astype(int)
        high = np.round(centre[axis] + half).astype(int)
        tiny = low == high  # a window that rounds to nothing keeps the centre's pixel
        low[tiny] = np.floor(centre[axis][tiny]).astype(int)
        high[tiny] = low[tiny] + 1
        windows[:, 2 * axis], windows[:, 2 * axis + 1] = low, high
    return windows


@functools.lru_cache(maxsize=8)
def _ffi_wcs_cards(cube):
    return tuple((keyword, value, "") for keyword, value in cube.wcs_cards)


def _positions(coordinates):
    from astropy.coordinates import SkyCoord

    if isinstance(coordinates, SkyCoord) and not coordinates.isscalar:
        if not (
            np.isfinite(coordinates.icrs.ra.deg).all()
            and np.isfinite(coordinates.icrs.dec.deg).all()
        ):
            raise InvalidQueryError("coordinates: every position must be finite")
        return coordinates.icrs.reshape(-1)
    return parse_coordinates(coordinates).reshape((1,))


def _linear_wcs(cube, column, column_stop, row, row_stop):
    """A TAN WCS tangent to the FFI's at the window's centre, for the table columns.

    Column WCS keywords have no room for SIP terms; over a cutout the
    difference is far below a pixel (see `_residual` for the APERTURE WCS).
    """
    wcs = cube.wcs
    # Centre of the window in cutout pixels, 1-based (FITS), and in FFI pixels, 0-based.
    crpix = ((column_stop - column + 1) / 2, (row_stop - row + 1) / 2)
    x0, y0 = column + crpix[0] - 1, row + crpix[1] - 1
    ra, dec = wcs.all_pix2world(
        [x0, x0 + 0.5, x0 - 0.5, x0, x0], [y0, y0, y0, y0 + 0.5, y0 - 0.5], 0
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
    from astropy.wcs import Sip

    moved = cube.wcs.deepcopy()
    moved.wcs.crpix = moved.wcs.crpix - (column, row)
    if cube.wcs.sip is not None:
        sip = cube.wcs.sip
        moved.sip = Sip(sip.a, sip.b, sip.ap, sip.bp, sip.crpix - (column, row))
    xs = np.array([0, width - 1, 0, width - 1, (width - 1) / 2])
    ys = np.array([0, 0, height - 1, height - 1, (height - 1) / 2])
    ra1, dec1 = moved.all_pix2world(xs, ys, 0)
    ra0, dec0 = cube.wcs.all_pix2world(xs + column, ys + row, 0)
    separation = _separation(ra0, dec0, ra1, dec1)
    return float(separation.max()), float(np.sqrt(np.sum(separation**2)))


def _separation(ra0, dec0, ra1, dec1):
    """Angular separations in degrees (the haversine formula, stable for tiny angles)."""
    ra0, dec0, ra1, dec1 = map(np.radians, (ra0, dec0, ra1, dec1))
    a = np.sin((dec1 - dec0) / 2) ** 2 + np.cos(dec0) * np.cos(dec1) * np.sin((ra1 - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))
