"""Hostile input to the offline and remote paths: absurd sizes and numbers, malformed cubes,
things named like cubes that are not files, servers that ignore ``Range``.

Each case gets a clear error naming what is wrong (a cube's failure only its own: the
other sectors still come), and those that used to exhaust memory or hang run in a
child process, with a bound on its peak memory and a timeout.
"""

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from conftest import PEAK_MIB, PI_MEN
from mast_mocks import mock_zip
from synthetic import make_moving_target_zip

from astro_tesscut import (
    InvalidFileError,
    InvalidQueryError,
    NoResultsWarning,
    TessCutClass,
    batch_cutouts,
    conf,
)
from astro_tesscut.backends.local import LocalArchive
from astro_tesscut.cli import main
from astro_tesscut.cube.cutout import cutout
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.ffi import COLUMNS as FFI_COLUMNS
from astro_tesscut.ffi import ROWS as FFI_ROWS
from astro_tesscut.fitslayout import walk
from astro_tesscut.sizes import parse_size
from astro_tesscut.targets import parse_target

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"
NEIGHBOUR = (84.257651, -80.46656)  # the test cube's second star
# A cube of another sector that observed Pi Mensae (MAST's sector list): a bad one there
# must not cost sector 1's cutout.
OTHER_CUBE = "tess-s0004-4-3-cube.fits"
PEAK_MB = 500  # what a child that refuses before allocating may reach, at most


# What a child process runs: the archive's cutouts of a position, then each cube named after
# them opened; it prints what happened, and its peak memory, as JSON.
CHILD = (
    PEAK_MIB
    + """
import json, sys, warnings
from astro_tesscut import TessCutClass
from astro_tesscut.cube.ffi_cube import open_cube

archive, size, position, cubes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
report = {}


def attempt(name, call):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        report[name] = {"result": result, "warnings": [str(w.message) for w in caught]}
    except Exception as exc:
        report[name] = {"error": type(exc).__name__, "message": str(exc)}


tesscut = TessCutClass(archive=archive)
attempt("cutouts", lambda: [h.filename() for h in tesscut.get_cutouts(
    coordinates=position, size=size)])
for cube in cubes:
    attempt(cube, lambda: repr(open_cube(cube).table.shape))
report["peak_mb"] = peak_mib()
print(json.dumps(report))
"""
)


def run_child(archive, size=5, *cubes, timeout=120):
    """Run `CHILD` on Pi Mensae in a fresh interpreter, killed after ``timeout`` seconds."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(archive), str(size), PI_MEN_TEXT, *map(str, cubes)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def patched(source, destination, *edits):
    """A copy of the cube ``source`` at ``destination`` with header cards replaced: each edit
    is (HDU index, keyword, value as it is written in the card). Its primary header says the
    sector, camera and CCD of its name, as a cube's does."""
    name = re.fullmatch(r"tess-s(\d{4})-(\d)-(\d)-cube\.fits", destination.name)
    if name is not None:
        keys = zip(("SECTOR", "CAMERA", "CCD"), map(int, name.groups()), strict=True)
        edits = (*((0, keyword, value) for keyword, value in keys), *edits)
    data = bytearray(source.read_bytes())
    hdus = walk(source, name=source.name)
    for index, keyword, value in edits:
        start, stop = hdus[index].header_start, hdus[index].data_start
        for at in range(start, stop, 80):
            if data[at : at + 8] == keyword.ljust(8).encode():
                data[at : at + 80] = f"{keyword:<8}= {value}".ljust(80).encode()
                break
        else:
            raise KeyError(keyword)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(bytes(data))
    return destination


def column_card(cube_file, name):
    """The keyword of the TTYPE card naming table column ``name``."""
    with fits.open(cube_file) as hdul:
        return f"TTYPE{hdul[2].columns.names.index(name) + 1}"


@pytest.fixture
def two_sector_archive(cube_file, tmp_path):
    """A directory with the test cube (sector 1) and room for a second sector's cube."""
    directory = tmp_path / "archive"
    (directory / "s0001").mkdir(parents=True)
    (directory / "s0001" / cube_file.name).symlink_to(cube_file)
    return directory


# Sizes


@pytest.mark.parametrize(
    "size",
    [
        100_000,
        (FFI_ROWS + 1, 5),
        (5, FFI_COLUMNS + 1),
        1e30,
        10**400,
        (10**400, 3),
        -(10**400),
        13 * u.deg,
        1e308 * u.cycle,
        (12.5 * u.deg, 1 * u.arcmin),
    ],
    ids=lambda size: re.sub(r"\d{8,}", "huge", str(size))[:40],
)
def test_sizes_beyond_a_whole_ffi_are_refused(size):
    with pytest.raises(InvalidQueryError, match=r"^size: .*out of range; .*1 to 2078 rows"):
        parse_size(size)


def test_a_whole_ffi_is_the_largest_size():
    assert parse_size((FFI_ROWS, FFI_COLUMNS)).params() == {"x": "2136", "y": "2078", "units": "px"}
    assert parse_size(12 * u.deg).units == "deg"
    assert parse_size((43638 * u.arcsec, 1 * u.arcmin)).y == 43638.0  # 2078 x 21 arcsec


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"size": 10**400}, "^size: a side of about 10\\^400 pixels is out of range"),
        ({"size": 100_000}, "^size: \\(100000, 100000\\) px is out of range"),
        ({"coordinates": (10**400, 0)}, "^coordinates: must be a finite number of degrees"),
        ({"coordinates": (0, -(10**400))}, "^coordinates: .* got about -10\\^400"),
    ],
)
def test_huge_numbers_are_refused_before_any_request(mock_http, kwargs, words):
    arguments = {"coordinates": PI_MEN_TEXT, **kwargs}
    for call in (TessCutClass().get_cutouts, TessCutClass().download_cutouts):
        with pytest.raises(InvalidQueryError, match=words):
            call(**arguments)
    assert len(mock_http.calls) == 0


def test_huge_radius_is_refused(mock_http):
    with pytest.raises(InvalidQueryError, match="^radius: must be a finite number of degrees"):
        TessCutClass().query_sectors(coordinates=PI_MEN_TEXT, radius=10**400)
    assert len(mock_http.calls) == 0


def test_a_huge_size_offline_allocates_nothing(cube_archive):
    report = run_child(cube_archive, 100_000)
    assert report["cutouts"]["error"] == "InvalidQueryError"
    assert "out of range" in report["cutouts"]["message"]
    assert report["peak_mb"] < PEAK_MB


def test_the_command_says_a_huge_size_in_one_line(mock_http, cube_archive, tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["--archive", str(cube_archive), "--size", "100000", "--out", str(out)]
    assert main(["cutout", PI_MEN_TEXT, *arguments]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("tesscut: error: size: (100000, 100000) px is out of range")
    assert not out.exists() or list(out.iterdir()) == []


def test_a_cutout_beyond_the_memory_budget_is_refused_before_any_read(
    cube_archive, cube_file, tmp_path, monkeypatch
):
    from astro_tesscut.cube.ffi_cube import FFICube

    def no_reads(*args, **kwargs):
        raise AssertionError("pixels read for a cutout that was to be refused")

    monkeypatch.setattr(FFICube, "read_rectangles", no_reads)
    frames = open_cube(cube_file).frames
    budget = 20 * 20 * frames * 8 * 4  # what a 20 x 20 cutout holds
    client, out = TessCutClass(archive=cube_archive), tmp_path / "out"
    with conf.set_temp("memory_budget", budget):
        with pytest.raises(InvalidQueryError) as info:
            client.download_cutouts(coordinates=PI_MEN, size=21, sector=1, path=out)
        targets = Table({"ra": [PI_MEN[0]], "dec": [PI_MEN[1]]})
        result = batch_cutouts(targets, 21, cube_archive, out_dir=out, show_progress=False)
    assert str(info.value).startswith(
        f"size: a cutout of tess-s0001-4-2 of 21 x 21 pixels and {frames:,} frames needs about"
    )
    assert str(info.value).endswith("ask for at most 20 x 20 pixels of this sector, or raise "
                                    "conf.memory_budget")  # fmt: skip
    assert list(result["status"]) == ["error"]
    assert "MiB cutouts may use (conf.memory_budget)" in result["error"][0]
    assert list(out.iterdir()) == []


def test_the_command_says_a_cutout_beyond_the_memory_budget_in_one_line(
    cube_archive, tmp_path, capsys
):
    arguments = ["--archive", str(cube_archive), "--size", "21", "--out", str(tmp_path)]
    with conf.set_temp("memory_budget", 1000):
        assert main(["cutout", PI_MEN_TEXT, *arguments]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("tesscut: error: size: a cutout of tess-s0001-4-2 of 21 x 21 pixels")


# Moving targets' names in file names


def test_long_moving_target_names_make_short_distinct_labels():
    def label(name):
        return parse_target(objectname=name, moving_target=True).label

    long = "C/2019 Y4 (ATLAS) " * 20
    assert len(label(long).encode()) <= 64
    assert label(long) == label(long)  # deterministic
    assert label(long).startswith("C_2019_Y4__ATLAS__C_2019")
    assert label(long + "A") != label(long + "B")
    assert len(label("Ω" * 300).encode()) <= 64  # two bytes a character
    assert label("1P/Halley") == "1P_Halley"  # short names as before


def test_a_long_moving_target_name_gives_a_zip_it_can_write(mock_http, tmp_path):
    name = "x" * 300
    query = {"obj_id": name, "obj_type": "majorbody", "x": "5", "y": "5", "units": "px"}
    zipped = make_moving_target_zip("xxxxx", sector=29, camera=1, ccd=4)
    mock_zip(mock_http, "moving_target/astrocut", {**query, "sector": "29"}, zipped)
    paths = TessCutClass().download_cutouts(
        objectname=name,
        moving_target=True,
        mt_type="majorbody",
        sector=29,
        path=tmp_path,
        inflate=False,
    )
    (path,) = paths["Local Path"]
    assert os.path.basename(path).startswith("tesscut_" + "x" * 55 + "_")
    assert path.endswith("_5x5_s0029.zip")
    assert len(os.path.basename(path).encode()) < 100


# Malformed cubes


def bad_cubes(cube_file):
    """(edits, words of the error): cubes whose headers lie, or whose table lacks what a
    cutout needs."""
    return {
        "table-rows-1e12": ([(2, "NAXIS2", 10**12)], "8 frames but 1000000000000 table rows"),
        "table-and-image-1e12": (
            [(2, "NAXIS2", 10**12), (1, "NAXIS2", 10**12)],
            "header declares 40 x 50 pixels x 1000000000000 frames",
        ),
        "image-rows": ([(1, "NAXIS4", 10**6)], "pixels x 8 frames .* more than the file's"),
        "image-negative": ([(1, "NAXIS4", -3)], r"shape \(-3, 50, 8, 2\)"),
        "row-width-1e12": ([(2, "NAXIS1", 10**12)], "table is cut short"),
        "column-1e12": ([(2, "TFORM1", "'1000000000000A'")], "its columns 1000000000000"),
        "columns-1e9": ([(2, "TFIELDS", 10**9)], "1000000000 columns in rows of"),
        "columns-text": ([(2, "TFIELDS", "'many'")], "TFIELDS is not a number of columns"),
        "no-tstart": ([(2, column_card(cube_file, "TSTART"), "'TBEGIN'")], "no TSTART column"),
        "text-tstart": (
            [(2, column_card(cube_file, "TSTART").replace("TTYPE", "TFORM"), "'8A'")],
            "TSTART is not one number per FFI",
        ),
        "no-ffi-file": ([(2, column_card(cube_file, "FFI_FILE"), "'FILE'")], "no FFI_FILE"),
        "twice-tstop": (
            [(2, column_card(cube_file, "TSTART"), "'TSTOP'")],
            "table columns cannot be read",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "table-rows-1e12",
        "table-and-image-1e12",
        "image-rows",
        "image-negative",
        "row-width-1e12",
        "column-1e12",
        "columns-1e9",
        "columns-text",
        "no-tstart",
        "text-tstart",
        "no-ffi-file",
        "twice-tstop",
    ],
)
def test_a_malformed_cube_is_an_invalid_file(cube_file, tmp_path, case):
    edits, words = bad_cubes(cube_file)[case]
    bad = patched(cube_file, tmp_path / OTHER_CUBE, *edits)
    with pytest.raises(InvalidFileError, match=f"^cube: {OTHER_CUBE} .*{words}"):
        cutout(bad, PI_MEN_TEXT, size=5)


def test_text_that_is_not_ascii_in_the_table_is_refused(cube_file, tmp_path):
    data = bytearray(cube_file.read_bytes())
    name = data.rindex(b"tess2018")  # the last FFI_FILE value
    data[name : name + 4] = "tëss".encode("latin-1")
    bad = tmp_path / OTHER_CUBE
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidFileError, match="FFI_FILE holds text that is not ASCII"):
        cutout(bad, PI_MEN_TEXT, size=5)


def test_a_cube_with_10_to_the_12_rows_stays_in_bounded_memory(
    cube_file, two_sector_archive, tmp_path
):
    bad = patched(cube_file, two_sector_archive / OTHER_CUBE, (2, "NAXIS2", 10**12))
    worse = patched(
        cube_file, tmp_path / "worse" / OTHER_CUBE, (2, "NAXIS2", 10**12), (1, "NAXIS2", 10**12)
    )
    report = run_child(two_sector_archive, 5, bad, worse)
    (good,) = report["cutouts"]["result"]
    assert good.startswith("tess-s0001-4-2_")
    (warning,) = report["cutouts"]["warnings"]
    assert f"cube: {OTHER_CUBE} is not an FFI cube: it has 8 frames but 1000000000000" in warning
    for cube in (bad, worse):
        assert report[str(cube)]["error"] == "InvalidFileError"
    assert report["peak_mb"] < PEAK_MB


@pytest.mark.parametrize("case", ["no-tstart", "table-rows-1e12", "image-rows"])
def test_a_bad_cube_costs_only_its_own_sector(cube_file, two_sector_archive, tmp_path, case):
    edits, words = bad_cubes(cube_file)[case]
    patched(cube_file, two_sector_archive / "s0004" / OTHER_CUBE, *edits)
    tesscut = TessCutClass(archive=two_sector_archive)
    with pytest.warns(NoResultsWarning, match=f"unusable: cube: {OTHER_CUBE} .*{words}"):
        (hdul,) = tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=5)
    assert hdul[0].header["SECTOR"] == 1
    with pytest.warns(NoResultsWarning, match=OTHER_CUBE):
        paths = tesscut.download_cutouts(coordinates=PI_MEN_TEXT, size=5, path=tmp_path / "out")
    (path,) = paths["Local Path"]
    assert os.path.basename(path) == hdul.filename()
    with pytest.warns(NoResultsWarning, match=OTHER_CUBE):  # its sector alone: nothing
        assert tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=5, sector=4) == []


@pytest.mark.parametrize("case", ["no-tstart", "table-rows-1e12", "column-1e12"])
def test_a_bad_cube_fails_only_its_rows_of_a_batch(cube_file, two_sector_archive, tmp_path, case):
    edits, words = bad_cubes(cube_file)[case]
    patched(cube_file, two_sector_archive / OTHER_CUBE, *edits)
    targets = Table({"id": ["pi", "nb"], "ra": [PI_MEN[0], NEIGHBOUR[0]]})
    targets["dec"] = [PI_MEN[1], NEIGHBOUR[1]]
    result = batch_cutouts(
        targets, 5, two_sector_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert list(result["sector"]) == [1, 4, 1, 4]
    assert list(result["status"]) == ["written", "error", "written", "error"]
    for error in result["error"][result["sector"] == 4]:
        assert re.search(f"^cube: {OTHER_CUBE} .*{words}", error)
    for path in result["path"][result["sector"] == 1]:
        with fits.open(path) as hdul:
            assert hdul["PIXELS"].data["FLUX"].shape == (8, 5, 5)


def test_a_cube_whose_header_names_another_sector_is_refused(
    cube_file, two_sector_archive, tmp_path
):
    (two_sector_archive / "s0004").mkdir()
    (two_sector_archive / "s0004" / OTHER_CUBE).symlink_to(cube_file)  # sector 1's, renamed
    tesscut = TessCutClass(archive=two_sector_archive)
    words = f"{OTHER_CUBE} holds sector 1, camera 4, CCD 2 by its header, not sector 4"
    with pytest.warns(NoResultsWarning, match=words):
        assert tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=5, sector=4) == []
    targets = Table({"ra": [PI_MEN[0]], "dec": [PI_MEN[1]]})
    out = tmp_path / "out"
    result = batch_cutouts(targets, 5, two_sector_archive, out_dir=out, show_progress=False)
    assert list(zip(result["sector"], result["status"], strict=True)) == [
        (1, "written"),
        (4, "error"),
    ]
    assert words in result["error"][1]
    assert [p.name for p in out.iterdir()] == [Path(result["path"][0]).name]


# Things named like cubes that are not regular files


def test_a_directory_named_like_a_cube(cube_file, two_sector_archive):
    impostor = two_sector_archive / OTHER_CUBE
    impostor.mkdir()
    with pytest.raises(InvalidFileError, match=f"^cube: '.*{OTHER_CUBE}' is a directory, not a"):
        open_cube(impostor)
    assert set(LocalArchive(two_sector_archive).inventory()) == {(1, 4, 2)}
    (hdul,) = TessCutClass(archive=two_sector_archive).get_cutouts(coordinates=PI_MEN_TEXT, size=5)
    assert hdul[0].header["SECTOR"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_like_a_cube_does_not_hang(two_sector_archive, tmp_path):
    fifo = two_sector_archive / OTHER_CUBE
    os.mkfifo(fifo)
    assert set(LocalArchive(two_sector_archive).inventory()) == {(1, 4, 2)}
    report = run_child(two_sector_archive, 5, fifo, timeout=60)  # a hang fails here
    (good,) = report["cutouts"]["result"]
    assert good.startswith("tess-s0001-4-2_")
    assert report[str(fifo)]["error"] == "InvalidFileError"
    assert "is a FIFO, not a regular file" in report[str(fifo)]["message"]


def test_an_unreadable_cube_fails_alone(cube_file, two_sector_archive):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    bad = two_sector_archive / OTHER_CUBE
    bad.write_bytes(cube_file.read_bytes())
    bad.chmod(0)
    with pytest.warns(NoResultsWarning, match=f"cannot read '.*{OTHER_CUBE}' \\(Permission"):
        (hdul,) = TessCutClass(archive=two_sector_archive).get_cutouts(
            coordinates=PI_MEN_TEXT, size=5
        )
    assert hdul[0].header["SECTOR"] == 1


# Servers that ignore Range


class CubeServer:
    """Files over HTTP on 127.0.0.1, each (bytes, total length: zeros after the bytes).

    With ``ranges=False`` it ignores ``Range`` and sends the whole file (status 200), as
    some servers do; ``sent`` counts the bytes it managed to send, once `idle` says that
    every answer has ended (sent whole, or cut off by the client).
    """

    CHUNK = 1 << 16

    def __init__(self, files, *, ranges=True):
        self.files, self.ranges = files, ranges
        self.sent, self.requests, self.sending = 0, [], 0
        self._changed = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body):
                server.requests.append((self.command, self.path, self.headers.get("Range")))
                if self.path not in server.files:
                    self.send_error(404)
                    return
                data, total = server.files[self.path]
                start, stop = 0, total
                wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range") or "")
                if wanted and server.ranges and body:
                    start, stop = int(wanted[1]), min(int(wanted[2]) + 1, total)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{total}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(stop - start))
                self.send_header("Last-Modified", "Tue, 24 Jul 2018 00:00:00 GMT")
                self.send_header("ETag", '"cube"')
                self.end_headers()
                if body:
                    with server._changed:
                        server.sending += 1
                    try:
                        self._send(data, start, stop)
                    finally:
                        with server._changed:
                            server.sending -= 1
                            server._changed.notify_all()

            def _send(self, data, start, stop):
                try:
                    for at in range(start, stop, server.CHUNK):
                        piece = data[at : min(at + server.CHUNK, stop)]
                        piece += bytes(min(at + server.CHUNK, stop) - at - len(piece))
                        self.wfile.write(piece)
                        with server._changed:
                            server.sent += len(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what it refused stays unsent

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def idle(self, timeout=10):
        """True once no answer is being sent (within ``timeout`` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.sending == 0, timeout)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def serve():
    """``serve(files, ranges=...)``: a `CubeServer`, stopped after the test."""
    servers = []

    def start(files, **kwargs):
        servers.append(CubeServer(files, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


HUGE = 256 << 20  # what a server that ignores Range would send: far more than is read


def test_an_http_archive_that_honours_ranges_cuts_as_a_local_one(serve, cube_file):
    pytest.importorskip("aiohttp", reason="the cloud extra (fsspec's HTTP) is not installed")
    data = cube_file.read_bytes()
    server = serve({"/cubes/" + cube_file.name: (data, len(data))})
    (hdul,) = TessCutClass(archive=server.url + "/cubes/").get_cutouts(
        coordinates=PI_MEN_TEXT, size=(9, 7), sector=1
    )
    local = cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    assert hdul.filename() == local.filename()
    assert np.array_equal(hdul["PIXELS"].data["FLUX"], local["PIXELS"].data["FLUX"])
    gets = [r for r in server.requests if r[0] == "GET"]
    assert all(r[2] for r in gets)  # every read a range
    assert server.sent < len(data)


def test_an_http_archive_that_ignores_ranges_is_refused_unread(serve, cube_file):
    pytest.importorskip("aiohttp", reason="the cloud extra (fsspec's HTTP) is not installed")
    name = "/cubes/" + cube_file.name
    server = serve({name: (cube_file.read_bytes(), HUGE)}, ranges=False)
    with pytest.raises(InvalidFileError, match="ignores range requests .*HTTP 200 with 268,4"):
        open_cube(server.url + name)
    with pytest.warns(NoResultsWarning, match=f"unusable: cube: the server of .*{name} ignores"):
        cutouts = TessCutClass(archive=server.url + "/cubes/").get_cutouts(
            coordinates=PI_MEN_TEXT, size=5, sector=1
        )
    assert cutouts == []
    assert server.idle()
    assert server.sent < HUGE / 4  # the client stopped reading at the headers


def test_an_s3_endpoint_that_ignores_ranges_is_refused_unread(serve, cube_file):
    pytest.importorskip("obstore", reason="the cloud extra (obstore) is not installed")
    server = serve({"/bucket/" + cube_file.name: (cube_file.read_bytes(), HUGE)}, ranges=False)
    options = {"anon": True, "client_kwargs": {"endpoint_url": server.url, "region_name": "x"}}
    with pytest.raises(InvalidFileError, match="ignores range requests .*not the range asked"):
        open_cube(f"s3://bucket/{cube_file.name}", options)
    assert server.idle()
    assert server.sent < HUGE / 4


def test_s3fs_reading_from_an_endpoint_that_ignores_ranges(serve, cube_file):
    pytest.importorskip("s3fs", reason="the cloud extra (s3fs) is not installed")
    data = cube_file.read_bytes()
    server = serve({"/bucket/" + cube_file.name: (data, len(data))}, ranges=False)
    # An option only s3fs knows sends the read through it, which reads whole answers.
    options = {
        "anon": True,
        "client_kwargs": {"endpoint_url": server.url, "region_name": "x"},
        "use_ssl": False,
    }
    with pytest.raises(InvalidFileError, match="ignores range requests .*164,160 bytes for a"):
        open_cube(f"s3://bucket/{cube_file.name}", options)
