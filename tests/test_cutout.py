"""Cutouts from FFI cubes: the pixels, the TESScut layout, the WCS, edges and bad input."""

import contextlib
import io
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from conftest import FFI_REGION, PI_MEN
from test_files import PIXEL_COLUMNS

from astro_tesscut import InvalidQueryError
from astro_tesscut.cube import cutout as cutout_module
from astro_tesscut.cube.cutout import (
    _gnomonic,
    _guessed_window,
    _residual,
    _separation,
    cut,
    cutout,
    cutout_windows,
    cutouts,
    off_cube,
    prepare_cube,
)
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.sizes import parse_size
from astro_tesscut.sky.pointing import ffi_pixels, pointing_model

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
    # "TargetPixelFile" in CREATOR is how lightkurve knows the file (tests/test_lightkurve.py).
    assert primary["CREATOR"] == "astro_tesscut TargetPixelFile"
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
    with pytest.raises(
        InvalidQueryError, match="^coordinates: .* lies outside the region of tess-s0001-4-2"
    ):
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


def column_wcs(header):
    """The linear WCS of the PIXELS table's image columns (column 5, FLUX)."""
    linear = WCS(naxis=2)
    linear.wcs.ctype = [header["1CTYP5"], header["2CTYP5"]]
    linear.wcs.crpix = [header["1CRPX5"], header["2CRPX5"]]
    linear.wcs.crval = [header["1CRVL5"], header["2CRVL5"]]
    linear.wcs.cdelt = [header["1CDLT5"], header["2CDLT5"]]
    linear.wcs.pc = [[header["11PC5"], header["12PC5"]], [header["21PC5"], header["22PC5"]]]
    return linear


@pytest.mark.parametrize(("ny", "nx"), [(9, 7), (4, 12), (30, 3)])
def test_column_wcs_of_an_oblong_cutout_is_tangent_at_its_centre(cube_file, ny, nx):
    hdul = cutout(cube_file, PI_MEN_TEXT, size=(ny, nx))
    header = hdul["PIXELS"].header
    # FITS pixels count from 1: the centre of nx columns is (nx + 1) / 2.
    assert (header["1CRPX5"], header["2CRPX5"]) == ((nx + 1) / 2, (ny + 1) / 2)
    cube = open_cube(cube_file)
    column0 = header["1CRV5P"] - 1 - cube.ccd_origin[0]
    row0 = header["2CRV5P"] - 1 - cube.ccd_origin[1]
    linear = column_wcs(header)
    centre = ((nx - 1) / 2, (ny - 1) / 2)  # 0-based
    exact = cube.wcs.pixel_to_world(column0 + centre[0], row0 + centre[1])
    assert linear.pixel_to_world(*centre).separation(exact) < 1e-6 * u.arcsec
    # Columns along x, rows along y, to a hundredth of a pixel over the whole window.
    yy, xx = np.mgrid[:ny, :nx]
    truth = cube.wcs.pixel_to_world(xx + column0, yy + row0)
    assert linear.pixel_to_world(xx, yy).separation(truth).max() < 0.01 * 21 * u.arcsec


def test_a_size_in_degrees_cuts_as_the_same_angle_in_arcmin(cube_file):
    in_degrees = cutout(cube_file, PI_MEN_TEXT, size=[0.05, 0.025] * u.deg)
    assert in_degrees.filename().endswith("_4x9_astrocut.fits")  # named in pixels
    in_arcmin = cutout(cube_file, PI_MEN_TEXT, size=[3, 1.5] * u.arcmin)
    assert in_degrees["APERTURE"].data.shape == in_arcmin["APERTURE"].data.shape == (9, 4)
    assert np.array_equal(in_degrees["PIXELS"].data["FLUX"], in_arcmin["PIXELS"].data["FLUX"])


def test_a_second_batch_writes_into_the_same_new_folder(cube_file, tmp_path):
    coords = SkyCoord([PI_MEN[0], 84.257651], [PI_MEN[1], -80.46656], unit="deg")
    folder = tmp_path / "new" / "tpfs"  # neither exists yet
    first = cutouts(cube_file, coords, size=5, output_dir=folder)
    second = cutouts(cube_file, coords, size=7, output_dir=folder)
    assert [p.parent for p in first + second] == [folder] * 4
    assert sorted(folder.iterdir()) == sorted(first + second)
    assert len(set(first + second)) == 4


def cube_edges(cube_file):
    cube = open_cube(cube_file)
    return cube, cube.columns, cube.rows


def test_windows_touching_the_cube_by_one_pixel_are_on_it(cube_file):
    cube, columns, rows = cube_edges(cube_file)
    assert (columns, rows) == (50, 40)
    for window in [
        (-4, 1, 10, 15),  # its last column is the cube's first
        (10, 15, -4, 1),  # its last row is the cube's first
        (columns - 1, columns + 4, 10, 15),  # its first column is the cube's last
        (10, 15, rows - 1, rows + 4),  # its first row is the cube's last
    ]:
        assert not off_cube(cube, window), window


def test_windows_just_past_the_cube_are_off_it(cube_file):
    cube, columns, rows = cube_edges(cube_file)
    for window in [
        (-5, 0, 10, 15),
        (10, 15, -5, 0),
        (columns, columns + 5, 10, 15),
        (10, 15, rows, rows + 5),
    ]:
        assert off_cube(cube, window), window


# A window of 5 pixels about a centre spans centre - 2.5 to centre + 2.5 (rounded).
@pytest.mark.parametrize(
    ("pixel", "on"),
    [
        ((-1.8, 20.0), np.s_[:, 4:]),  # columns -4..0: the last is the cube's first
        ((20.0, -1.8), np.s_[4:, :]),  # rows -4..0
        ((51.8, 20.0), np.s_[:, :1]),  # columns 49..53: the first is the cube's last
        ((20.0, 41.8), np.s_[:1, :]),  # rows 39..43
    ],
)
def test_a_cutout_one_pixel_over_an_edge(cube_file, pixel, on):
    hdul = cutout(cube_file, open_cube(cube_file).wcs.pixel_to_world(*pixel), size=5)
    aperture = hdul["APERTURE"].data
    expected = np.zeros((5, 5), dtype=bool)
    expected[on] = True
    assert np.array_equal(aperture != 0, expected)
    flux = hdul["PIXELS"].data["FLUX"]
    assert np.isfinite(flux[:, expected]).all()
    assert np.isnan(flux[:, ~expected]).all()


@pytest.mark.parametrize("pixel", [(-2.2, 20.0), (20.0, -2.2), (52.2, 20.0), (20.0, 42.2)])
def test_a_cutout_just_past_an_edge_is_refused(cube_file, pixel):
    with pytest.raises(InvalidQueryError, match="lies outside the region of tess-s0001-4-2"):
        cutout(cube_file, open_cube(cube_file).wcs.pixel_to_world(*pixel), size=5)


# The first cutout of a remote cube guesses its rows from TESS's pointing model.


def unloaded_cube(key=(1, 4, 2), *, rows=2078, columns=2136, loaded=False, remote=True):
    """What the guess looks at of a whole-FFI cube (MAST's) whose table is not read yet."""
    return SimpleNamespace(
        key=key, rows=rows, columns=columns, loaded=loaded, source=SimpleNamespace(remote=remote)
    )


def true_window(cube_file, size):
    """The window of a cutout about Pi Mensae from the cube's WCS, in whole-FFI pixels."""
    cube = open_cube(cube_file)
    (column, column_stop, row, row_stop) = cutout_windows(cube, *PI_MEN, parse_size(size))[0]
    x, y = cube.ccd_origin
    return row + y, row_stop + y, column + x, column_stop + x


def assert_inside(window, guess):
    """The rows and columns of ``window`` lie strictly inside those of ``guess``."""
    row, row_stop, column, column_stop = window
    assert guess[0] < row
    assert row_stop < guess[1]
    assert guess[2] < column
    assert column_stop < guess[3]


@pytest.mark.parametrize("size", [(9, 7), (4, 12), 1])
def test_a_guessed_window_is_the_window_widened_by_three_pixels(cube_file, size):
    row, row_stop, column, column_stop = true_window(cube_file, size)
    guess = _guessed_window(unloaded_cube(), *PI_MEN, parse_size(size))
    # The pointing model is a pixel or two off the WCS; the margin covers it.
    assert_inside((row, row_stop, column, column_stop), guess)
    assert (guess[1] - guess[0], guess[3] - guess[2]) == (
        row_stop - row + 6,
        column_stop - column + 6,
    )
    # Centred on the model's position (FITS pixels, from 1), to the edges' rounding.
    model_column, model_row = (p[0] - 1 for p in ffi_pixels(*PI_MEN, 1, 4, 2))
    assert abs((guess[0] + guess[1] - 1) / 2 - model_row) <= 1
    assert abs((guess[2] + guess[3] - 1) / 2 - model_column) <= 1


def test_a_guessed_window_of_an_angle_is_sized_at_the_finest_pixel_scale(cube_file):
    size = [20, 30] * u.arcmin
    row, row_stop, column, column_stop = true_window(cube_file, size)
    guess = _guessed_window(unloaded_cube(), *PI_MEN, parse_size(size))
    assert_inside((row, row_stop, column, column_stop), guess)
    # 19.5 arcsec per pixel, the finest on a TESS CCD: 1200" is 61.5 pixels, 1800" 92.3.
    assert guess[1] - guess[0] - 6 == pytest.approx(1200 / 19.5, abs=1)
    assert guess[3] - guess[2] - 6 == pytest.approx(1800 / 19.5, abs=1)


def test_a_guessed_window_stays_within_the_cube(cube_file, corner_cube_file):
    near_first_pixel = open_cube(corner_cube_file).wcs.pixel_to_world(1.0, 1.0)
    position = (near_first_pixel.ra.deg, near_first_pixel.dec.deg)
    guess = _guessed_window(unloaded_cube(), *position, parse_size(9))
    assert (guess[0], guess[2]) == (0, 0)
    assert 5 < guess[1] < 12
    assert 5 < guess[3] < 12
    # Pi Mensae is about row 259 and column 1632: a cube ending just past them cuts the guess.
    guess = _guessed_window(unloaded_cube(rows=261, columns=1634), *PI_MEN, parse_size(9))
    assert (guess[1], guess[3]) == (261, 1634)


# Sector 1 positions well inside the CCDs at the ends of the numbering.
ON_CCD = {
    (1, 1): (310.0, -67.5),
    (4, 4): (91.0, -61.5),
    (1, 4): (8.0, -51.5),
    (4, 1): (64.0, -67.5),
}


@pytest.mark.parametrize("camera_ccd", list(ON_CCD))
def test_every_camera_and_ccd_is_guessed(camera_ccd):
    guess = _guessed_window(unloaded_cube((1, *camera_ccd)), *ON_CCD[camera_ccd], parse_size(5))
    assert guess is not None
    assert (guess[1] - guess[0], guess[3] - guess[2]) == (11, 11)
    assert 400 < guess[0] < 1600
    assert 400 < guess[2] < 1600


@pytest.mark.parametrize(
    "cube",
    [
        unloaded_cube(loaded=True),  # its table is read: the WCS says where
        unloaded_cube(remote=False),  # a local read costs no round trip
        unloaded_cube(key=None),  # not named as MAST names cubes
        unloaded_cube((9999, 4, 2)),  # a sector the model does not know
        unloaded_cube((1, 5, 2)),
        unloaded_cube((1, 0, 2)),
        unloaded_cube((1, 4, 5)),
        unloaded_cube((1, 4, 0)),
        unloaded_cube((1, 4, 1)),  # Pi Mensae is on CCD 2, not 1
        unloaded_cube(columns=1500),  # a cube that ends before Pi Mensae's column
        unloaded_cube(rows=200),
        unloaded_cube(columns=1624),  # ... or where the guess begins: no column left
        unloaded_cube(rows=251),
    ],
)
def test_no_guess_where_the_model_cannot_help(cube):
    assert _guessed_window(cube, *PI_MEN, parse_size(9)) is None


def test_a_position_on_the_far_side_of_the_sky_is_refused(cube_file):
    with pytest.raises(InvalidQueryError, match="^coordinates: some positions lie far outside"):
        cutout(cube_file, "264.29 80.47")


def test_the_default_size_is_five_pixels(cube_file):
    assert cutout(cube_file, PI_MEN_TEXT)["APERTURE"].data.shape == (5, 5)
    coords = SkyCoord([PI_MEN[0], 84.257651], [PI_MEN[1], -80.46656], unit="deg")
    assert [h["APERTURE"].data.shape for h in cutouts(cube_file, coords)] == [(5, 5)] * 2


def test_a_cutout_counts_its_pixels_against_the_memory_budget(cube_file, monkeypatch):
    held = []

    @contextlib.contextmanager
    def holding(pixel_bytes):
        held.append(pixel_bytes)
        yield

    monkeypatch.setattr(cutout_module, "holding", holding)
    cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    assert held == [7 * 9 * 8 * 8]  # columns, rows, frames, and a float32 flux and error


class ShiftedProjection:
    """A plain grid of 1e-3 deg pixels near the equator; its ``moved`` copy is off by
    ``skew`` pixels per pixel along x and y, so that its errors grow across a window."""

    def __init__(self, skew=(0.0, 0.0), shift=(0, 0)):
        self.skew, self.shift = skew, shift

    def moved(self, column, row):
        return ShiftedProjection(self.skew, (column, row))

    def pixel_to_world(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self.shift != (0, 0):
            x, y = x + self.shift[0] + self.skew[0] * x, y + self.shift[1] + self.skew[1] * y
        return 10 + x * 1e-3, y * 1e-3


def test_wcs_residuals_are_the_worst_and_the_root_sum_of_squares(monkeypatch):
    # Off by 0.01 pixel per pixel in x: the corners on the right are worst, 0.01 * (w - 1).
    cube = SimpleNamespace(projection=ShiftedProjection(skew=(0.01, 0.0)))
    msep, sig = _residual(cube, 100, 200, 11, 7)
    errors = 0.01 * 1e-3 * np.array([0, 10, 0, 10, 5])  # corners, then the centre
    assert msep == pytest.approx(errors.max(), rel=1e-4)
    assert sig == pytest.approx(np.sqrt(np.sum(errors**2)), rel=1e-4)
    # The same along y: the rows' corners.
    cube = SimpleNamespace(projection=ShiftedProjection(skew=(0.0, 0.01)))
    msep, sig = _residual(cube, 100, 200, 11, 7)
    errors = 0.01 * 1e-3 * np.array([0, 0, 6, 6, 3])
    assert msep == pytest.approx(errors.max(), rel=1e-4)
    assert sig == pytest.approx(np.sqrt(np.sum(errors**2)), rel=1e-4)
    # Moved exactly: nothing.
    assert _residual(SimpleNamespace(projection=ShiftedProjection()), 100, 200, 11, 7) == (0, 0)


def test_separations_are_great_circle_degrees():
    ra0, dec0 = np.array([0.0, 0.0, 10.0, 45.0]), np.array([0.0, 60.0, 20.0, -89.0])
    ra1, dec1 = np.array([0.0, 1.0, 10.0, 225.0]), np.array([1.0, 60.0, 20.0 + 1e-9, -89.0])
    separation = _separation(ra0, dec0, ra1, dec1)
    truth = SkyCoord(ra0, dec0, unit="deg").separation(SkyCoord(ra1, dec1, unit="deg")).deg
    assert separation == pytest.approx(truth, rel=1e-6)
    # Along a meridian, across a pole, and a tiny step (no loss to rounding).
    assert separation[[0, 2, 3]] == pytest.approx([1.0, 1e-9, 2.0], rel=1e-6)


def test_storage_options_reach_the_cube(cube_file, monkeypatch):
    opened = []

    def recording_open_cube(cube, storage_options=None):
        opened.append(storage_options)
        return open_cube(cube)

    monkeypatch.setattr(cutout_module, "open_cube", recording_open_cube)
    options = {"anon": True}
    cutout(cube_file, PI_MEN_TEXT, storage_options=options)
    cutouts(cube_file, SkyCoord(*PI_MEN, unit="deg"), storage_options=options)
    assert opened == [options, options]


def test_the_refusal_names_the_window_that_missed(cube_file):
    far = open_cube(cube_file).wcs.pixel_to_world(-2.2, 20.2)
    # In 1-based FFI pixels: the cube holds columns 1601..1650, rows 241..280.
    message = (
        r"the cube holds \(columns 1601\.\.1650, rows 241\.\.280 of the FFI, 1-based\); its "
        r"cutout window \(columns 1596\.\.1600, rows 259\.\.263\) misses it$"
    )
    with pytest.raises(InvalidQueryError, match=message):
        cutout(cube_file, far, size=5)


def test_cut_yields_names_and_bytes(cube_file):
    ra, dec = np.array([PI_MEN[0], 84.257651]), np.array([PI_MEN[1], -80.46656])
    made = list(cut(cube_file, ra, dec, parse_size(5)))
    singles = [cutout(cube_file, (r, d), size=5) for r, d in zip(ra, dec, strict=True)]
    assert [name for name, _ in made] == [hdul.filename() for hdul in singles]
    for (_, data), single in zip(made, singles, strict=True):
        assert data.dtype == np.uint8
        with fits.open(io.BytesIO(data.tobytes())) as hdul:
            assert np.array_equal(hdul["PIXELS"].data["FLUX"], single["PIXELS"].data["FLUX"])


def test_cut_leaves_out_what_misses_the_cube_when_asked(cube_file):
    far = open_cube(cube_file).projection.pixel_to_world(np.array([200.0]), np.array([20.0]))
    ra, dec = np.array([PI_MEN[0], far[0][0]]), np.array([PI_MEN[1], far[1][0]])
    made = list(cut(cube_file, ra, dec, parse_size(5), skip_off_cube=True))
    assert len(made) == 1
    with pytest.raises(InvalidQueryError, match="lies outside the region"):
        list(cut(cube_file, ra, dec, parse_size(5)))


def test_several_groups_are_made_ahead_on_threads_one_is_not(cube_file, monkeypatch):
    calls = []

    def recording_ahead(function, items, *, remote=False):
        calls.append(remote)
        return map(function, items)

    monkeypatch.setattr(cutout_module, "ahead", recording_ahead)
    cutout(cube_file, PI_MEN_TEXT)
    two = SkyCoord([PI_MEN[0], 84.257651], [PI_MEN[1], -80.46656], unit="deg")
    assert len(cutouts(cube_file, two)) == 2
    assert calls == []  # one target, or two neighbours read together: one group
    monkeypatch.setattr(cutout_module, "GROUP_TARGETS", 1)
    assert len(cutouts(cube_file, two)) == 2
    assert calls == [False]  # a local cube: as many threads as the CPU warrants
    cube = open_cube(cube_file)
    monkeypatch.setattr(cube.source, "remote", True)  # as if each read were a round trip
    assert len(cutouts(cube, two)) == 2
    assert calls == [False, True]  # more at once, to wait on the network together


@pytest.mark.parametrize("centre", [(0.0, 0.0), (84.3, -80.5), (300.0, 45.0)])
def test_standard_coordinates_are_the_tan_projection(centre):
    tan = WCS(naxis=2)
    tan.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    tan.wcs.crval = centre
    tan.wcs.crpix = [1, 1]  # FITS pixel 1 is pixel 0 here
    offsets = np.array([[3.0, -2.0], [-7.0, 5.0], [0.5, 9.0], [-4.0, -6.0]])
    ra = centre[0] + offsets[:, 0] / np.cos(np.radians(centre[1]))
    dec = centre[1] + offsets[:, 1]
    xi, eta = _gnomonic(np.radians(ra), np.radians(dec), *np.radians(centre))
    # WCS intermediate coordinates of a TAN projection are the standard coordinates, in degrees.
    x, y = tan.wcs_world2pix(ra, dec, 0)
    assert np.degrees(xi) == pytest.approx(x, abs=1e-9)
    assert np.degrees(eta) == pytest.approx(y, abs=1e-9)


def test_a_remote_cube_starts_the_pointing_model_while_its_headers_come(monkeypatch):
    started, opened = [], []
    monkeypatch.setattr(cutout_module, "submit", started.append)
    monkeypatch.setattr(cutout_module, "open_cube", lambda *args: opened.append(args) or "cube")
    url = "s3://stpubdata/tess/public/mast/tess-s0001-4-2-cube.fits"
    assert prepare_cube(url, {"anon": True}) == "cube"
    assert opened == [(url, {"anon": True})]
    assert started == [pointing_model]
    # A local cube has no round trip to hide the model behind: the guess is not needed.
    assert prepare_cube("tess-s0001-4-2-cube.fits") == "cube"
    assert started == [pointing_model]


def test_the_first_cutout_reads_the_guessed_window_with_the_table(cube_file, monkeypatch):
    cube = open_cube(cube_file)
    guessed, prefetched = [], []
    monkeypatch.setattr(
        cutout_module,
        "_guessed_window",
        lambda *args: guessed.append(args) or (1, 2, 3, 4),
    )
    load = cube.load
    monkeypatch.setattr(cube, "load", lambda prefetch: prefetched.append(prefetch) or load())
    size = parse_size(5)
    cutout_windows(cube, np.array([PI_MEN[0], 84.3]), np.array([PI_MEN[1], -80.5]), size)
    assert guessed == [(cube, PI_MEN[0], PI_MEN[1], size)]  # the first position's
    assert prefetched == [(1, 2, 3, 4)]


def test_groups_hold_neighbours_up_to_a_count_and_a_size(monkeypatch):
    monkeypatch.setattr(cutout_module, "GROUP_TARGETS", 3)
    windows, frames = [(0, 10, 0, 10)] * 7, [(0, 1)] * 7
    assert cutout_module._groups(range(7), windows, frames) == [[0, 1, 2], [3, 4, 5], [6]]
    monkeypatch.setattr(cutout_module, "GROUP_BYTES", 10 * 10 * 8 * 2)  # two windows' pixels
    assert cutout_module._groups([0, 2, 4, 6], windows, frames) == [[0, 2], [4, 6]]
    # Each position's bytes are those of its own cadences.
    assert cutout_module._groups([0, 1, 2], windows, [(0, 2), (3, 4), (0, 1)]) == [[0], [1, 2]]


# Windows exactly astrocut's, ties included: positions made from whole and half pixels put
# a window's edges on half pixels, where the last bits of a position decide the rounding.
TIE_PIXELS = [(20, 17), (20.5, 17), (20, 17.5), (21.5, 18.5), (13, 29)]
TIE_SIZES = [(5, 7), (6, 8), (7, 6), (8, 5), (1e-3 * u.arcsec, 1e-3 * u.arcsec)]


def astrocut_file(cube, coord, size):
    """astrocut's target pixel file of ``coord`` from ``cube`` (a path), columns first, and
    its window (first column, column after the last, first row, row after the last)."""
    astrocut = pytest.importorskip("astrocut", reason="astrocut (the peers extra) is not installed")
    parsed = parse_size(size)
    unit = 1 if parsed.units == "px" else u.Unit(parsed.units)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cut = astrocut.TessCubeCutout(
            str(cube), coord, cutout_size=[parsed.x * unit, parsed.y * unit]
        )
    ((columns, rows),) = [piece.cutout_lims for piece in cut.cutouts_by_file.values()]
    return cut.tpf_cutouts[0], (*columns, *rows)


def assert_same_cutout(ours, theirs, origin):
    """The same window (its CCD corner, from the cube's ``origin``, and its shape) and the
    same pixels, bit for bit."""
    theirs, (column, column_stop, row, row_stop) = theirs
    header = ours["APERTURE"].header
    assert (header["CRVAL1P"], header["CRVAL2P"]) == (column + origin[0] + 1, row + origin[1] + 1)
    assert ours["APERTURE"].data.shape == theirs["APERTURE"].data.shape
    assert ours["APERTURE"].data.shape == (row_stop - row, column_stop - column)
    for column_name in ("FLUX", "FLUX_ERR"):
        a = theirs["PIXELS"].data[column_name].astype(">f4").view(">u4")
        b = ours["PIXELS"].data[column_name].astype(">f4").view(">u4")
        assert np.array_equal(a, b), column_name


@pytest.mark.parametrize("pixel", TIE_PIXELS, ids=str)
@pytest.mark.parametrize("size", TIE_SIZES, ids=str)
def test_windows_at_rounding_ties_are_astrocuts(cube_file, pixel, size):
    cube = open_cube(cube_file)
    coord = cube.wcs.pixel_to_world(*pixel)
    theirs = astrocut_file(cube_file, coord, size)
    assert_same_cutout(cutout(cube_file, coord, size=size), theirs, cube.ccd_origin)


def test_windows_at_ties_are_astrocuts_from_archives_and_in_batches(
    cube_file, cube_archive, proxy, tmp_path
):
    from astropy.table import Table
    from conftest import ANON, PREFIX

    from astro_tesscut import TessCutClass, batch_cutouts

    cube = open_cube(cube_file)
    coords = [cube.wcs.pixel_to_world(*pixel) for pixel in TIE_PIXELS]
    size = (7, 5)
    theirs = [astrocut_file(cube_file, coord, size) for coord in coords]
    for archive, options in ((cube_archive, None), (PREFIX, ANON)):
        client = TessCutClass(archive=archive, storage_options=options)
        for coord, reference in zip(coords, theirs, strict=True):
            (ours,) = client.get_cutouts(coordinates=coord, size=size, sector=1)
            assert_same_cutout(ours, reference, cube.ccd_origin)
        targets = Table({"ra": [c.ra.deg for c in coords], "dec": [c.dec.deg for c in coords]})
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        result = batch_cutouts(
            targets, size, archive, sectors=1, out_dir=out, storage_options=options,
            show_progress=False,
        )  # fmt: skip
        for path, reference in zip(result["path"], theirs, strict=True):
            with fits.open(path) as ours:
                assert_same_cutout(ours, reference, cube.ccd_origin)
