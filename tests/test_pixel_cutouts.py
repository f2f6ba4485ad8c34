"""Cutouts asked by FFI pixel: centred on the pixel in archives, the pointing model's sky
position sent to the service, bad pixels refused before any request."""

import numpy as np
import pytest
from conftest import ANON, PREFIX
from mast_mocks import TESSCUT
from responses.matchers import query_param_matcher
from synthetic import make_cutout_zip

from astro_tesscut import InvalidQueryError, TessCutClass
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.sky.pointing import ffi_sky

PIXEL = (1620, 260)  # 1-based CCD column and row inside the test cube (origin 1600, 240)


def window(hdul):
    """First column and row (1-based, on the CCD) and shape of a cutout."""
    header = hdul["APERTURE"].header
    return header["CRVAL1P"], header["CRVAL2P"], hdul["APERTURE"].data.shape


@pytest.mark.parametrize(
    ("size", "expected"),
    [(5, (1618, 258, (5, 5))), (6, (1618, 258, (6, 6))), ((3, 7), (1617, 259, (3, 7)))],
)
@pytest.mark.parametrize("where", ["local", "s3"])
def test_an_archive_centres_the_window_on_the_pixel(cube_archive, request, where, size, expected):
    if where == "s3":
        request.getfixturevalue("proxy")
    archive, options = (cube_archive, None) if where == "local" else (PREFIX, ANON)
    client = TessCutClass(archive=archive, storage_options=options)
    (hdul,) = client.get_cutouts(pixel=PIXEL, sector=1, camera=4, ccd=2, size=size)
    assert window(hdul) == expected


def test_a_pixel_cutout_is_the_cutout_of_the_same_window_asked_by_position(cube_file, cube_archive):
    client = TessCutClass(archive=cube_archive)
    (by_pixel,) = client.get_cutouts(pixel=PIXEL, sector=1, camera=4, ccd=2, size=(7, 5))
    cube = open_cube(cube_file)
    column, row = (p - 1 - o for p, o in zip(PIXEL, cube.ccd_origin, strict=True))
    # A tenth of a pixel off the centre: clear of a rounding tie, the same window.
    position = cube.wcs.pixel_to_world(column + 0.1, row + 0.1)
    (by_position,) = client.get_cutouts(coordinates=position, sector=1, size=(7, 5))
    assert window(by_pixel) == window(by_position)
    flux = by_pixel["PIXELS"].data["FLUX"]
    assert np.array_equal(flux, by_position["PIXELS"].data["FLUX"])
    # Named, and described, by the pixel's own position on the sky.
    exact = cube.wcs.pixel_to_world(column, row)
    assert by_pixel[0].header["RA_OBJ"] == pytest.approx(exact.ra.deg, abs=1e-8)
    assert by_pixel.filename().startswith(f"tess-s0001-4-2_{exact.ra.deg:.6f}_")


def test_the_service_is_sent_the_pointing_models_position(mock_http, tmp_path):
    ra, dec = (float(value[0]) for value in ffi_sky(1000, 1000, 1, 4, 2))
    params = {"ra": str(ra), "dec": str(dec), "x": "9", "y": "9", "units": "px", "sector": "1"}
    body = make_cutout_zip({"sector": 1, "shape": (9, 9), "ra": ra, "dec": dec})
    mock_http.get(
        TESSCUT + "astrocut",
        body=body,
        content_type="application/zip",
        match=[query_param_matcher(params)],
    )
    client = TessCutClass(cache_dir=tmp_path / "cache")
    (hdul,) = client.get_cutouts(pixel=(1000, 1000), sector=1, camera=4, ccd=2, size=9)
    assert hdul.filename().startswith(f"tess-s0001-4-2_{ra:.6f}_{dec:.6f}_9x9")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"pixel": (3000, 5), "sector": 1, "camera": 4, "ccd": 2}, "pixel: (3000, 5) is outside"),
        ({"pixel": (5, 0), "sector": 1, "camera": 4, "ccd": 2}, "pixel: (5, 0) is outside"),
        ({"pixel": (5, 5), "sector": 1, "camera": 5, "ccd": 2}, "camera: must be 1, 2, 3 or 4"),
        ({"pixel": (5, 5), "sector": 1, "camera": 4, "ccd": 0}, "ccd: must be 1, 2, 3 or 4"),
        ({"pixel": (5, 5), "sector": 1, "camera": 4}, "ccd: a pixel needs its ccd"),
        ({"pixel": (5, 5), "camera": 4, "ccd": 2}, "sector: a pixel is on the FFI of one"),
        ({"pixel": (5, 5), "sector": [1, 2], "camera": 4, "ccd": 2}, "sector: a pixel is on"),
        ({"pixel": (5, np.nan), "sector": 1, "camera": 4, "ccd": 2}, "pixel: must be finite"),
        ({"pixel": 5, "sector": 1, "camera": 4, "ccd": 2}, "pixel: must be a (column, row)"),
        ({"camera": 4, "coordinates": "10 20"}, "camera: only with pixel="),
        (
            {"pixel": (5, 5), "sector": 1, "camera": 4, "ccd": 2, "objectname": "Pi Men"},
            "pixel, objectname: a cutout is centred on a target or on a pixel",
        ),
        ({"pixel": (5, 5), "sector": 999, "camera": 4, "ccd": 2}, "sector: TESS's pointing"),
    ],
)
def test_bad_pixels_are_refused_before_any_request(mock_http, tmp_path, kwargs, words):
    client = TessCutClass(cache_dir=tmp_path / "cache")
    for call in (client.get_cutouts, client.download_cutouts):
        with pytest.raises(InvalidQueryError, match="^" + words.replace("(", r"\(").replace(
            ")", r"\)")):  # fmt: skip
            call(**kwargs)
    assert len(mock_http.calls) == 0


def test_a_pixel_of_a_cube_the_archive_lacks_says_so(cube_archive):
    from astro_tesscut import InvalidFileError

    client = TessCutClass(archive=cube_archive)
    with pytest.raises(InvalidFileError, match="holds no cube or FFIs of sector 4, camera 4"):
        client.get_cutouts(pixel=PIXEL, sector=4, camera=4, ccd=2)
