"""Cutouts from FFI cubes: the pixels, the TESScut layout, the WCS, edges and bad input."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from conftest import FFI_REGION, PI_MEN
from test_files import PIXEL_COLUMNS

from astro_tesscut import InvalidQueryError
from astro_tesscut.archive.cube import open_cube
from astro_tesscut.archive.cutout import cutout, cutout_windows, cutouts
from astro_tesscut.sizes import parse_size

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"


def ffi_stack(paths, hdu):
    arrays = []
    for path in paths:
        with fits.open(path) as hdul:
            arrays.append(hdul[hdu].data)
    return np.array(arrays)


def test_pixels_are_the_ffis(ffi_files, cube_file):
    hdul = cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    # The physical WCS gives CCD pixels; the FFIs are a region of the CCD starting at origin.
    origin = open_cube(cube_file).ccd_origin
    assert origin == FFI_REGION["corner"]
    column0 = hdul["PIXELS"].header["1CRV5P"] - 1 - origin[0]
    row0 = hdul["PIXELS"].header["2CRV5P"] - 1 - origin[1]
    flux, error = hdul["PIXELS"].data["FLUX"], hdul["PIXELS"].data["FLUX_ERR"]
    assert flux.shape == (8, 9, 7)
    window = np.s_[:, row0 : row0 + 9, column0 : column0 + 7]
    assert np.array_equal(flux, ffi_stack(ffi_files, 1)[window])
    assert np.array_equal(error, ffi_stack(ffi_files, 2)[window])
    # The target sits in the middle of its window, to the window's rounding.
    x, y = open_cube(cube_file).wcs.all_world2pix(*PI_MEN, 0)
    assert abs(x - (column0 + 3)) <= 1
    assert abs(y - (row0 + 4)) <= 1


def test_tesscut_layout(cube_file, ffi_files):
    hdul = cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    hdul.verify("exception")
    assert hdul.filename() == "tess-s0001-4-2_84.291188_-80.469120_7x9_astrocut.fits"
    assert [h.name for h in hdul] == ["PRIMARY", "PIXELS", "APERTURE"]
    for hdu in hdul:
        assert hdu.verify_checksum() == 1
        assert hdu.verify_datasum() == 1
    pixels = hdul["PIXELS"]
    assert pixels.columns.names == PIXEL_COLUMNS
    assert pixels.header["TDIM5"] == "(7, 9)"
    assert pixels.columns["FLUX"].unit == "e-/s"
    assert pixels.columns["TIME"].unit == "BJD - 2457000, days"
    assert pixels.header["TNULL4"] == -1
    assert (pixels.data["RAW_CNTS"] == -1).all()
    assert list(pixels.data["CADENCENO"]) == list(range(1, 9))
    with fits.open(ffi_files[0]) as first:
        start, stop = first[1].header["TSTART"], first[1].header["TSTOP"]
        assert pixels.data["TIME"][0] == pytest.approx((start + stop) / 2, abs=1e-12)
        assert pixels.data["QUALITY"][0] == first[1].header["DQUALITY"]
    assert list(pixels.data["FFI_FILE"]) == [p.name[:38] for p in ffi_files]
    primary = hdul[0].header
    assert primary["RA_OBJ"] == PI_MEN[0]
    assert primary["DEC_OBJ"] == PI_MEN[1]
    assert (primary["SECTOR"], primary["CAMERA"], primary["CCD"]) == (1, 4, 2)
    assert primary["CREATOR"] == "astro_tesscut"
    assert hdul["APERTURE"].data.dtype.kind == "i"
    assert hdul["APERTURE"].data.all()


def test_wcs_of_the_cutout(cube_file):
    hdul = cutout(cube_file, PI_MEN_TEXT, size=15)
    ffi = open_cube(cube_file).wcs
    origin = open_cube(cube_file).ccd_origin
    column0 = hdul["APERTURE"].header["CRVAL1P"] - 1 - origin[0]
    row0 = hdul["APERTURE"].header["CRVAL2P"] - 1 - origin[1]
    yy, xx = np.mgrid[:15, :15]
    truth = ffi.pixel_to_world(xx + column0, yy + row0)
    aperture = WCS(hdul["APERTURE"].header).pixel_to_world(xx, yy)
    assert aperture.separation(truth).max() < 1e-6 * u.arcsec  # the FFI's WCS, moved
    assert hdul["APERTURE"].header["WCS_MSEP"] < 1e-9
    # The table-column WCS is linear; over a cutout it stays well within a pixel.
    h = hdul["PIXELS"].header
    linear = WCS(naxis=2)
    linear.wcs.ctype = [h["1CTYP5"], h["2CTYP5"]]
    linear.wcs.crpix = [h["1CRPX5"], h["2CRPX5"]]
    linear.wcs.crval = [h["1CRVL5"], h["2CRVL5"]]
    linear.wcs.pc = [[h["11PC5"], h["12PC5"]], [h["21PC5"], h["22PC5"]]]
    assert linear.pixel_to_world(xx, yy).separation(truth).max() < 0.05 * 21 * u.arcsec


def test_edge_is_padded_with_nan(cube_file):
    corner = open_cube(cube_file).wcs.pixel_to_world(1, 38)
    hdul = cutout(cube_file, corner, size=7)
    flux, aperture = hdul["PIXELS"].data["FLUX"], hdul["APERTURE"].data
    assert flux.shape == (8, 7, 7)
    off = aperture == 0
    assert off[:, :2].all()
    assert off[-2:, :].all()
    assert np.isnan(flux[:, off]).all()
    assert np.isfinite(flux[:, ~off]).all()
    assert np.isnan(hdul["PIXELS"].data["FLUX_ERR"][:, off]).all()
    off_columns = int(off[3].sum())
    assert off_columns in (2, 3)
    first_column = FFI_REGION["corner"][0] - off_columns  # CCD column, 0-based
    assert hdul["PIXELS"].header["1CRV5P"] == first_column + 1


def test_angular_size(cube_file):
    hdul = cutout(cube_file, PI_MEN_TEXT, size=[3, 2] * u.arcmin)
    assert hdul["APERTURE"].data.shape == (9, 6)  # ~21"/px: 180" is 8.6 px, 120" 5.7 px


def test_batch_equals_single_cutouts(cube_file, tmp_path):
    coords = SkyCoord([PI_MEN[0], 84.257651, 84.31], [PI_MEN[1], -80.46656, -80.475], unit="deg")
    batch = cutouts(cube_file, coords, size=5)
    for coord, hdul in zip(coords, batch, strict=True):
        single = cutout(cube_file, coord, size=5)
        assert hdul.filename() == single.filename()
        assert np.array_equal(hdul["PIXELS"].data["FLUX"], single["PIXELS"].data["FLUX"])
    paths = cutouts(cube_file, coords, size=5, output_dir=tmp_path / "tpfs")
    assert [p.name for p in paths] == [h.filename() for h in batch]
    assert sorted((tmp_path / "tpfs").iterdir()) == sorted(paths)
    with fits.open(paths[1]) as written:
        assert np.array_equal(written["PIXELS"].data["FLUX"], batch[1]["PIXELS"].data["FLUX"])


def test_windows_round_like_astrocut(cube_file):
    cube = open_cube(cube_file)
    x, y = cube.wcs.all_world2pix(*PI_MEN, 0)
    window = cutout_windows(cube, [PI_MEN[0]], [PI_MEN[1]], parse_size(4))[0]
    expected = [round(x - 2), round(x + 2), round(y - 2), round(y + 2)]
    assert list(window) == [int(np.round(v)) for v in expected]
    one = cutout_windows(cube, [PI_MEN[0]], [PI_MEN[1]], parse_size(1e-3 * u.arcsec))
    assert list(one[0]) == [
        int(np.floor(x)),
        int(np.floor(x)) + 1,
        int(np.floor(y)),
        int(np.floor(y)) + 1,
    ]


def test_off_the_cube(cube_file):
    far = open_cube(cube_file).wcs.pixel_to_world(200, 20)
    with pytest.raises(InvalidQueryError, match="^coordinates: .* lies off tess-s0001-4-2"):
        cutout(cube_file, far, size=5)
    with pytest.raises(InvalidQueryError, match="^coordinates: "):
        cutout(cube_file, "84.3 95", size=5)
    with pytest.raises(InvalidQueryError, match="^size: "):
        cutout(cube_file, PI_MEN_TEXT, size=0)


@pytest.mark.parametrize(
    ("where", "size"),
    [((PI_MEN[0], PI_MEN[1]), (45, 35)), ((PI_MEN[0], PI_MEN[1]), 2 * u.arcmin), ("corner", 9)],
)
def test_bit_identical_to_astrocut(cube_file, where, size):
    astrocut = pytest.importorskip("astrocut", reason="astrocut (the peers extra) is not installed")
    coord = (
        open_cube(cube_file).wcs.pixel_to_world(2, 37)
        if where == "corner"
        else SkyCoord(*where, unit="deg")
    )
    ours = cutout(cube_file, coord, size=size)
    parsed = parse_size(size)
    # astrocut's cube cutouts take the columns first, as TESScut passes them.
    unit = {"px": 1, "arcsec": u.arcsec, "arcmin": u.arcmin, "d": u.deg}[parsed.units]
    theirs = astrocut.TessCubeCutout(
        str(cube_file), coord, cutout_size=[parsed.x * unit, parsed.y * unit]
    ).tpf_cutouts[0]
    for column in ("FLUX", "FLUX_ERR"):
        a = theirs[1].data[column].astype(">f4").view(">u4")
        b = ours[1].data[column].astype(">f4").view(">u4")
        assert np.array_equal(a, b), column
    assert np.array_equal(theirs[2].data, ours[2].data)
