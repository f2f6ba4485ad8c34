"""The one API offline: `TessCutClass(archive=...)` and ``query_sectors(offline=True)``.

No request may leave: every test runs under a `responses` mock with nothing
registered (unless it resolves a name, which goes to MAST's resolver).
"""

import numpy as np
import pytest
from astropy.io import fits
from conftest import PI_MEN, load_json

from astro_tesscut import InvalidQueryError, NoResultsWarning, TessCutClass
from astro_tesscut.cube import build
from astro_tesscut.cube.cutout import cutout

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"


@pytest.fixture
def ffi_archive(ffi_files, tmp_path):
    """A directory holding the FFIs (no cube)."""
    directory = tmp_path / "ffis"
    directory.mkdir()
    for path in ffi_files:
        (directory / path.name).symlink_to(path)
    return directory


def test_offline_sectors_match_mast(mock_http):
    sectors = TessCutClass().query_sectors(coordinates=PI_MEN_TEXT, offline=True)
    mast = load_json("sector_pi_men.json")["results"]
    expected = [(int(r["sector"]), int(r["camera"]), int(r["ccd"])) for r in mast]
    ours = [tuple(map(int, row)) for row in sectors["sector", "camera", "ccd"]]
    assert [row for row in ours if row[0] <= 68] == expected
    assert list(sectors["sectorName"][:1]) == ["tess-s0001-4-2"]
    assert {"column", "row", "released"} <= set(sectors.colnames)
    assert sectors["released"][0]
    assert len(mock_http.calls) == 0


def test_offline_sectors_resolve_names_from_the_bundled_rows(mock_http):
    # mock_http refuses any request: offline, the name is never sent to MAST's resolver.
    sectors = TessCutClass().query_sectors(objectname="TIC 261136679", offline=True)
    assert sectors["sector"][0] == 1
    assert len(mock_http.calls) == 0


def test_offline_sectors_nowhere(mock_http):
    # Near the ecliptic some places fall between the cameras of every pointing so far.
    with pytest.warns(NoResultsWarning, match="no TESS sector observed"):
        table = TessCutClass().query_sectors(coordinates="214.625 1.007", offline=True)
    assert len(table) == 0
    assert "released" in table.colnames


def test_archive_of_ffis_cuts_like_the_cube(mock_http, ffi_archive, cube_file, monkeypatch):
    builds = []
    real_build = build.build_cube
    monkeypatch.setattr(
        build, "build_cube", lambda *a, **k: builds.append(a) or real_build(*a, **k)
    )
    tesscut = TessCutClass(archive=ffi_archive)
    (hdul,) = tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=(9, 7))
    expected = cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    assert hdul.filename() == expected.filename()
    for column in ("FLUX", "FLUX_ERR", "QUALITY", "TIME"):
        assert np.array_equal(hdul["PIXELS"].data[column], expected["PIXELS"].data[column])
    tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=3)
    assert len(builds) == 1  # the cube built from the FFIs is kept
    assert len(mock_http.calls) == 0


def test_archive_sectors_say_what_is_held(mock_http, cube_archive):
    sectors = TessCutClass(archive=cube_archive).query_sectors(coordinates=PI_MEN_TEXT)
    held = sectors[sectors["available"]]
    assert list(held["sectorName"]) == ["tess-s0001-4-2"]
    assert len(sectors) > 20


def test_archive_download(mock_http, cube_archive, tmp_path):
    tesscut = TessCutClass(archive=cube_archive)
    paths = tesscut.download_cutouts(coordinates=PI_MEN_TEXT, size=5, path=tmp_path / "out")
    (path,) = paths["Local Path"]
    assert path.endswith("tess-s0001-4-2_84.291188_-80.469120_5x5_astrocut.fits")
    with fits.open(path) as hdul:
        assert hdul["PIXELS"].data["FLUX"].shape == (8, 5, 5)
    zipped = tesscut.download_cutouts(
        coordinates=PI_MEN_TEXT, size=5, sector=1, path=tmp_path / "zip", inflate=False
    )
    assert zipped["Local Path"][0].endswith("tesscut_84.291188_-80.469120_5x5_s0001.zip")
    assert len(mock_http.calls) == 0


def test_archive_without_the_sector(mock_http, cube_archive, tmp_path):
    tesscut = TessCutClass(archive=cube_archive)
    with pytest.warns(NoResultsWarning, match="sector 4 is not in"):
        assert tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=5, sector=4) == []
    with pytest.warns(NoResultsWarning, match="holds none of the sectors of RA, Dec = 10"):
        paths = tesscut.download_cutouts(coordinates="10 20", size=5, path=tmp_path)
    assert len(paths) == 0


def test_archive_refuses_moving_targets_before_anything(mock_http, cube_archive):
    tesscut = TessCutClass(archive=cube_archive)
    with pytest.raises(InvalidQueryError, match="^moving_target: offline"):
        tesscut.get_cutouts(objectname="Ceres", moving_target=True)
    with pytest.raises(InvalidQueryError, match="^moving_target: offline"):
        TessCutClass().query_sectors(objectname="Ceres", moving_target=True, offline=True)
    assert len(mock_http.calls) == 0


def test_archive_must_be_a_directory(tmp_path):
    with pytest.raises(InvalidQueryError, match="^archive: .* is not a directory"):
        TessCutClass(archive=tmp_path / "nowhere")


def test_a_download_removes_what_a_killed_run_left(cube_archive, tmp_path):
    import os
    import subprocess
    import sys

    from astro_tesscut.files import owned_name

    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    name = owned_name("tess-s0001-4-2_1_2_5x5_astrocut.fits", ".part")
    leftover = out / name.replace(f".{os.getpid()}.", f".{int(dead.stdout)}.")
    leftover.write_bytes(b"half a file")
    TessCutClass(archive=cube_archive).download_cutouts(
        coordinates=PI_MEN_TEXT, size=5, sector=1, path=out
    )
    assert not leftover.exists()
    assert [p.name for p in out.iterdir()] == [
        "tess-s0001-4-2_84.291188_-80.469120_5x5_astrocut.fits"
    ]
