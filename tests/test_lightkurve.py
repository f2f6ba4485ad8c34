"""lightkurve reads every target pixel file the package writes or passes on.

The demo's cutout, an offline cutout of a (synthetic) cube and a file the
service served are each opened with ``lightkurve.read``, the call users make
next: lightkurve must take them for TESS target pixel files, see the file's
pixels and times, and, for synthetic pixels, still see SIMDATA.
"""

import warnings

import numpy as np
import pytest
from astropy.io import fits
from conftest import PI_MEN
from mast_mocks import mock_resolver, mock_zip
from synthetic import make_tpf, make_zip, tpf_bytes, tpf_name

with warnings.catch_warnings():
    # lightkurve warns at import about optional modules it cannot offer (tpfmodel).
    warnings.simplefilter("ignore")
    lk = pytest.importorskip("lightkurve", reason="lightkurve (the test extra) is not installed")


def read_with_lightkurve(path, **kwargs):
    """What ``lightkurve.read`` makes of ``path``: the pixels, times and headers it sees."""
    tpf = lk.read(str(path), **kwargs)
    try:
        return {
            "class": type(tpf),
            "flux": tpf.flux.value.copy(),
            "time": tpf.time.value.copy(),
            "column": tpf.column,
            "row": tpf.row,
            "sector": tpf.sector,
            "meta": dict(tpf.meta),
            "header": tpf.get_header(0).copy(),
        }
    finally:
        tpf.hdu.close()  # lightkurve keeps the file open


def check_lightkurve_sees_the_file(path):
    """lightkurve's view of ``path`` agrees with the file; returns its primary header."""
    with fits.open(path) as hdul:
        primary = hdul[0].header.copy()
        pixels = hdul["PIXELS"].data
        flux, time, quality = pixels["FLUX"].copy(), pixels["TIME"].copy(), pixels["QUALITY"]
        header = hdul["PIXELS"].header
        column, row = header["1CRV5P"], header["2CRV5P"]
        default_mask = (quality & lk.utils.TessQualityFlags.DEFAULT_BITMASK) == 0

    seen = read_with_lightkurve(path, quality_bitmask="none")
    assert seen["class"] is lk.TessTargetPixelFile
    assert seen["flux"].shape == flux.shape
    np.testing.assert_array_equal(seen["flux"], flux)
    np.testing.assert_array_equal(seen["time"], time)
    assert (seen["column"], seen["row"]) == (column, row)
    assert seen["sector"] == primary["SECTOR"]

    # lightkurve's default read drops the cadences its quality mask flags (QUALITY 128 here).
    default = read_with_lightkurve(path)
    assert default["class"] is lk.TessTargetPixelFile
    assert not default_mask.all()
    np.testing.assert_array_equal(default["time"], time[default_mask])
    np.testing.assert_array_equal(default["flux"], flux[default_mask])
    return primary, seen


def check_synthetic(primary, seen):
    """A synthetic file still says so, to lightkurve too."""
    assert primary["SIMDATA"] is True
    assert "not TESS data" in primary["SIMNOTE"]
    assert seen["meta"]["SIMDATA"] is True
    assert seen["header"]["SIMNOTE"] == primary["SIMNOTE"]
    # Nothing claims the pixels came from MAST.
    assert "stsci" not in primary["ORIGIN"].lower()
    assert primary["ORIGIN"] == "astro_tesscut.simulate"
    assert primary["CREATOR"] == "astro_tesscut TargetPixelFile"


def test_lightkurve_reads_the_demo_cutout(mock_http, tmp_path):
    from astro_tesscut.demo import is_demo_file, run_demo

    written = run_demo(tmp_path, frames=12, show_progress=False, echo=lambda line: None)
    primary, seen = check_lightkurve_sees_the_file(written["tpf"])
    check_synthetic(primary, seen)
    assert is_demo_file(seen["header"])
    assert seen["flux"].shape == (12, 45, 35)


def test_lightkurve_reads_an_offline_cutout_of_a_cube(cube_file, tmp_path):
    from astro_tesscut.cube.cutout import cutout

    hdul = cutout(cube_file, f"{PI_MEN[0]} {PI_MEN[1]}", size=(9, 7))
    path = tmp_path / hdul.filename()
    hdul.writeto(path)
    primary, seen = check_lightkurve_sees_the_file(path)
    check_synthetic(primary, seen)
    assert seen["flux"].shape == (8, 9, 7)


def test_lightkurve_reads_a_service_cutout_as_it_came(mock_http, tmp_path):
    from astro_tesscut import TessCutClass

    ra, dec = PI_MEN
    served = tpf_bytes(make_tpf(sector=1, camera=4, ccd=2, ra=ra, dec=dec, shape=(45, 35)))
    name = tpf_name(sector=1, camera=4, ccd=2, ra=ra, dec=dec, nx=35, ny=45)
    mock_resolver(mock_http, "TIC 261136679", "resolver_tic_261136679.json")
    mock_zip(
        mock_http,
        "astrocut",
        {"ra": str(ra), "dec": str(dec), "x": "35", "y": "45", "units": "px", "sector": "1"},
        make_zip({name: served}),
    )
    (path,) = TessCutClass().download_cutouts(
        objectname="TIC 261136679", size=(45, 35), sector=1, path=tmp_path
    )["Local Path"]
    with open(path, "rb") as file:
        assert file.read() == served  # passed on as TESScut sent it
    primary, seen = check_lightkurve_sees_the_file(path)
    assert (primary["ORIGIN"], primary["CREATOR"]) == ("STScI/MAST", "astrocut")
    assert "SIMDATA" not in seen["meta"]
    assert seen["flux"].shape == (12, 45, 35)


def test_lightkurve_reads_a_time_window(cube_file, tmp_path):
    from astro_tesscut import TessCutClass
    from astro_tesscut.cube.ffi_cube import open_cube

    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / cube_file.name).symlink_to(cube_file)
    cube = open_cube(cube_file)
    (path,) = TessCutClass(archive=archive).download_cutouts(
        coordinates=PI_MEN, size=(9, 7), sector=1, time=(cube.times[0], cube.times[5]),
        path=tmp_path,
    )["Local Path"]  # fmt: skip
    seen = read_with_lightkurve(path, quality_bitmask="none")
    assert seen["class"] is lk.TessTargetPixelFile
    np.testing.assert_array_equal(seen["time"], cube.times[:6])
    with fits.open(path) as hdul:
        np.testing.assert_array_equal(seen["flux"], hdul["PIXELS"].data["FLUX"])
    assert seen["header"]["TSTOP"] == cube.column("TSTOP")[5]
