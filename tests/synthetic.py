"""Builders of small synthetic TESScut products, shared by every test.

The target pixel files have TESScut's real layout (PRIMARY; PIXELS with its
12 columns, image-column WCS keywords and TDIM; APERTURE with a celestial
and a physical WCS), at whatever size and length a test needs.
"""

import io
import json
import zipfile

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS

# Pi Mensae, the worked example's target.
PI_MEN_RA = 84.2911879979852
PI_MEN_DEC = -80.4691197969941

PIXEL_SCALE = (21 * u.arcsec).to_value(u.deg)
FLOAT_IMAGE_COLUMNS = ("FLUX", "FLUX_ERR", "FLUX_BKG", "FLUX_BKG_ERR")


def tpf_name(*, sector, camera, ccd, ra, dec, nx, ny):
    """The file name TESScut gives a cutout."""
    return f"tess-s{sector:04d}-{camera}-{ccd}_{ra:.6f}_{dec:.6f}_{nx}x{ny}_astrocut.fits"


def cutout_wcs(ra, dec, shape, *, rotation_deg=30.0):
    """A TAN WCS of TESS's pixel scale, centred on (ra, dec), for an image of ``shape``."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
    theta = np.radians(rotation_deg)
    wcs.wcs.cd = PIXEL_SCALE * np.array(
        [[-np.cos(theta), np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    )
    return wcs


def make_tpf(
    *,
    sector=1,
    camera=4,
    ccd=2,
    ra=PI_MEN_RA,
    dec=PI_MEN_DEC,
    shape=(45, 35),
    n_cadences=12,
    corner=(1520, 870),
    seed=0,
    stars=None,
    off_ccd_columns=0,
):
    """A target pixel file in TESScut's layout.

    Parameters
    ----------
    shape : (ny, nx)
        Rows and columns of the cutout.
    corner : (column, row)
        CCD column and row (1-based) of the cutout's first pixel. Pixels it
        puts outside the science pixels (CCD columns 45 to 2092, rows 1 to
        2048) are collateral: 0 in FLUX and FLUX_ERR, 1 in the aperture, as
        TESScut serves them.
    stars : list of (ra, dec, flux), optional
        Stars drawn as Gaussian PSFs; by default one of 5000 e-/s at (ra, dec).
    off_ccd_columns : int, optional
        How many of the first columns lie off the CCD: NaN in FLUX and
        FLUX_ERR, 0 in the aperture, as TESScut fills them.

    Returns
    -------
    `~astropy.io.fits.HDUList`
    """
    ny, nx = shape
    rng = np.random.default_rng(seed)
    wcs = cutout_wcs(ra, dec, shape)
    yy, xx = np.mgrid[:ny, :nx]
    scene = np.full((ny, nx), 50.0)
    for star_ra, star_dec, star_flux in [(ra, dec, 5000.0)] if stars is None else stars:
        x, y = wcs.wcs_world2pix([[star_ra, star_dec]], 0)[0]
        scene += star_flux / (2 * np.pi) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 2.0)
    flux = (scene + rng.normal(0, 2, (n_cadences, ny, nx))).astype(np.float32)
    column, row = corner[0] + np.arange(nx), corner[1] + np.arange(ny)
    science = ((row >= 1) & (row <= 2048))[:, None] & ((column >= 45) & (column <= 2092))
    flux[:, ~science] = 0
    flux[:, :, :off_ccd_columns] = np.nan
    error = np.sqrt(np.abs(flux)).astype(np.float32)
    on_ccd = np.ones((ny, nx), dtype=np.int32)
    on_ccd[:, :off_ccd_columns] = 0
    tstart = 1325.3 + 27.0 * (sector - 1)
    time = tstart + (np.arange(n_cadences) + 0.5) * (30 / 1440)
    quality = np.zeros(n_cadences, dtype=np.int32)
    quality[::5] = 128  # some flagged cadences, as real sectors have

    primary = fits.PrimaryHDU()
    primary.header.update(
        {
            "EXTNAME": "PRIMARY",
            "ORIGIN": "STScI/MAST",
            "CREATOR": "astrocut",
            "PROCVER": "1.4.0",
            "TELESCOP": "TESS",
            "INSTRUME": "TESS Photometer",
            "FFI_TYPE": "SPOC",
            "SECTOR": sector,
            "CAMERA": camera,
            "CCD": ccd,
            "RA_OBJ": ra,
            "DEC_OBJ": dec,
            "TSTART": float(time[0] - 1 / 96),
            "TSTOP": float(time[-1] + 1 / 96),
            "DATE-OBS": "2018-07-25T19:29:42.708",
            "DATE-END": "2018-08-22T15:59:41.745",
            "OBJECT": "",
            "TICID": 0,
            "TESSMAG": 0.0,
        }
    )
    image_format = f"{nx * ny}"
    columns = [
        fits.Column("TIME", "D", unit="BJD - 2457000, days", array=time),
        fits.Column("TIMECORR", "E", unit="d", array=np.full(n_cadences, 0.0042, np.float32)),
        fits.Column("CADENCENO", "J", array=np.arange(1, n_cadences + 1, dtype=np.int32)),
        fits.Column(
            "RAW_CNTS",
            image_format + "J",
            unit="count",
            null=-1,
            dim=f"({nx}, {ny})",
            array=np.full((n_cadences, ny, nx), -1, np.int32),
        ),
        fits.Column("FLUX", image_format + "E", unit="e-/s", dim=f"({nx}, {ny})", array=flux),
        fits.Column(
            "FLUX_ERR",
            image_format + "E",
            unit="e-/s",
            dim=f"({nx}, {ny})",
            array=error,
        ),
        fits.Column(
            "FLUX_BKG",
            image_format + "E",
            unit="e-/s",
            dim=f"({nx}, {ny})",
            array=np.zeros((n_cadences, ny, nx), np.float32),
        ),
        fits.Column(
            "FLUX_BKG_ERR",
            image_format + "E",
            unit="e-/s",
            dim=f"({nx}, {ny})",
            array=np.zeros((n_cadences, ny, nx), np.float32),
        ),
        fits.Column("QUALITY", "J", array=quality),
        fits.Column("POS_CORR1", "E", unit="pixel", array=np.zeros(n_cadences, np.float32)),
        fits.Column("POS_CORR2", "E", unit="pixel", array=np.zeros(n_cadences, np.float32)),
        fits.Column(
            "FFI_FILE",
            "38A",
            unit="pixel",
            array=[_ffi_name(i, sector, camera, ccd)[:38] for i in range(n_cadences)],
        ),
    ]
    pixels = fits.BinTableHDU.from_columns(columns, name="PIXELS")
    for number, column in enumerate(columns, start=1):
        if column.dim:
            pixels.header.update(_image_column_wcs(number, wcs, corner))

    aperture = fits.ImageHDU(on_ccd, name="APERTURE")
    aperture.header.update(wcs.to_header())
    aperture.header.update(
        {
            "WCSNAMEP": "PHYSICAL",
            "WCSAXESP": 2,
            "CTYPE1P": "RAWX",
            "CUNIT1P": "PIXEL",
            "CRPIX1P": 1,
            "CRVAL1P": corner[0],
            "CDELT1P": 1.0,
            "CTYPE2P": "RAWY",
            "CUNIT2P": "PIXEL",
            "CRPIX2P": 1,
            "CRVAL2P": corner[1],
            "CDELT2P": 1.0,
            "WCS_FFI": _ffi_name(n_cadences // 2, sector, camera, ccd),
        }
    )
    return fits.HDUList([primary, pixels, aperture])


def _ffi_name(index, sector, camera, ccd):
    """A SPOC FFI file name, unique per cadence."""
    return f"tess2018{index:07d}-s{sector:04d}-{camera}-{ccd}-0120-s_ffic.fits"


def _image_column_wcs(n, wcs, corner):
    """TESScut's table-column WCS keywords for image column ``n``."""
    keys = {
        f"WCAX{n}": 2,
        f"1CTYP{n}": wcs.wcs.ctype[0],
        f"2CTYP{n}": wcs.wcs.ctype[1],
        f"1CRPX{n}": wcs.wcs.crpix[0],
        f"2CRPX{n}": wcs.wcs.crpix[1],
        f"1CRVL{n}": wcs.wcs.crval[0],
        f"2CRVL{n}": wcs.wcs.crval[1],
        f"1CUNI{n}": "deg",
        f"2CUNI{n}": "deg",
        f"1CDLT{n}": 1.0,
        f"2CDLT{n}": 1.0,
        f"11PC{n}": wcs.wcs.cd[0, 0],
        f"12PC{n}": wcs.wcs.cd[0, 1],
        f"21PC{n}": wcs.wcs.cd[1, 0],
        f"22PC{n}": wcs.wcs.cd[1, 1],
        f"WCSN{n}P": "PHYSICAL",
        f"WCAX{n}P": 2,
        f"1CTY{n}P": "RAWX",
        f"2CTY{n}P": "RAWY",
        f"1CUN{n}P": "PIXEL",
        f"2CUN{n}P": "PIXEL",
        f"1CRV{n}P": corner[0],
        f"2CRV{n}P": corner[1],
        f"1CDL{n}P": 1.0,
        f"2CDL{n}P": 1.0,
        f"1CRP{n}P": 1,
        f"2CRP{n}P": 1,
    }
    return keys


def tpf_bytes(hdul):
    """The bytes of ``hdul`` written as a FITS file."""
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    return buffer.getvalue()


def make_tpf_file(**kwargs):
    """``(name, bytes)`` of a synthetic target pixel file; arguments as `make_tpf`."""
    hdul = make_tpf(**kwargs)
    header = hdul[0].header
    ny, nx = hdul[2].data.shape
    name = tpf_name(
        sector=header["SECTOR"],
        camera=header["CAMERA"],
        ccd=header["CCD"],
        ra=header["RA_OBJ"],
        dec=header["DEC_OBJ"],
        nx=nx,
        ny=ny,
    )
    return name, tpf_bytes(hdul)


def make_zip(members):
    """A zip archive (bytes) holding ``members``, a mapping or pairs of name and bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in dict(members).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_cutout_zip(*tpf_kwargs):
    """A TESScut answer: a zip of target pixel files, one per dict of `make_tpf` arguments."""
    return make_zip(make_tpf_file(**kwargs) for kwargs in tpf_kwargs)


def make_moving_target_zip(target, *, size=(5, 5), start=1325.3, stop=1353.2, **tpf_kwargs):
    """A TESScut answer for a moving target: one cutout centred on its path, named as astrocut
    names those (``<target>_<tstart>-<tstop>_<x>-x-<y>_astrocut.fits``); other arguments
    as `make_tpf`'s."""
    _, data = make_tpf_file(shape=size, **tpf_kwargs)
    name = f"{target.replace('/', '-').replace(' ', '_')}_{start}-{stop}_{size[1]}-x-{size[0]}"
    return make_zip({f"{name}_astrocut.fits": data})


def no_data_json(message="No data"):
    """TESScut's JSON answer when no FFI covers the request."""
    return json.dumps({"msg": message}).encode()
