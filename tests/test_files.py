"""Reading cutout zips and writing their files safely."""

import io
import zipfile

import numpy as np
import pytest
from astropy.wcs import WCS
from synthetic import make_cutout_zip, make_tpf_file, make_zip, no_data_json

from astro_tesscut.exceptions import CorruptResponseError
from astro_tesscut.files import (
    no_data_message,
    open_cutouts,
    open_fits,
    save_zip,
    write_cutouts,
)

PIXEL_COLUMNS = [
    "TIME",
    "TIMECORR",
    "CADENCENO",
    "RAW_CNTS",
    "FLUX",
    "FLUX_ERR",
    "FLUX_BKG",
    "FLUX_BKG_ERR",
    "QUALITY",
    "POS_CORR1",
    "POS_CORR2",
    "FFI_FILE",
]


def write(path, data):
    path.write_bytes(data)
    return path


def test_zip_is_not_a_message():
    assert no_data_message(io.BytesIO(make_cutout_zip({}))) is None


def test_json_message_is_read():
    assert no_data_message(io.BytesIO(no_data_json("nothing here"))) == "nothing here"


@pytest.mark.parametrize(
    "body",
    [b"<html>Bad gateway</html>", b'{"results": []}', b"{not json", b"", make_cutout_zip({})[:-30]],
)
def test_anything_else_is_corrupt(body):
    with pytest.raises(CorruptResponseError, match="neither a zip of cutouts nor"):
        no_data_message(io.BytesIO(body))


def test_open_cutouts_in_tesscut_layout():
    payload = io.BytesIO(make_cutout_zip({"sector": 1, "shape": (45, 35), "n_cadences": 7}))
    (hdul,) = open_cutouts(payload)
    assert hdul.filename() == "tess-s0001-4-2_84.291188_-80.469120_35x45_astrocut.fits"
    assert [hdu.name for hdu in hdul] == ["PRIMARY", "PIXELS", "APERTURE"]
    assert hdul["PIXELS"].columns.names == PIXEL_COLUMNS
    assert hdul["PIXELS"].data["FLUX"].shape == (7, 45, 35)
    assert hdul["PIXELS"].header["TDIM5"] == "(35, 45)"
    assert hdul["APERTURE"].data.shape == (45, 35)
    assert WCS(hdul["APERTURE"].header).has_celestial


def test_open_cutouts_sorted_by_sector_camera_ccd():
    payload = io.BytesIO(
        make_cutout_zip(
            {"sector": 13, "camera": 3, "ccd": 3},
            {"sector": 1, "camera": 4, "ccd": 2},
            {"sector": 12, "camera": 3, "ccd": 4},
        )
    )
    sectors = [hdul[0].header["SECTOR"] for hdul in open_cutouts(payload)]
    assert sectors == [1, 12, 13]


@pytest.mark.parametrize(
    "name",
    ["../evil.fits", "/tmp/evil.fits", "sub/evil.fits", "..\\evil.fits", "C:evil.fits", ".."],
)
def test_unsafe_member_names_are_refused(name, tmp_path):
    good_name, good = make_tpf_file()
    payload = write(tmp_path / "in.zip", make_zip({good_name: good, name: good}))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CorruptResponseError, match="not a plain file name"):
        write_cutouts(payload, out)
    with pytest.raises(CorruptResponseError, match="not a plain file name"):
        open_cutouts(payload)
    assert list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.zip", "out"]


def test_non_fits_member_is_corrupt():
    payload = io.BytesIO(make_zip({"tess-s0001-4-2_x_astrocut.fits": b"<html>oops</html>" * 200}))
    with pytest.raises(CorruptResponseError, match="not a readable FITS file"):
        open_cutouts(payload)


def test_empty_archive_is_corrupt():
    with pytest.raises(CorruptResponseError, match="empty"):
        open_cutouts(io.BytesIO(make_zip({})))


@pytest.mark.parametrize("cut", [10, 2880, 20000])
def test_truncated_fits_is_detected(cut):
    name, data = make_tpf_file()
    with pytest.raises(CorruptResponseError, match="truncated|not a readable"):
        open_fits(io.BytesIO(data[:-cut]), name=name)


def test_complete_fits_opens():
    name, data = make_tpf_file()
    hdul = open_fits(io.BytesIO(data), name=name)
    assert len(hdul) == 3


def test_corrupt_deflate_stream_is_corrupt(tmp_path):
    name, data = make_tpf_file()
    raw = bytearray(make_zip({name: data}))
    start = raw.index(b"PK\x03\x04") + 30 + len(name)
    raw[start + 100 : start + 140] = bytes(40)  # damage the compressed bytes
    payload = write(tmp_path / "bad.zip", bytes(raw))
    with pytest.raises(CorruptResponseError):
        write_cutouts(payload, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def test_write_cutouts_is_all_or_nothing(tmp_path):
    good_name, good = make_tpf_file(sector=1)
    bad_name, bad = make_tpf_file(sector=4)
    payload = write(tmp_path / "in.zip", make_zip({good_name: good, bad_name: bad[:-5000]}))
    out = tmp_path / "out"
    out.mkdir()
    precious = write(out / bad_name, b"a file the user already had")
    with pytest.raises(CorruptResponseError, match="truncated"):
        write_cutouts(payload, out)
    assert sorted(p.name for p in out.iterdir()) == [bad_name]  # no good one, no temp file
    assert precious.read_bytes() == b"a file the user already had"


def test_write_cutouts_writes_verified_files(tmp_path):
    payload = write(
        tmp_path / "in.zip",
        make_cutout_zip({"sector": 4, "camera": 4, "ccd": 3}, {"sector": 1}),
    )
    out = tmp_path / "out"
    out.mkdir()
    paths = write_cutouts(payload, out)
    assert [p.name[:14] for p in paths] == ["tess-s0001-4-2", "tess-s0004-4-3"]
    assert sorted(out.iterdir()) == paths
    with open_fits(paths[0], name="x") as hdul:
        assert np.isfinite(hdul["PIXELS"].data["FLUX"]).all()


def test_save_zip_verifies_before_renaming(tmp_path):
    name, data = make_tpf_file()
    good = write(tmp_path / ".good.part", make_zip({name: data}))
    final = save_zip(good, tmp_path / "cutouts.zip")
    with zipfile.ZipFile(final) as archive:
        assert archive.namelist() == [name]
    assert not good.exists()

    bad = write(tmp_path / ".bad.part", make_zip({name: data[:-3000]}))
    with pytest.raises(CorruptResponseError):
        save_zip(bad, tmp_path / "cutouts.zip")
    with zipfile.ZipFile(final) as archive:
        assert archive.namelist() == [name]
