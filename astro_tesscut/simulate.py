"""Synthetic SPOC full-frame images with a real TESS WCS, for the demo, tests and benchmarks.

Each FFI has SPOC's layout: an empty primary HDU, the calibrated image in
extension 1 (float32, with the sector's real TAN-SIP WCS from
`tesswcs <https://github.com/tessgi/tesswcs>`_ and the
TSTART/TSTOP/BARYCORR/DQUALITY keywords) and its uncertainty in
extension 2. Stars are Gaussian PSFs on a smooth background, with photon and
read noise and a little pointing jitter from cadence to cadence.

The files say plainly that they are not TESS data: their primary header has
``ORIGIN = 'astro_tesscut.simulate'``, ``SIMDATA = T`` and ``SIMNOTE``, a
sentence saying so. All three travel into cubes built from them (the cube
builder sets ORIGIN to MAST's only for FFIs without SIMDATA) and into every
cutout of those cubes, whose ``CREATOR = 'astro_tesscut TargetPixelFile'``
is what lets lightkurve read them as TESS target pixel files.
"""

from pathlib import Path

import numpy as np

from .ffi import COLUMNS, ROWS, SCIENCE_COLUMNS, SCIENCE_ROWS

__all__ = ["FFI_SHAPE", "ffi_wcs", "write_ffis"]

FFI_SHAPE = (ROWS, COLUMNS)  # rows, columns, collateral pixels included
# Science pixels, 0-based: columns 44..2091, rows 0..2047; the rest is collateral.
_SCIENCE_COLUMNS = slice(SCIENCE_COLUMNS[0] - 1, SCIENCE_COLUMNS[1])  # 0-based
_SCIENCE_ROWS = slice(SCIENCE_ROWS[0] - 1, SCIENCE_ROWS[1])
_PSF_SIGMA = 0.9  # pixels; TESS's PSF is about 1.9 pixels FWHM
_PSF_HALF_WIDTH = 6
_READ_NOISE = 10.0  # electrons per cadence
_SIMNOTE = "synthetic FFI made by astro_tesscut.simulate, not TESS data"


def ffi_wcs(sector, camera, ccd, *, corner=(0, 0)):
    """The real WCS of a sector, camera and CCD (from
    `tesswcs <https://github.com/tessgi/tesswcs>`__), shifted so that the FFI's 0-based
    pixel (column, row) ``corner`` becomes the first pixel."""
    from astropy.wcs import WCS
    from tesswcs import WCS as TessWCS

    header = TessWCS.from_sector(sector, camera, ccd).to_header()  # with SIP
    header["CRPIX1"] -= corner[0]
    header["CRPIX2"] -= corner[1]
    return WCS(header, relax=True)


def write_ffis(
    directory,
    *,
    sector=1,
    camera=4,
    ccd=2,
    n_frames=10,
    shape=FFI_SHAPE,
    corner=(0, 0),
    stars=(),
    start_tjd=1325.3,
    cadence_minutes=30.0,
    background=150.0,
    jitter=0.05,
    seed=0,
    primary_cards=None,
    progress=None,
):
    """Write ``n_frames`` synthetic FFIs into ``directory`` and return their paths.

    Parameters
    ----------
    directory : path-like
        Where to write (made if missing).
    sector, camera, ccd : int
        Whose real WCS and names the FFIs get.
    n_frames : int
        How many cadences.
    shape : (rows, columns)
        Image size; a smaller one is a region of the FFI starting at ``corner``.
    corner : (column, row)
        0-based FFI pixel of the region's first pixel.
    stars : iterable of (ra, dec, flux)
        Stars in degrees and e-/s.
    start_tjd, cadence_minutes : float
        Time of the first cadence (BTJD) and the cadence.
    background : float
        Sky level, e-/s, with a gentle gradient across the image.
    jitter : float
        RMS pointing jitter in pixels.
    seed : int
        Random seed; the same arguments give the same files.
    primary_cards : dict, optional
        More primary-header keywords, ``{keyword: value or (value, comment)}``,
        such as a name for the scene drawn.
    progress : callable, optional
        Called with each path written.

    Returns
    -------
    list of `pathlib.Path`
    """
    from astropy.io import fits

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    wcs = ffi_wcs(sector, camera, ccd, corner=corner)
    stars = np.asarray(list(stars), dtype=float).reshape(-1, 3)
    star_x, star_y = wcs.all_world2pix(stars[:, 0], stars[:, 1], 0) if len(stars) else ([], [])
    rows, columns = shape
    yy, xx = np.mgrid[:rows, :columns]
    sky = background * (
        1 + 0.1 * (xx + corner[0]) / FFI_SHAPE[1] + 0.05 * (yy + corner[1]) / FFI_SHAPE[0]
    )
    science = _science_mask(shape, corner)
    exposure = cadence_minutes * 60 * 0.8  # seconds on sky, as SPOC's deadtime leaves
    wcs_cards = wcs.to_header(relax=True)
    if corner != (0, 0):
        # A region of the CCD says where it lies, as cutouts do, with a physical WCS.
        wcs_cards.update(_physical_wcs(corner))

    paths = []
    for index in range(n_frames):
        tstart = start_tjd + index * cadence_minutes / 1440
        tstop = tstart + cadence_minutes / 1440
        dx, dy = rng.normal(0, jitter, 2)
        scene = sky.copy()
        for x, y, flux in zip(star_x, star_y, stars[:, 2], strict=True):
            _add_star(scene, x + dx, y + dy, flux)
        electrons = scene * exposure
        noisy = rng.normal(electrons, np.sqrt(electrons + _READ_NOISE**2)) / exposure
        error = np.sqrt(electrons + _READ_NOISE**2) / exposure
        noisy = np.where(science, noisy, 0).astype(np.float32)
        error = np.where(science, error, 0).astype(np.float32)

        name = _ffi_name(tstart, sector, camera, ccd)
        header = _image_header(
            wcs_cards, camera, ccd, tstart, tstop, quality=0 if index % 17 else 128
        )
        primary = fits.PrimaryHDU()
        primary.header.update(
            {
                "ORIGIN": "astro_tesscut.simulate",
                "TELESCOP": "TESS",
                "INSTRUME": "TESS Photometer",
                "CAMERA": camera,
                "CCD": ccd,
                "TSTART": tstart,
                "TSTOP": tstop,
                "DATE-OBS": _utc(tstart),
                "DATE-END": _utc(tstop),
                "FFIINDEX": 100000 + index,
                "SIMDATA": (True, "file is based on simulated data"),
                "SIMNOTE": _SIMNOTE,
                **(primary_cards or {}),
            }
        )
        hdul = fits.HDUList(
            [
                primary,
                fits.ImageHDU(noisy, header=header, name=f"CAMERA.CCD {camera}.{ccd} cal"),
                fits.ImageHDU(error, header=header, name=f"CAMERA.CCD {camera}.{ccd} uncert"),
            ]
        )
        path = directory / name
        hdul.writeto(path, overwrite=True, checksum=True)
        paths.append(path)
        if progress is not None:
            progress(path)
    return paths


def _physical_wcs(corner):
    return {
        "WCSNAMEP": "PHYSICAL",
        "CTYPE1P": "RAWX",
        "CUNIT1P": "PIXEL",
        "CRPIX1P": 1,
        "CRVAL1P": corner[0] + 1,
        "CDELT1P": 1.0,
        "CTYPE2P": "RAWY",
        "CUNIT2P": "PIXEL",
        "CRPIX2P": 1,
        "CRVAL2P": corner[1] + 1,
        "CDELT2P": 1.0,
    }


def _science_mask(shape, corner):
    rows, columns = shape
    column = np.arange(columns) + corner[0]
    row = np.arange(rows) + corner[1]
    in_columns = (column >= _SCIENCE_COLUMNS.start) & (column < _SCIENCE_COLUMNS.stop)
    in_rows = (row >= _SCIENCE_ROWS.start) & (row < _SCIENCE_ROWS.stop)
    return in_rows[:, None] & in_columns[None, :]


def _add_star(scene, x, y, flux):
    """Add a Gaussian PSF of total ``flux`` centred on 0-based pixel (x, y)."""
    rows, columns = scene.shape
    x0, y0 = round(x), round(y)
    row_range = slice(max(y0 - _PSF_HALF_WIDTH, 0), min(y0 + _PSF_HALF_WIDTH + 1, rows))
    column_range = slice(max(x0 - _PSF_HALF_WIDTH, 0), min(x0 + _PSF_HALF_WIDTH + 1, columns))
    if row_range.start >= row_range.stop or column_range.start >= column_range.stop:
        return
    yy, xx = np.mgrid[row_range, column_range]
    psf = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * _PSF_SIGMA**2))
    scene[row_range, column_range] += flux * psf / (2 * np.pi * _PSF_SIGMA**2)


def _image_header(wcs_cards, camera, ccd, tstart, tstop, *, quality):
    from astropy.io import fits

    header = fits.Header()
    header.update(
        {
            "INHERIT": True,
            "TIMEREF": "SOLARSYSTEM",
            "TASSIGN": "SPACECRAFT",
            "TIMESYS": "TDB",
            "BJDREFI": 2457000,
            "BJDREFF": 0.0,
            "TIMEUNIT": "d",
            "TSTART": (tstart, "observation start time in BTJD"),
            "TSTOP": (tstop, "observation stop time in BTJD"),
            "DATE-OBS": _utc(tstart),
            "DATE-END": _utc(tstop),
            "BARYCORR": (0.0041, "[d] barycentric time correction"),
            "DQUALITY": (quality, "data quality flags"),
            "CAMERA": (camera, "Camera number"),
            "CCD": (ccd, "CCD chip number"),
            "EXPOSURE": ((tstop - tstart) * 0.8, "[d] time on source"),
            "TIMEDEL": (tstop - tstart, "[d] time resolution of data"),
            "INT_TIME": (1.98, "[s] photon accumulation time per frame"),
            "NUM_FRM": (900, "number of frames per time stamp"),
            "BUNIT": ("electrons/s", "physical units of image data"),
        }
    )
    header.update(wcs_cards)
    return header


def _utc(tjd):
    from astropy.time import Time

    return Time(tjd + 2457000, format="jd", scale="tdb").utc.isot


def _ffi_name(tstart, sector, camera, ccd):
    """SPOC's FFI name, from the cadence's start time."""
    from astropy.time import Time

    stamp = Time(tstart + 2457000, format="jd", scale="tdb").utc.strftime("%Y%j%H%M%S")
    return f"tess{stamp}-s{sector:04d}-{camera}-{ccd}-0120-s_ffic.fits"
