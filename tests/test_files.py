"""Reading cutout zips and writing their files safely."""

import io
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from synthetic import make_cutout_zip, make_tpf, make_tpf_file, make_zip, no_data_json

from astro_tesscut import files
from astro_tesscut.cutout_names import ANY_CUTOUT
from astro_tesscut.exceptions import CorruptResponseError
from astro_tesscut.files import (
    copy_cutouts,
    no_data_message,
    open_cutouts,
    open_fits,
    owned_name,
    save_zip,
    write_cutouts,
    write_files,
    write_zip,
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
    with pytest.raises(CorruptResponseError, match=": the cutout zip is empty$"):
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


def test_corrupt_deflate_stream_is_named(tmp_path):
    name, data = make_tpf_file()
    raw = bytearray(make_zip({name: data}))
    start = raw.index(b"PK\x03\x04") + 30 + len(name)
    raw[start + 100 : start + 140] = bytes(40)
    with pytest.raises(CorruptResponseError, match=f"cannot inflate {name} from the zip: "):
        open_cutouts(io.BytesIO(bytes(raw)))
    with pytest.raises(CorruptResponseError, match=f"cannot inflate {name} from the zip: "):
        write_cutouts(io.BytesIO(bytes(raw)), tmp_path)


def test_save_zip_names_the_damaged_member(tmp_path):
    name, data = make_tpf_file()
    bad = write(tmp_path / ".bad.part", make_zip({name: data[:-3000]}))
    with pytest.raises(CorruptResponseError, match=f": {name} .*truncated"):
        save_zip(bad, tmp_path / "cutouts.zip")
    assert not (tmp_path / "cutouts.zip").exists()


# checksums


def fits_bytes(hdul, *, checksum):
    buffer = io.BytesIO()
    hdul.writeto(buffer, checksum=checksum)
    return buffer.getvalue()


def with_one_sum_broken(which):
    """A target pixel file whose PIXELS HDU fails its CHECKSUM or its DATASUM, not both."""
    hdul = fits.open(io.BytesIO(fits_bytes(make_tpf(shape=(5, 5)), checksum=True)))
    if which == "checksum":  # the header changed after it was summed
        hdul[1].header["OBJECT"] = "another"
    else:  # the data changed, and the CHECKSUM was made again over the stale DATASUM
        hdul[1].data["FLUX"][0, 0, 0] += 1
        hdul[1].add_checksum(override_datasum=True)
    data = fits_bytes(hdul, checksum=False)
    with fits.open(io.BytesIO(data)) as check:
        sums = (check[1].verify_checksum(), check[1].verify_datasum())
    assert sums == ((0, 1) if which == "checksum" else (1, 0))
    return data


@pytest.mark.parametrize("which", ["checksum", "datasum"])
def test_a_file_failing_either_sum_is_refused(which):
    data = with_one_sum_broken(which)
    with pytest.raises(CorruptResponseError, match=r": x\.fits fails its checksum in HDU 1$"):
        open_fits(io.BytesIO(data), name="x.fits")


def test_a_file_without_sums_opens():
    data = fits_bytes(make_tpf(shape=(5, 5)), checksum=False)
    with open_fits(io.BytesIO(data), name="x.fits") as hdul:
        assert "CHECKSUM" not in hdul[1].header
        assert len(hdul) == 3


# writing files this package made, and copies of cached ones


def hidden(directory):
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


def test_write_files_writes_each_file_as_given(tmp_path):
    (name1, data1), (name4, data4) = make_tpf_file(sector=1), make_tpf_file(sector=4)
    paths = write_files([(name4, data4), (name1, data1)], tmp_path)
    assert paths == [tmp_path / name4, tmp_path / name1]
    assert [p.read_bytes() for p in paths] == [data4, data1]
    assert hidden(tmp_path) == []


def test_write_files_writes_all_or_none(tmp_path):
    name, data = make_tpf_file()
    precious = write(tmp_path / name, b"a file the user already had")
    with pytest.raises(FileNotFoundError):
        write_files([(name, data), ("missing/other.fits", data)], tmp_path)
    assert precious.read_bytes() == b"a file the user already had"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_write_zip_holds_the_files_deflated(tmp_path):
    (name1, data1), (name4, data4) = make_tpf_file(sector=1), make_tpf_file(sector=4)
    path = tmp_path / "cutouts.zip"
    assert write_zip([(name1, data1), (name4, data4)], path) == path
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [name1, name4]
        assert [archive.read(name) for name in (name1, name4)] == [data1, data4]
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cutouts.zip"]


def test_write_zip_checks_what_it_wrote_and_keeps_what_was_there(tmp_path):
    name, data = make_tpf_file()
    path = write(tmp_path / "cutouts.zip", b"the user's zip")
    with pytest.raises(CorruptResponseError, match="truncated"):
        write_zip([(name, data[:-3000])], path)
    assert path.read_bytes() == b"the user's zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cutouts.zip"]


def test_write_zip_accepts_a_string_path(tmp_path):
    name, data = make_tpf_file()
    path = write_zip([(name, data)], str(tmp_path / "cutouts.zip"))
    assert path == tmp_path / "cutouts.zip"


def test_copies_of_cached_files_are_exact_and_not_read_again(tmp_path, monkeypatch):
    cache, out = tmp_path / "cache", tmp_path / "out"
    cache.mkdir()
    out.mkdir()
    (name1, data1), (name4, data4) = make_tpf_file(sector=1), make_tpf_file(sector=4)
    sources = [write(cache / name1, data1), write(cache / name4, data4)]
    opened = []
    monkeypatch.setattr(files, "open_fits", lambda *a, **k: opened.append(a))
    monkeypatch.setattr(files, "walk", lambda *a, **k: opened.append(a))
    paths = copy_cutouts(sources, out)
    assert paths == [out / name1, out / name4]
    assert [p.read_bytes() for p in paths] == [data1, data4]
    assert opened == []  # the cache verified them when they arrived
    assert hidden(out) == []
    assert [p.read_bytes() for p in sources] == [data1, data4]


def test_a_zip_is_built_under_a_hidden_name_of_its_own(tmp_path, monkeypatch):
    seen = []
    verify = files._verify_zip

    def watching(path, **kwargs):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        return verify(path, **kwargs)

    monkeypatch.setattr(files, "_verify_zip", watching)
    write_zip([make_tpf_file()], tmp_path / "cutouts.zip")
    ((building,),) = seen
    assert re.fullmatch(r"\.cutouts\.zip\.[A-Za-z0-9-]+\.[0-9]+\.[0-9a-f]{8}\.part", building)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cutouts.zip"]


def test_a_damaged_member_is_named(tmp_path):
    name, data = make_tpf_file()
    payload = make_zip({name: data[:-5000]})
    with pytest.raises(CorruptResponseError, match=f": {name} .*truncated"):
        open_cutouts(io.BytesIO(payload))
    with pytest.raises(CorruptResponseError, match=f": {name} .*truncated"):
        write_cutouts(io.BytesIO(payload), tmp_path)


# Above any process id Linux gives (its pid_max is 2**22 at most).
NO_SUCH_PID = 2**22 + 1


def test_temporaries_of_a_dead_owner_are_swept(tmp_path):
    stale = tmp_path / owned_name("x.fits", ".part").replace(f".{os.getpid()}.", f".{NO_SUCH_PID}.")
    stale.write_bytes(b"left by a killed process")
    assert files.sweep_stale(tmp_path) == [stale]
    assert not stale.exists()


# A child that dies of any signal sent to it (one started in the background inherits
# SIGHUP and SIGINT ignored), and says when it is ready.
CHILD = (
    "import signal, sys\n"
    "for number in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(number, signal.SIG_DFL)\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_asking_whether_a_process_lives_never_signals_it():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "ready\n"
        assert files._alive(child.pid)
        with pytest.raises(subprocess.TimeoutExpired):  # still running: not signalled
            child.wait(timeout=0.5)
    finally:
        child.stdin.close()
        child.wait(timeout=60)
        child.stdout.close()
    assert child.returncode == 0
    assert not files._alive(NO_SUCH_PID)


class NotPosix:
    """The `os` of a system where asking whether a process exists is not harmless."""

    name = "nt"

    @staticmethod
    def kill(pid, signal):
        raise AssertionError("os.kill would terminate the process")


def test_outside_posix_every_owner_counts_as_alive(monkeypatch):
    monkeypatch.setattr(files, "os", NotPosix)
    assert files._alive(NO_SUCH_PID)


def test_a_message_is_read_from_the_first_64_kib_only():
    huge = b'{"msg": "' + b"a" * 70_000 + b'"}'  # JSON, but no short message of TESScut's
    with pytest.raises(CorruptResponseError, match="neither a zip of cutouts nor"):
        no_data_message(io.BytesIO(huge))
    padded = b'{"msg": "no data"}' + b" " * 70_000
    assert no_data_message(io.BytesIO(padded)) == "no data"


def test_what_is_neither_is_quoted_by_its_first_80_bytes():
    body = b"<html>" + b"x" * 200
    with pytest.raises(CorruptResponseError) as info:
        no_data_message(io.BytesIO(body))
    assert str(info.value).endswith(f"it starts {body[:80]!r}")


PATH_CUTOUT_TAIL = "_1000.5-1010.25_10-x-10_astrocut.fits"


def test_a_moving_target_cutout_name_may_fill_a_file_name_and_no_more():
    longest = "A" * (255 - len(PATH_CUTOUT_TAIL)) + PATH_CUTOUT_TAIL
    ANY_CUTOUT.check(longest)  # 255 bytes: a file system's limit
    with pytest.raises(CorruptResponseError, match="not how TESScut names a cutout"):
        ANY_CUTOUT.check("A" + longest)


def test_a_name_refused_says_what_tesscut_names_look_like():
    with pytest.raises(CorruptResponseError) as info:
        ANY_CUTOUT.check("notes.txt")
    assert str(info.value).endswith(
        "the cutout zip holds a member named 'notes.txt', which is not how TESScut names a "
        "cutout (tess-sSSSS-C-D_<ra>_<dec>_<x>x<y>_astrocut.fits, or for a moving target "
        "<target>_<tstart>-<tstop>_<x>-x-<y>_astrocut.fits); refusing to write anything from it"
    )


def test_two_members_of_one_name_are_refused(tmp_path):
    name, data = make_tpf_file()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(name, data)
            archive.writestr(name, b"a second file of that name")
    message = ": the cutout zip holds two members with the same name$"
    with pytest.raises(CorruptResponseError, match=message):
        open_cutouts(io.BytesIO(buffer.getvalue()))
    with pytest.raises(CorruptResponseError, match=message):
        write_cutouts(io.BytesIO(buffer.getvalue()), tmp_path)
    assert list(tmp_path.iterdir()) == []


def stale_temporaries(directory, count):
    """Temporaries in ``directory`` that a dead process of this host left."""
    paths = []
    for number in range(count):
        name = owned_name(f"x{number}.fits", ".part")
        path = directory / name.replace(f".{os.getpid()}.", f".{NO_SUCH_PID}.")
        path.write_bytes(b"left by a killed process")
        paths.append(path)
    return paths


def test_a_sweep_goes_on_past_what_another_sweeper_took(tmp_path, monkeypatch):
    stale = stale_temporaries(tmp_path, 3)
    lstat, taken = Path.lstat, []

    def racing_lstat(path):
        if not taken:  # the first one looked at: gone before this sweeper got to it
            taken.append(path)
            path.unlink()
        return lstat(path)

    monkeypatch.setattr(Path, "lstat", racing_lstat)
    removed = files.sweep_stale(tmp_path)
    assert sorted(removed) == sorted(set(stale) - set(taken))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_sweep_does_not_mind_what_is_gone_before_it_is_removed(tmp_path, monkeypatch, kind):
    (stale,) = stale_temporaries(tmp_path, 1)
    if kind == "directory":  # a cache's staging directory, half filled
        stale.unlink()
        stale = stale.with_suffix(".staging")
        (stale / "sub").mkdir(parents=True)
        (stale / "sub" / "x.fits").write_bytes(b"half an entry")
    lstat = Path.lstat

    def lstat_then_gone(path):
        result = lstat(path)
        # Another sweeper removes it between the look and the removal.
        shutil.rmtree(path) if kind == "directory" else path.unlink()
        return result

    monkeypatch.setattr(Path, "lstat", lstat_then_gone)
    assert files.sweep_stale(tmp_path) == [stale]
