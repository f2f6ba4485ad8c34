"""Hostile files: answers naming files of the user's, a cache with planted or changed files,
clearing the cache under another process's downloads, and temporaries of killed processes.

A hostile answer is refused with a clear error and leaves the output directory and the cache
as they were: no file but the user's, each byte for byte. Processes that race or die here
are real ones (subprocesses); HTTP is mocked with `responses`.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import FFI_REGION
from mast_mocks import TESSCUT, mock_zip
from synthetic import make_cutout_zip, make_tpf, make_tpf_file, make_zip, tpf_bytes

from astro_tesscut import CorruptResponseError, TessCutClass, TessCutWarning, conf
from astro_tesscut.backends.cache import MANIFEST, CutoutCache
from astro_tesscut.cube.build import build_cube
from astro_tesscut.cutout_names import ANY_CUTOUT, ExpectedNames, cutout_name
from astro_tesscut.files import owned_name, sweep_stale, temporary_path
from astro_tesscut.fitslayout import walk
from astro_tesscut.sizes import parse_size
from astro_tesscut.targets import parse_target
from astro_tesscut.writers import InMemory, IntoDirectory

TESTS = Path(__file__).parent
RA, DEC = "84.2911879979852", "-80.4691197969941"
COORDS = f"{RA} {DEC}"
CUTOUT = {"ra": RA, "dec": DEC, "x": "10", "y": "10", "units": "px"}
URL = TESSCUT + "astrocut"

GOOD_NAME, GOOD = make_tpf_file(sector=1, shape=(10, 10), n_cadences=5)
# A valid target pixel file to put under hostile names: only its name is wrong.
OTHER_FITS = make_tpf_file(sector=1, shape=(10, 10), n_cadences=5, seed=3)[1]
USER_FILES = {
    ".bashrc": b"export PATH=$HOME/bin:$PATH\n",
    "my_analysis.fits": tpf_bytes(make_tpf(sector=1, shape=(5, 5), n_cadences=3)),
    GOOD_NAME: b"the user's own copy of this cutout",
}

HOSTILE_NAMES = [
    ".bashrc",
    "my_analysis.fits",
    "tesscut.zip",
    GOOD_NAME + ".bak",
    GOOD_NAME.replace(".fits", ".FITS"),
    GOOD_NAME.replace("-4-2_", "-5-2_"),  # no camera 5
    GOOD_NAME.replace("-4-2_", "-4-0_"),  # no CCD 0
    GOOD_NAME.replace("s0001", "s001"),
    GOOD_NAME.replace("s0001", "s\u0660\u0660\u0660\u0661"),  # Arabic-Indic digits
    GOOD_NAME.replace("_10x10_", "_0x10_"),
    GOOD_NAME.replace("84.291188", "ra"),
    GOOD_NAME.replace("84.291188", "84.291188e3"),
    "tess-s0001-4-2_84.291188_-80.469120_10x10_astrocut.fits.fits",
]

WAYS = ["memory", "memory-uncached", "files", "files-uncached", "zip"]


def fetch(client, way, out):
    """Ask the client for the cutouts of sector 1 one of the public ways."""
    cache = not way.endswith("-uncached")
    if way.startswith("memory"):
        return client.get_cutouts(coordinates=COORDS, size=10, sector=1, cache=cache)
    return client.download_cutouts(
        coordinates=COORDS, size=10, sector=1, path=out, cache=cache, inflate=way != "zip"
    )


def files_in(directory):
    """Every file under ``directory``, hidden ones too, and its bytes."""
    if not directory.exists():
        return {}
    paths = sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink())
    return {str(p.relative_to(directory)): p.read_bytes() for p in paths}


def entries(cache_dir):
    """The cache's entries: its directories not hidden."""
    return sorted(p for p in cache_dir.iterdir() if not p.name.startswith("."))


@pytest.fixture
def out(tmp_path):
    """An output directory holding files of the user's."""
    directory = tmp_path / "out"
    directory.mkdir()
    for name, data in USER_FILES.items():
        (directory / name).write_bytes(data)
    return directory


@pytest.fixture
def client(tmp_path):
    return TessCutClass(cache_dir=tmp_path / "cache")


def assert_refused_cleanly(tmp_path, out, users=USER_FILES):
    """The output directory holds the user's files alone, unchanged; the cache holds nothing."""
    assert files_in(out) == users
    cache = tmp_path / "cache"
    if cache.exists():  # no entry, no staging, no incoming file
        assert os.listdir(cache) in ([], [".incoming"])
        assert files_in(cache) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) in (["out"], ["cache", "out"])


# 1. names the service chose


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_member_not_named_as_a_tesscut_cutout_is_refused(mock_http, client, tmp_path, out, name):
    members = {GOOD_NAME: GOOD, name: OTHER_FITS}
    mock_zip(mock_http, "astrocut", {**CUTOUT, "sector": "1"}, make_zip(members))
    with pytest.raises(CorruptResponseError, match="not how TESScut names a cutout") as info:
        fetch(client, "files-uncached", out)
    assert repr(name) in str(info.value)
    assert_refused_cleanly(tmp_path, out)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", [".bashrc", "my_analysis.fits"])
def test_user_files_are_never_replaced(mock_http, client, tmp_path, out, way, name):
    members = {GOOD_NAME: GOOD, name: OTHER_FITS}
    mock_zip(mock_http, "astrocut", {**CUTOUT, "sector": "1"}, make_zip(members))
    with pytest.raises(CorruptResponseError, match=f"member named '{re.escape(name)}'"):
        fetch(client, way, out)
    assert_refused_cleanly(tmp_path, out)


@pytest.mark.parametrize("way", WAYS)
def test_member_of_another_sector_is_refused(mock_http, client, tmp_path, out, way):
    other_name, other = make_tpf_file(sector=2, shape=(10, 10), n_cadences=5)
    members = {GOOD_NAME: GOOD, other_name: other}
    mock_zip(mock_http, "astrocut", {**CUTOUT, "sector": "1"}, make_zip(members))
    with pytest.raises(
        CorruptResponseError, match="a cutout of sector 2, in the answer for sector 1"
    ):
        fetch(client, way, out)
    assert_refused_cleanly(tmp_path, out)


@pytest.mark.parametrize("way", ["files", "files-uncached"])
def test_a_directory_in_the_way_stops_every_file_of_the_answer(mock_http, client, out, way):
    second = GOOD_NAME.replace("s0001-4-2", "s0001-4-3")  # the sector's next CCD
    (out / second).mkdir()
    (out / second / "kept.txt").write_text("the user's")
    mock_zip(
        mock_http,
        "astrocut",
        {**CUTOUT, "sector": "1"},
        make_zip({GOOD_NAME: GOOD, second: GOOD}),
    )
    with pytest.raises(IsADirectoryError, match="a directory is where a cutout should go"):
        fetch(client, way, out)
    assert files_in(out) == {**USER_FILES, f"{second}/kept.txt": b"the user's"}
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]  # nothing half-made


# Cutouts TESScut could make, but not of the request answered.
OTHER_REQUESTS = {
    "another position": GOOD_NAME.replace("84.291188_-80.469120", "10.000000_20.000000"),
    "a position 2e-6 deg away": GOOD_NAME.replace("84.291188", "84.291190"),
    "another size": GOOD_NAME.replace("_10x10_", "_5x5_"),
    "a moving target": "Vesta_1000.0-1027.0_10-x-10_astrocut.fits",
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("what", OTHER_REQUESTS)
def test_a_cutout_of_another_request_never_replaces_the_users(
    mock_http, client, tmp_path, out, way, what
):
    name = OTHER_REQUESTS[what]
    (out / name).write_bytes(b"the user's cutout of another target")
    users = files_in(out)
    mock_zip(
        mock_http, "astrocut", {**CUTOUT, "sector": "1"}, make_zip({GOOD_NAME: GOOD, name: GOOD})
    )
    with pytest.raises(CorruptResponseError, match=f"holds '{re.escape(name)}', a "):
        fetch(client, way, out)
    assert_refused_cleanly(tmp_path, out, users)


def test_a_fixed_positions_cutout_is_refused_for_a_moving_target(mock_http, client, out):
    query = {"obj_id": "Vesta", "x": "10", "y": "10", "units": "px", "sector": "1"}
    mock_zip(mock_http, "moving_target/astrocut", query, make_zip({GOOD_NAME: GOOD}))
    with pytest.raises(CorruptResponseError, match="a cutout of a fixed position, in the answer"):
        client.download_cutouts(objectname="Vesta", moving_target=True, size=10, sector=1, path=out)
    assert files_in(out) == USER_FILES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The position to its 6 printed decimals, RA across 0h; sizes a pixel off (rounded
        # window edges); angles at 19.5 to 21 arcsec a pixel.
        ("tess-s0001-4-2_84.291188_-80.469120_10x10_astrocut.fits", (84.2911879979852, 10)),
        ("tess-s0001-4-2_360.000000_-80.469120_10x10_astrocut.fits", (359.9999999, 10)),
        ("tess-s0001-4-2_0.000000_-80.469120_10x10_astrocut.fits", (359.9999999, 10)),
        ("tess-s0001-4-2_84.291188_-80.469120_11x9_astrocut.fits", (84.2911879979852, 10)),
        ("tess-s0001-4-2_84.291188_-80.469120_6x6_astrocut.fits", (84.2911879979852, "2 arcmin")),
    ],
)
def test_names_of_the_request_are_accepted(name, expected):
    from astropy import units as u

    ra, size = expected
    size = parse_size(u.Quantity(size) if isinstance(size, str) else size)
    target = parse_target(coordinates=(ra, -80.4691197969941))
    ExpectedNames.answering(target, size, 1).check(name)
    ExpectedNames.answering(target, size, None).check(name)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("tess-s0001-4-2_84.291186_-80.469120_10x10_astrocut.fits", "a cutout at RA, Dec"),
        ("tess-s0001-4-2_84.291188_-80.469122_10x10_astrocut.fits", "a cutout at RA, Dec"),
        ("tess-s0001-4-2_84.291188_-80.469120_12x10_astrocut.fits", "12 x 10 pixels"),
        ("tess-s0001-4-2_84.291188_-80.469120_10x8_astrocut.fits", "10 x 8 pixels"),
        ("tess-s0002-4-2_84.291188_-80.469120_10x10_astrocut.fits", "a cutout of sector 2"),
        ("Pi_Men_1325.3-1353.2_10-x-10_astrocut.fits", "a moving target's cutout"),
    ],
)
def test_names_of_other_requests_are_refused(name, words):
    target = parse_target(coordinates=(84.2911879979852, -80.4691197969941))
    with pytest.raises(CorruptResponseError, match=re.escape(words)):
        ExpectedNames.answering(target, parse_size(10), 1).check(name)


@pytest.mark.parametrize("way", WAYS)
def test_a_tesscut_answer_is_written(mock_http, client, tmp_path, out, way):
    body = make_zip({GOOD_NAME: GOOD})
    mock_zip(mock_http, "astrocut", {**CUTOUT, "sector": "1"}, body)
    results = fetch(client, way, out)
    expected = {**USER_FILES}
    if way.startswith("memory"):
        assert [hdul.filename() for hdul in results] == [GOOD_NAME]
    elif way == "zip":
        expected["tesscut_84.291188_-80.469120_10x10_s0001.zip"] = body
    else:
        expected[GOOD_NAME] = GOOD  # the user's copy replaced: they asked for it
    assert files_in(out) == expected


def test_every_sector_of_an_answer_for_every_sector_is_taken(mock_http, client, out):
    body = make_cutout_zip(
        {"sector": 1, "shape": (10, 10)}, {"sector": 4, "camera": 4, "ccd": 3, "shape": (10, 10)}
    )
    mock_zip(mock_http, "astrocut", CUTOUT, body)
    with conf.set_temp("max_workers", 1):
        paths = client.download_cutouts(coordinates=COORDS, size=10, path=out)
    assert [Path(p).name[:14] for p in paths["Local Path"]] == ["tess-s0001-4-2", "tess-s0004-4-3"]


@pytest.mark.parametrize(
    "name",
    [
        GOOD_NAME,
        "tess-s0070-1-4_0.000000_0.000000_1x1_astrocut.fits",
        "tess-s0100-3-3_12_-5_7x9_astrocut.fits",
        cutout_name("tess-s0013-3-3", 359.9999999, -89.5, 35, 45),
    ],
)
def test_tesscut_names_are_accepted(name):
    ANY_CUTOUT.check(name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_other_names_are_refused(name):
    with pytest.raises(CorruptResponseError, match="not how TESScut names a cutout"):
        ANY_CUTOUT.check(name)


def test_names_of_another_sector_are_refused():
    ExpectedNames(sector=1).check(GOOD_NAME)
    with pytest.raises(CorruptResponseError, match="sector 1, in the answer for sector 13"):
        ExpectedNames(sector=13).check(GOOD_NAME)


# 9. what the cache serves


def request(**params):
    """The identity of the request the client sends for a 10 x 10 cutout of sector 1, or with
    ``params`` changed: its URL and parameters."""
    return {"url": URL, "params": dict(sorted({**CUTOUT, "sector": "1", **params}.items()))}


def mock_sector(mock_http, sector, name, data):
    mock_zip(mock_http, "astrocut", {**CUTOUT, "sector": str(sector)}, make_zip({name: data}))


def cutout_calls(mock_http):
    return [call for call in mock_http.calls if "/astrocut?" in call.request.url]


def test_entry_records_the_request_and_each_file_digest(mock_http, client, tmp_path):
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    (entry,) = entries(tmp_path / "cache")
    assert entry.name == CutoutCache.key(request())
    manifest = json.loads((entry / MANIFEST).read_text())
    assert manifest["request"] == request()
    assert manifest["files"] == {GOOD_NAME: hashlib.sha256(GOOD).hexdigest()}
    assert files_in(entry) == {GOOD_NAME: GOOD, MANIFEST: (entry / MANIFEST).read_bytes()}


PLANTED_NAME, PLANTED = make_tpf_file(
    sector=5, shape=(10, 10), n_cadences=5, ra=10.0, dec=20.0, seed=9
)  # no CHECKSUM: nothing in it can tell it is not ours


def plant_entry(entry):
    """A directory named as the entry holding a FITS file of another sector and position."""
    entry.mkdir(parents=True)
    (entry / PLANTED_NAME).write_bytes(PLANTED)


def add_file(entry):
    (entry / PLANTED_NAME).write_bytes(PLANTED)


def change_a_byte(entry):
    path = entry / GOOD_NAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # still whole FITS, and no checksum in it to fail
    path.write_bytes(bytes(data))


def drop_the_file(entry):
    (entry / GOOD_NAME).unlink()


def drop_the_manifest(entry):
    (entry / MANIFEST).unlink()


def replace_the_file(entry):
    (entry / GOOD_NAME).unlink()
    add_file(entry)


@pytest.mark.parametrize(
    "tamper",
    [add_file, change_a_byte, drop_the_file, drop_the_manifest, replace_the_file],
)
def test_a_tampered_entry_is_discarded_and_fetched_again(mock_http, client, tmp_path, tamper):
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    (entry,) = entries(tmp_path / "cache")
    tamper(entry)
    (hdul,) = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert (hdul.filename(), hdul[0].header["SECTOR"]) == (GOOD_NAME, 1)
    assert len(cutout_calls(mock_http)) == 2
    assert entries(tmp_path / "cache") == [entry]
    assert files_in(entry)[GOOD_NAME] == GOOD
    assert sorted(files_in(entry)) == sorted([GOOD_NAME, MANIFEST])
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == [
        ".incoming"
    ]


def test_a_planted_entry_is_never_served(mock_http, client, tmp_path):
    entry = tmp_path / "cache" / CutoutCache.key(request())
    plant_entry(entry)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    (hdul,) = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert (hdul.filename(), hdul[0].header["SECTOR"]) == (GOOD_NAME, 1)
    assert len(cutout_calls(mock_http)) == 1
    assert sorted(files_in(entry)) == sorted([GOOD_NAME, MANIFEST])


def test_another_requests_entry_is_never_served(mock_http, client, tmp_path, out):
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    (entry,) = entries(tmp_path / "cache")
    # Sector 1's entry, whole and with its manifest, put where sector 4's would be.
    entry.rename(entry.with_name(CutoutCache.key(request(sector="4"))))
    name4, data4 = make_tpf_file(sector=4, camera=4, ccd=3, shape=(10, 10), n_cadences=5)
    mock_sector(mock_http, 4, name4, data4)
    paths = client.download_cutouts(coordinates=COORDS, size=10, sector=4, path=out)
    assert [Path(p).name for p in paths["Local Path"]] == [name4]
    assert files_in(out) == {**USER_FILES, name4: data4}
    assert len(cutout_calls(mock_http)) == 2


def entry_of_a_first_call(mock_http, client, tmp_path):
    """The cache entry a first call makes (the answer mocked twice: for a call that refetches)."""
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    (entry,) = entries(tmp_path / "cache")
    return entry


def manifest_a_fifo(entry):
    (entry / MANIFEST).unlink()
    os.mkfifo(entry / MANIFEST)


def manifest_a_link_to_dev_zero(entry):
    (entry / MANIFEST).unlink()
    (entry / MANIFEST).symlink_to("/dev/zero")


def manifest_of_a_gigabyte(entry):
    with open(entry / MANIFEST, "r+b") as file:
        file.truncate(2**30)  # sparse: costs no disk


def file_a_fifo(entry):
    (entry / GOOD_NAME).unlink()
    os.mkfifo(entry / GOOD_NAME)


def file_a_link(entry):
    (entry / GOOD_NAME).rename(entry.parent / "elsewhere.fits")
    (entry / GOOD_NAME).symlink_to(entry.parent / "elsewhere.fits")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX's")
@pytest.mark.parametrize(
    "plant",
    [
        manifest_a_fifo,
        manifest_a_link_to_dev_zero,
        manifest_of_a_gigabyte,
        file_a_fifo,
        file_a_link,
    ],
)
def test_an_entry_of_other_than_regular_files_is_discarded_at_once(
    mock_http, client, tmp_path, plant
):
    import resource

    entry = entry_of_a_first_call(mock_http, client, tmp_path)
    plant(entry)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    (hdul,) = client.get_cutouts(coordinates=COORDS, size=10, sector=1)  # no hang, no flood
    assert time.monotonic() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # kB
    assert hdul.filename() == GOOD_NAME
    assert len(cutout_calls(mock_http)) == 2
    assert sorted(files_in(entries(tmp_path / "cache")[0])) == sorted([GOOD_NAME, MANIFEST])


def test_clearing_a_cache_that_shares_its_directory_removes_its_entries_only(mock_http, tmp_path):
    shared = tmp_path / "cutouts"
    client = TessCutClass(cache_dir=shared)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    client.download_cutouts(coordinates=COORDS, size=10, sector=1, path=shared)
    for name, data in USER_FILES.items():
        (shared / name).write_bytes(data)
    (shared / "notes").mkdir()
    (shared / "notes" / "todo.txt").write_text("fit the light curve")
    (shared / ("0123456789abcdef" * 2)).mkdir()  # named like an entry, but no manifest
    client.clear_cache()
    assert files_in(shared) == {**USER_FILES, "notes/todo.txt": b"fit the light curve"}
    assert sorted(os.listdir(shared)) == sorted(
        [".incoming", "notes", "0123456789abcdef" * 2, *USER_FILES]
    )
    # A cache sharing its directory with other files works as any other.
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert len(cutout_calls(mock_http)) == 2  # one for the download, one after the clear


def test_a_cache_others_may_write_to_is_not_used(mock_http, tmp_path, out):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp: anyone may plant entries
    client = TessCutClass(cache_dir=shared)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)

    def download_twice():
        for _ in range(2):
            client.download_cutouts(coordinates=COORDS, size=10, sector=1, path=out)

    with pytest.warns(TessCutWarning, match="others may write to it") as caught:
        download_twice()
    assert len(caught) == 1  # one warning, not one a call
    assert len(cutout_calls(mock_http)) == 2  # no entry served...
    assert os.listdir(shared) == []  # ... nor made
    assert files_in(out) == {**USER_FILES, GOOD_NAME: GOOD}


def test_entries_the_user_does_not_own_alone_are_never_served(mock_http, client, tmp_path):
    entry = entry_of_a_first_call(mock_http, client, tmp_path)
    entry.chmod(0o777)  # another user of the group could have planted it
    (hdul,) = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert hdul.filename() == GOOD_NAME
    assert len(cutout_calls(mock_http)) == 2
    assert entries(tmp_path / "cache")[0].stat().st_mode & 0o777 == 0o700  # made again


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_an_entry_of_another_user_is_never_served(mock_http, client, tmp_path):
    entry = entry_of_a_first_call(mock_http, client, tmp_path)
    for path in (entry, *entry.iterdir()):
        os.chown(path, 4242, 4242)  # planted by another user, manifest and all
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert len(cutout_calls(mock_http)) == 2
    assert entries(tmp_path / "cache")[0].stat().st_uid == os.getuid()


def test_a_cache_that_cannot_be_written_falls_back_to_uncached_requests(mock_http, tmp_path, out):
    (tmp_path / "a-file").write_text("not a directory")
    client = TessCutClass(cache_dir=tmp_path / "a-file" / "cache")
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    with pytest.warns(TessCutWarning, match="cannot be made"):
        paths = client.download_cutouts(coordinates=COORDS, size=10, sector=1, path=out)
    assert [Path(p).name for p in paths["Local Path"]] == [GOOD_NAME]
    assert files_in(out) == {**USER_FILES, GOOD_NAME: GOOD}


def test_the_command_can_leave_the_cache_alone(mock_http, tmp_path, capsys):
    from astro_tesscut.cli import main

    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    with conf.set_temp("cache_dir", str(tmp_path / "cache")):
        code = main(["cutout", COORDS, "--size", "10", "--sector", "1", "--no-cache",
                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert files_in(tmp_path / "out") == {GOOD_NAME: GOOD}
    assert not (tmp_path / "cache").exists()


# 7. clearing the cache under another process's downloads

DOWNLOADER = """
import sys, traceback
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from synthetic import PI_MEN_DEC, PI_MEN_RA, make_cutout_zip
from astro_tesscut.backends.base import Request
from astro_tesscut.backends.cache import Cached, CutoutCache
from astro_tesscut.backends.service import MastService
from astro_tesscut.sizes import parse_size
from astro_tesscut.targets import parse_target
from astro_tesscut.sizes import parse_size
from astro_tesscut.targets import parse_target
from astro_tesscut.writers import InMemory, IntoDirectory

TARGET, SIZE = parse_target(coordinates=(PI_MEN_RA, PI_MEN_DEC)), parse_size(10)

class Canned(MastService):
    '''The service's own code path, its answer read from memory rather than HTTP; each
    download ``n`` is a request of its own.'''
    body = make_cutout_zip({"sector": 1, "shape": (10, 10), "n_cadences": 5})
    n = 0

    def cutout_request(self, target, size, sector):
        return "http://127.0.0.1/astrocut", {"n": str(self.n), "sector": str(sector)}

    def fetch_cutouts(self, target, size, sector, sink, *, progress=None):
        sink.write(self.body)

service = Canned()
backend = Cached(service, CutoutCache(sys.argv[2]))
out, failures = Path(sys.argv[3]), 0
for n in range(int(sys.argv[4])):
    (out / str(n)).mkdir(parents=True)
    service.n = n
    # A miss, then the same request again: a hit, unless the entry was cleared meanwhile.
    for writer in (InMemory(), IntoDirectory(out / str(n))):
        try:
            assert len(backend.cutouts(Request(TARGET, SIZE, (1,)), writer).results) == 1
        except Exception:
            failures += 1
            traceback.print_exc()
print(failures)
"""


def test_clear_never_breaks_another_process_downloads(tmp_path):
    cache = CutoutCache(tmp_path / "cache")
    downloads = 150
    arguments = (TESTS, cache.directory, tmp_path / "out", downloads)
    log = tmp_path / "worker.log"  # a file, not a pipe: a pipe left unread would block it
    with open(log, "w") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-c", DOWNLOADER, *map(str, arguments)], stdout=sink, stderr=sink
        )
    cleared = set()
    deadline = time.monotonic() + 300
    try:
        while worker.poll() is None and time.monotonic() < deadline:
            if cache.directory.exists():
                cleared.update(p.name for p in entries(cache.directory))
            cache.clear()
    finally:
        worker.kill()
        worker.wait()
    output = log.read_text()
    assert (worker.returncode, output.split()[-1:]) == (0, ["0"]), output[-3000:]
    assert len(cleared) > 10  # the clearing ran all along the downloads
    written = {p.name: sorted(q.name for q in p.iterdir()) for p in (tmp_path / "out").iterdir()}
    assert written == {str(n): [GOOD_NAME] for n in range(downloads)}
    cache.clear()
    assert files_in(cache.directory) == {}


@pytest.mark.parametrize("way", ["memory", "files"])
def test_a_clear_at_the_worst_moment_costs_a_request_at_most(
    mock_http, client, tmp_path, out, monkeypatch, way
):
    """Another process clears the cache just before each answer is handed on: after the
    entry was stored, or after it was found."""
    writer = InMemory if way == "memory" else IntoDirectory
    take = writer.take

    def take_after_a_clear(self, files, *, sector=None):
        CutoutCache(tmp_path / "cache").clear()
        return take(self, files, sector=sector)

    monkeypatch.setattr(writer, "take", take_after_a_clear)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    for calls in (1, 2):  # a miss; then a hit, cleared before use, so fetched again
        results = fetch(client, way, out)
        assert len(cutout_calls(mock_http)) == calls
        if way == "memory":
            assert [hdul.filename() for hdul in results] == [GOOD_NAME]
        else:
            assert files_in(out) == {**USER_FILES, GOOD_NAME: GOOD}


# 11. what killed processes leave behind

PRELUDE = f"""
import os, signal, sys
sys.path.insert(0, {str(TESTS)!r})

def die():
    os.kill(os.getpid(), signal.SIGKILL)
"""


def killed(code):
    """Run ``code`` in a new process, which calls ``die()`` (kill -9) somewhere."""
    run = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]


@pytest.fixture
def live():
    """Start ``code`` in a new process that holds its temporaries until it is released."""
    started = []

    def start(code):
        process = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in started:
        process.communicate(timeout=60)  # released: EOF on its stdin


def new_names(directory, before):
    return sorted(set(os.listdir(directory)) - set(before))


def test_temporary_names_carry_their_owner(tmp_path):
    with temporary_path(tmp_path, "tess-s0001-4-2-cube.fits") as tmp:
        host, pid, token, kind = tmp.name.removeprefix(".tess-s0001-4-2-cube.fits.").split(".")
    assert (pid, kind) == (str(os.getpid()), "part")
    assert re.fullmatch(r"[A-Za-z0-9-]+", host)
    assert re.fullmatch(r"[0-9a-f]{8}", token)
    with pytest.raises(ValueError, match="kind"):
        owned_name("x", ".tmp")


def test_sweep_removes_only_what_dead_owners_left(tmp_path, live):
    directory = tmp_path / "cubes"
    directory.mkdir()
    mine = {
        "tess-s0001-4-2-cube.fits": b"a finished cube",
        "notes.part": b"a file of the user's",
        ".bashrc": b"another",
        ".tess-s0002-1-1-cube.fits.1234abcd.part": b"an older version's temporary",
        ".x.fits.otherhost.1.0123abcd.part": b"another host's temporary",
    }
    for name, data in mine.items():
        (directory / name).write_bytes(data)
    killed(f"""
        from pathlib import Path
        from astro_tesscut.files import temporary_path
        with temporary_path(Path({str(directory)!r}), "tess-s0003-2-2-cube.fits") as tmp:
            tmp.write_bytes(bytes(2**20))
            die()
    """)
    (stale,) = new_names(directory, mine)
    host, dead = stale.split(".")[-4:-2]
    # What a killed cache process leaves: staging and trash, directories or files.
    staging = directory / f".{'a' * 32}.{host}.{dead}.0123abcd.staging"
    (staging / "sub").mkdir(parents=True)
    (staging / "sub" / "x.fits").write_bytes(b"half an entry")
    trash_dir = directory / f".{'b' * 32}.{host}.{dead}.4567cdef.trash"
    trash_dir.mkdir()
    trash_file = directory / f".{'c' * 32}.{host}.{dead}.89abcdef.trash"
    trash_file.write_bytes(b"a discarded planted file")
    # Named as ours but not ours to remove: a link to a user's file, a file named staging.
    link = directory / f".link.{host}.{dead}.01234567.part"
    link.symlink_to(directory / ".bashrc")
    odd = directory / f".odd.{host}.{dead}.01234567.staging"
    odd.write_bytes(b"a file where a directory would be")
    process = live(f"""
        from pathlib import Path
        from astro_tesscut.files import temporary_path
        with temporary_path(Path({str(directory)!r}), "tess-s0004-1-1-cube.fits") as tmp:
            tmp.write_bytes(b"being written")
            print("ready", flush=True)
            sys.stdin.read()
    """)
    with temporary_path(directory, "tess-s0005-1-1-cube.fits") as own:
        own.write_bytes(b"being written here")
        kept = sorted(os.listdir(directory))
        removed = sweep_stale(directory)
        remaining = sorted(os.listdir(directory))
    assert sorted(p.name for p in removed) == sorted(
        [stale, staging.name, trash_dir.name, trash_file.name]
    )
    assert remaining == sorted(set(kept) - {p.name for p in removed})
    live_temporary = [n for n in remaining if n.startswith(".tess-s0004-1-1-cube.fits.")]
    assert f".{process.pid}." in live_temporary[0]
    assert own.name in remaining
    assert link.is_symlink()
    assert odd.is_file()
    for name, data in mine.items():
        assert (directory / name).read_bytes() == data
    assert sweep_stale(directory) == []
    assert sweep_stale(tmp_path / "missing") == []


def test_cache_sweeps_what_killed_processes_left(mock_http, client, tmp_path, live):
    cache_dir = tmp_path / "cache"
    killed(f"""
        from astro_tesscut.backends.cache import CutoutCache
        from astro_tesscut.writers import MadeFiles, received_in
        from synthetic import make_tpf_file

        cache = CutoutCache({str(cache_dir)!r})
        with received_in(cache.incoming(), "tesscut.zip") as sink:
            sink.write(b"half a zip")
            with cache.store({{"url": "http://x/astrocut"}}, MadeFiles([make_tpf_file()])):
                die()
    """)
    stale = [cache_dir / n for n in new_names(cache_dir, [".incoming"])]
    stale += [cache_dir / ".incoming" / n for n in os.listdir(cache_dir / ".incoming")]
    assert sorted(p.suffix for p in stale) == [".part", ".staging"]
    process = live(f"""
        from astro_tesscut.backends.cache import CutoutCache
        from astro_tesscut.writers import MadeFiles
        from synthetic import make_tpf_file

        cache = CutoutCache({str(cache_dir)!r})
        with cache.store({{"url": "http://y/astrocut"}}, MadeFiles([make_tpf_file()])):
            print("ready", flush=True)
            sys.stdin.read()
    """)
    (staging,) = [p for p in cache_dir.glob(".*.staging") if f".{process.pid}." in p.name]

    mock_sector(mock_http, 1, GOOD_NAME, GOOD)
    (hdul,) = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert hdul.filename() == GOOD_NAME
    assert not any(p.exists() for p in stale)
    assert staging.is_dir()  # the live process's, untouched

    client.clear_cache()
    assert entries(cache_dir) == []
    assert staging.is_dir()
    process.communicate(timeout=60)
    assert process.returncode == 0
    (entry,) = entries(cache_dir)  # the live process finished its entry
    assert entry.name == CutoutCache.key({"url": "http://y/astrocut"})


def test_build_cube_sweeps_killed_builds(ffi_files, tmp_path):
    directory = tmp_path / "cubes" / "abc123"
    directory.mkdir(parents=True)
    name = "tess-s{sector:04d}-{camera}-{ccd}-cube.fits".format(**FFI_REGION)
    theirs = {"notes.txt": b"a file of the user's", f".{name}.1234abcd.part": b"not ours to judge"}
    for file, data in theirs.items():
        (directory / file).write_bytes(data)
    killed(f"""
        from pathlib import Path
        from astro_tesscut.files import temporary_path
        with temporary_path(Path({str(directory)!r}), {name!r}) as tmp:
            tmp.write_bytes(bytes(4 * 2**20))
            die()
    """)
    (stale,) = new_names(directory, theirs)
    with temporary_path(directory, name) as other_build:
        other_build.write_bytes(b"another build, under way")
        cube = build_cube(ffi_files, directory / name, show_progress=False)
        assert sorted(os.listdir(directory)) == sorted([*theirs, name, other_build.name])
    assert stale not in os.listdir(directory)
    assert len(walk(cube, name=name)) == 3
    assert files_in(directory) == {**theirs, name: cube.read_bytes()}


@pytest.mark.parametrize(
    "name",
    [
        "Ceres_1325.3-1353.2_10-x-10_astrocut.fits",
        "C-2019_Y4_(ATLAS)_2458800.5-2458825.1_20-x-20_astrocut.fits",
    ],
)
def test_moving_target_cutout_names_are_accepted(name):
    ANY_CUTOUT.check(name)  # astrocut's names of cutouts centred on a path
    for hostile in (".bashrc", "my_analysis.fits", "../" + name, "." + name):
        with pytest.raises(CorruptResponseError, match="not how TESScut names"):
            ANY_CUTOUT.check(hostile)
