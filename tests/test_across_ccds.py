"""A large cutout across two CCDs: one file per CCD, from every backend (issue 22).

TESScut answers a cutout that crosses the gap between two CCDs with one target
pixel file per CCD, each cut from its own FFIs with its own WCS, NaN where the
window leaves that CCD. Archives do the same, from each cube the window
reaches (the pointing model finds them: `CubeStore.candidates` with the
cutout's ``size.radius_deg()``).

The scene: sector 1, camera 4, the demo's CCD 2 and CCD 1 beside it, whose
FFIs face each other across a gap of about 28 pixels (CCD 2's first column,
0-based 0, lies on the sky where CCD 1's column 2164 would be; CCD 1's last,
2135, where CCD 2's column -28.8 would be). A synthetic 60 x 100 pixel region
of each touches the gap: CCD 2's first columns (collateral columns 0-43, then
science pixels) and CCD 1's last (science pixels up to column 2091, then
collateral columns); their rows face each other (CCD 1's rows lie two below
CCD 2's). Two targets, cut 200 columns wide (or 70 arcmin): one in the gap, on
neither CCD, and one just inside CCD 2, whose window still reaches CCD 1's region.
"""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from conftest import ANON
from mast_mocks import TESSCUT, mock_zip
from responses.matchers import query_param_matcher

from astro_tesscut import TessCutClass, batch_cutouts
from astro_tesscut.backends.local import LocalArchive
from astro_tesscut.cube.build import build_cube
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.simulate import write_ffis
from astro_tesscut.sizes import parse_size
from astro_tesscut.sky.pointing import ffi_pixels

SECTOR, CAMERA = 1, 4
SHAPE = (60, 100)  # rows, columns of each region
# 0-based CCD (column, row) of each region's first pixel: CCD 2's first columns, CCD 1's last.
CORNERS = {1: (2036, 998), 2: (0, 1000)}
FFI_COLUMNS = 2136  # a whole FFI's columns, collateral included
# CCD 2's pixel (-14.3, 1030.2) and (50.3, 1030.2), 0-based, by its WCS: the first in the
# gap (CCD 1's pixel (2149.5, 1028.2)), the second on CCD 2's science pixels.
GAP = (76.608212, -70.415728)
INSIDE = (77.209916, -70.735197)
WIDE = (100, 200)  # (ny, nx) pixels: reaches 86 pixels into each CCD from the gap
CASES = {
    "in the gap": (GAP, WIDE),
    "just inside CCD 2": (INSIDE, [35, 70] * u.arcmin),  # 103 x 204 pixels
}
PIXEL_ARCSEC = 21 * u.arcsec


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The FFIs of the two regions (in one directory tree) and their cubes (in another)."""
    root = tmp_path_factory.mktemp("across-ccds")
    (root / "cubes").mkdir()
    cubes = {}
    for ccd, corner in CORNERS.items():
        ffis = write_ffis(
            root / "ffis" / f"ccd{ccd}", n_frames=6, seed=ccd, sector=SECTOR, camera=CAMERA,
            ccd=ccd, shape=SHAPE, corner=corner,
        )  # fmt: skip
        path = root / "cubes" / f"tess-s{SECTOR:04d}-{CAMERA}-{ccd}-cube.fits"
        cubes[ccd] = build_cube(ffis, path, show_progress=False)
    return {"ffis": root / "ffis", "cubes": root / "cubes", "cube": cubes}


def text(position):
    return f"{position[0]} {position[1]}"


def column_wcs(header):
    """The linear WCS of the PIXELS table's image columns (column 5, FLUX)."""
    linear = WCS(naxis=2)
    linear.wcs.ctype = [header["1CTYP5"], header["2CTYP5"]]
    linear.wcs.crpix = [header["1CRPX5"], header["2CRPX5"]]
    linear.wcs.crval = [header["1CRVL5"], header["2CRVL5"]]
    linear.wcs.cdelt = [header["1CDLT5"], header["2CDLT5"]]
    linear.wcs.pc = [[header["11PC5"], header["12PC5"]], [header["21PC5"], header["22PC5"]]]
    return linear


def check_file(hdul, ccd, scene, position):
    """Everything one CCD's file of a cutout across the gap must be; returns the boolean
    mask of the window's pixels on that CCD's region."""
    cube_path = scene["cube"][ccd]
    cube = open_cube(cube_path)
    flux, error = hdul["PIXELS"].data["FLUX"], hdul["PIXELS"].data["FLUX_ERR"]
    aperture = hdul["APERTURE"].data
    ny, nx = aperture.shape
    assert flux.shape == error.shape == (6, ny, nx)
    # Named for its own CCD, as TESScut names the files of a cutout across CCDs.
    assert Path(hdul.filename()).name == (
        f"tess-s{SECTOR:04d}-{CAMERA}-{ccd}_{position[0]:.6f}_{position[1]:.6f}_{nx}x{ny}"
        "_astrocut.fits"
    )
    primary = hdul[0].header
    assert (primary["SECTOR"], primary["CAMERA"], primary["CCD"]) == (SECTOR, CAMERA, ccd)

    # Where the window lies in the cube, from its CCD pixel (the physical WCS).
    header = hdul["PIXELS"].header
    assert (header["1CRV4P"], header["2CRV4P"]) == (header["1CRV5P"], header["2CRV5P"])
    column0 = header["1CRV5P"] - 1 - CORNERS[ccd][0]
    row0 = header["2CRV5P"] - 1 - CORNERS[ccd][1]
    # Placed round the target by this CCD's own WCS, off the CCD or not.
    x, y = cube.wcs.all_world2pix(*position, 0)
    assert abs(x - (column0 + (nx - 1) / 2)) <= 1
    assert abs(y - (row0 + (ny - 1) / 2)) <= 1

    # NaN (and 0 in the aperture) exactly where the window leaves the region.
    rows, columns = np.mgrid[row0 : row0 + ny, column0 : column0 + nx]
    held = (rows >= 0) & (rows < SHAPE[0]) & (columns >= 0) & (columns < SHAPE[1])
    assert held.any()
    assert not held.all()
    assert np.array_equal(aperture, held.astype(aperture.dtype))
    for values in (flux, error):
        assert np.isfinite(values[:, held]).all()
        assert np.isnan(values[:, ~held]).all()
    assert np.array_equal(np.isfinite(flux[0]), aperture == 1)
    # The pixels held are the cube's own.
    with fits.open(cube_path) as opened:
        pixels = opened[1].data[rows[held], columns[held]]  # (k, frames, 2)
    assert np.array_equal(flux[:, held], pixels[..., 0].T)
    assert np.array_equal(error[:, held], pixels[..., 1].T)

    # Its own WCS: every pixel held goes to the sky where its cube's WCS sends it.
    yy, xx = np.nonzero(held)
    truth = cube.wcs.pixel_to_world(xx + column0, yy + row0)
    exact = WCS(hdul["APERTURE"].header).pixel_to_world(xx, yy).separation(truth)
    assert exact.max() < 1e-3 * PIXEL_ARCSEC
    tangent = column_wcs(header).pixel_to_world(xx, yy).separation(truth)
    assert tangent.max() < 0.1 * PIXEL_ARCSEC
    return held


def check_pair(hduls, scene, position):
    """A cutout across the gap: one file for CCD 1 and one for CCD 2, each as `check_file`
    wants it, with different WCSs."""
    assert [hdul[0].header["CCD"] for hdul in hduls] == [1, 2]
    for hdul in hduls:
        check_file(hdul, hdul[0].header["CCD"], scene, position)
    one, two = (hdul["APERTURE"].header for hdul in hduls)
    for keyword in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2"):
        assert one[keyword] != two[keyword], keyword


def flux_of(hduls):
    return {Path(hdul.filename()).name: hdul["PIXELS"].data["FLUX"] for hdul in hduls}


def same_files(mine, theirs):
    """The same names, and the same pixels (NaN where NaN)."""
    mine, theirs = flux_of(mine), flux_of(theirs)
    assert sorted(mine) == sorted(theirs)
    for name, flux in mine.items():
        assert np.array_equal(flux, theirs[name], equal_nan=True), name


def test_the_regions_face_each_other_across_the_gap(scene):
    wcs = {ccd: open_cube(path).wcs for ccd, path in scene["cube"].items()}
    assert {ccd: open_cube(path).ccd_origin for ccd, path in scene["cube"].items()} == CORNERS
    # CCD 2's first column and CCD 1's last, on the sky: 28 pixels apart, rows facing.
    last = wcs[1].pixel_to_world(FFI_COLUMNS - 1 - CORNERS[1][0], 30)
    column, row = wcs[2].world_to_pixel(last)
    assert -30 < column + CORNERS[2][0] < -27
    assert 0 < row < SHAPE[0]
    # The target in the gap lies on neither FFI; the other on CCD 2's science pixels.
    for ccd, (column, row) in {1: (2149.5, 1028.2), 2: (-14.3, 1030.2)}.items():
        x, y = wcs[ccd].all_world2pix(*GAP, 0)
        assert abs(x + CORNERS[ccd][0] - column) < 0.1
        assert abs(y + CORNERS[ccd][1] - row) < 0.1
    x, y = wcs[2].all_world2pix(*INSIDE, 0)
    assert abs(x - 50.3) < 1e-3
    assert abs(y + CORNERS[2][1] - 1030.2) < 1e-3
    # The pointing model, which finds the cubes, agrees to a couple of pixels.
    for position, ccd, on_cube in ((GAP, 1, (2149.5, 1028.2)), (INSIDE, 2, (50.3, 1030.2))):
        column, row = ffi_pixels(*position, SECTOR, CAMERA, ccd)
        assert np.hypot(column[0] - 1 - on_cube[0], row[0] - 1 - on_cube[1]) < 3


@pytest.mark.parametrize("archive", ["cubes", "ffis"])
@pytest.mark.parametrize("case", CASES)
def test_a_local_archive_cuts_one_file_per_ccd(scene, archive, case):
    position, size = CASES[case]
    client = TessCutClass(archive=scene[archive])
    hduls = client.get_cutouts(coordinates=text(position), size=size, sector=1)
    check_pair(hduls, scene, position)
    # Without a sector, the same two files: the archive holds sector 1 alone.
    same_files(client.get_cutouts(coordinates=text(position), size=size), hduls)
    # The sector table within the cutout's radius (what finds the cubes) lists both CCDs.
    radius = parse_size(size).radius_deg() * u.deg
    table = client.query_sectors(coordinates=text(position), radius=radius)
    available = table[table["available"]]
    assert list(available["sectorName"]) == ["tess-s0001-4-1", "tess-s0001-4-2"]


def test_a_download_writes_one_file_per_ccd(scene, tmp_path):
    client = TessCutClass(archive=scene["cubes"])
    paths = client.download_cutouts(coordinates=text(GAP), size=WIDE, sector=1, path=tmp_path)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert sorted(str(tmp_path / name) for name in names) == sorted(paths["Local Path"])
    assert [name[:15] for name in names] == ["tess-s0001-4-1_", "tess-s0001-4-2_"]
    hduls = [fits.open(tmp_path / name) for name in names]
    try:
        check_pair(hduls, scene, GAP)
        same_files(hduls, client.get_cutouts(coordinates=text(GAP), size=WIDE, sector=1))
    finally:
        for hdul in hduls:
            hdul.close()


def test_a_batch_gives_one_row_per_ccd(scene, tmp_path):
    targets = Table(
        {"id": ["gap", "inside"], "ra": [GAP[0], INSIDE[0]], "dec": [GAP[1], INSIDE[1]]}
    )
    result = batch_cutouts(
        targets, WIDE, scene["cubes"], sectors=1, out_dir=tmp_path, show_progress=False
    )
    rows = [tuple(row) for row in result["target", "sector", "camera", "ccd", "status"]]
    assert rows == [
        ("gap", 1, 4, 1, "written"),
        ("gap", 1, 4, 2, "written"),
        ("inside", 1, 4, 1, "written"),
        ("inside", 1, 4, 2, "written"),
    ], list(result["error"])
    client = TessCutClass(archive=scene["cubes"])
    for name, position in (("gap", GAP), ("inside", INSIDE)):
        mine = result[result["target"] == name]
        hduls = client.get_cutouts(coordinates=text(position), size=WIDE, sector=1)
        assert [str(tmp_path / hdul.filename()) for hdul in hduls] == list(mine["path"])
        for hdul, path in zip(hduls, mine["path"], strict=True):
            with fits.open(path) as written:
                assert np.array_equal(
                    written["PIXELS"].data["FLUX"], hdul["PIXELS"].data["FLUX"], equal_nan=True
                )
                assert np.array_equal(written["APERTURE"].data, hdul["APERTURE"].data)


@pytest.fixture
def s3_archive(proxy, scene):
    """The two cubes on (moto's) S3 as MAST keeps cubes, under a prefix no other test
    reads (the counting proxy does not forward deletions: they stay for the session)."""
    import boto3

    prefix = "tess/public/across/"
    client = boto3.client(
        "s3", endpoint_url=proxy.url, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )  # fmt: skip
    try:
        for path in scene["cube"].values():
            client.upload_file(
                str(path), "stpubdata", prefix + path.name, ExtraArgs={"ACL": "public-read"}
            )
    finally:
        client.close()
    return f"s3://stpubdata/{prefix}"


@pytest.mark.parametrize("case", CASES)
def test_an_s3_archive_cuts_one_file_per_ccd(scene, s3_archive, case):
    position, size = CASES[case]
    client = TessCutClass(archive=s3_archive, storage_options=ANON)
    hduls = client.get_cutouts(coordinates=text(position), size=size, sector=1)
    check_pair(hduls, scene, position)
    local = TessCutClass(archive=scene["cubes"])
    same_files(hduls, local.get_cutouts(coordinates=text(position), size=size, sector=1))


@pytest.mark.parametrize("sector", [1, None])
def test_the_service_answer_keeps_one_file_per_ccd(scene, mock_http, tmp_path, sector):
    """TESScut's zip of a cutout across CCDs holds one file per CCD (built here as MAST
    builds them, from the cubes): every one of them comes back. Without a sector, the
    sectors are those TESScut lists within the cutout's radius (the target itself is on
    no CCD), then one request for sector 1."""
    made = TessCutClass(archive=scene["cubes"]).get_cutouts(
        coordinates=text(GAP), size=WIDE, sector=1
    )
    answer = io.BytesIO()
    with zipfile.ZipFile(answer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for hdul in made:
            buffer = io.BytesIO()
            hdul.writeto(buffer)
            zipped.writestr(hdul.filename(), buffer.getvalue())
    position = {"ra": str(GAP[0]), "dec": str(GAP[1])}
    if sector is None:
        rows = [
            {"sectorName": f"tess-s0001-4-{ccd}", "sector": "0001", "camera": "4", "ccd": str(ccd)}
            for ccd in (1, 2)
        ]
        radius = str(float(parse_size(WIDE).radius_deg()))
        mock_http.get(
            TESSCUT + "sector",
            json={"results": rows},
            match=[query_param_matcher({**position, "radius": radius})],
        )
    params = {**position, "x": "200", "y": "100", "units": "px", "sector": "1"}
    mock_zip(mock_http, "astrocut", params, answer.getvalue())
    client = TessCutClass(cache_dir=tmp_path / "cache")
    hduls = client.get_cutouts(coordinates=text(GAP), size=WIDE, sector=sector, cache=False)
    check_pair(hduls, scene, GAP)
    same_files(hduls, made)


def test_a_window_short_of_the_other_ccd_is_one_file(scene, tmp_path):
    """A window that stops in the gap is cut from CCD 2 alone, although the circle that
    finds the cubes (the cutout's half-diagonal) reaches CCD 1: no file, and no warning,
    for a CCD that holds none of it."""
    size = (100, 140)  # columns -20..119 of CCD 2; CCD 1 starts 29 columns left of 0
    store = LocalArchive(scene["cubes"])
    keys, _, _ = store.candidates(
        np.array([INSIDE[0]]), np.array([INSIDE[1]]), [1], radius_deg=parse_size(size).radius_deg()
    )
    assert keys.tolist() == [[1, 4, 1], [1, 4, 2]]
    client = TessCutClass(archive=scene["cubes"])
    (hdul,) = client.get_cutouts(coordinates=text(INSIDE), size=size, sector=1)
    held = check_file(hdul, 2, scene, INSIDE)
    assert not held[:, :20].any()  # the gap's columns
    # The batch cuts the same one file; CCD 1, which the circle reaches, gives no file.
    result = batch_cutouts(
        Table({"ra": [INSIDE[0]], "dec": [INSIDE[1]]}), size, scene["cubes"], sectors=1,
        out_dir=tmp_path, show_progress=False,
    )  # fmt: skip
    written = result[result["status"] == "written"]
    assert list(written["ccd"]) == [2]
    assert list(written["path"]) == [str(tmp_path / hdul.filename())]
    assert all(path == "" for path in result[result["ccd"] != 2]["path"])
    assert [path.name for path in tmp_path.iterdir()] == [hdul.filename()]
