"""``tesscut batch``: a table of targets to target pixel files from FFI cubes, through the
command's entry point (exit codes, the lines it prints, the files and results it writes)."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from conftest import PI_MEN

from astro_tesscut import batch_cutouts, conf
from astro_tesscut.cli import main
from astro_tesscut.cube.ffi_cube import open_cube

FAR = (270.0, 66.56)  # the north ecliptic pole: never in sector 1


def on_cube(cube_file, count=3):
    """Positions of ``count`` targets well inside the test cube (a region of a CCD)."""
    x = np.linspace(12.0, 38.0, count)
    ra, dec = open_cube(cube_file).projection.pixel_to_world(x, np.full(count, 20.0))
    return ra.tolist(), dec.tolist()


def write_csv(path, rows, header="id,ra,dec"):
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


@pytest.fixture
def targets_csv(cube_file, tmp_path):
    ra, dec = on_cube(cube_file)
    rows = [(f"star{i}", r, d) for i, (r, d) in enumerate(zip(ra, dec, strict=True))]
    return write_csv(tmp_path / "targets.csv", [*rows, ("far", *FAR)])


def results(path):
    """The results table a batch wrote into ``path`` (empty strings read back masked)."""
    table = Table.read(path / "batch_results.ecsv", format="ascii.ecsv")
    for name in ("path", "error"):
        if hasattr(table[name], "filled"):
            table[name] = table[name].filled("")
    return table


def run(capsys, argv):
    """``main(argv)``: its exit code, stdout lines, stderr lines."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def batch_argv(targets, archive, out):
    return ["batch", str(targets), "--size", "5", "--archive", str(archive), "--out", str(out)]


def test_a_batch_writes_files_and_a_results_table_every_target_has_a_row(
    mock_http, targets_csv, cube_archive, tmp_path, capsys
):
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, batch_argv(targets_csv, cube_archive, out))
    assert code == 0
    assert stdout == [
        "4 targets: 3 files written, 0 skipped (already there), 0 failed; 1 target with no data",
        str(out / "batch_results.ecsv"),
    ]
    (note,) = stderr
    assert note.startswith(
        "tesscut: note: no data for far: the archive holds no cube or FFIs of the sectors "
        "that observed it: 56-60"
    )
    table = results(out)
    assert list(table["target"]) == ["star0", "star1", "star2", "far"]
    assert list(table["status"]) == ["written"] * 3 + ["no data"]
    assert list(table["sector"]) == [1, 1, 1, 0]
    for path in table["path"][:3]:
        with fits.open(path) as hdul:
            assert hdul[1].data["FLUX"].shape == (8, 5, 5)
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".fits") == sorted(
        Path(p).name for p in table["path"][:3]
    )
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    assert len(mock_http.calls) == 0


def test_a_batch_gives_the_files_batch_cutouts_gives(targets_csv, cube_archive, tmp_path, capsys):
    assert main(batch_argv(targets_csv, cube_archive, tmp_path / "cli")) == 0
    api = batch_cutouts(
        Table.read(targets_csv), 5, cube_archive, out_dir=tmp_path / "api", show_progress=False
    )
    cli = results(tmp_path / "cli")
    for column in ("target", "sector", "camera", "ccd", "status", "error"):
        assert list(cli[column]) == list(api[column])
    for ours, theirs in zip(cli["path"][:3], api["path"][:3], strict=True):
        assert Path(ours).read_bytes() == Path(theirs).read_bytes()


def test_a_batch_resumes_by_default_and_overwrite_makes_files_again(
    targets_csv, cube_archive, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = batch_argv(targets_csv, cube_archive, out)
    assert main(argv) == 0
    first = results(out)
    times = {path: os.stat(path).st_mtime_ns for path in first["path"][:3]}
    capsys.readouterr()

    code, stdout, _ = run(capsys, argv)
    assert code == 0
    assert stdout[0].startswith("4 targets: 0 files written, 3 skipped")
    again = results(out)
    assert list(again["status"]) == ["skipped"] * 3 + ["no data"]
    assert {path: os.stat(path).st_mtime_ns for path in first["path"][:3]} == times

    code, stdout, _ = run(capsys, [*argv, "--overwrite"])
    assert code == 0
    assert stdout[0].startswith("4 targets: 3 files written, 0 skipped")
    assert list(results(out)["status"])[:3] == ["written"] * 3


def test_names_without_ra_and_dec_are_looked_up_offline(cube_archive, tmp_path, capsys):
    names = write_csv(tmp_path / "names.csv", [("Pi Men",), ("TIC 261139071",)], header="name")
    code, stdout, _ = run(capsys, batch_argv(names, cube_archive, tmp_path / "out"))
    assert code == 0
    assert stdout[0].startswith("2 targets: 2 files written")
    table = results(tmp_path / "out")
    assert list(table["target"]) == ["Pi Men", "TIC 261139071"]
    assert list(table["status"]) == ["written", "written"]
    assert Path(table["path"][0]).name == "tess-s0001-4-2_84.291188_-80.469120_5x5_astrocut.fits"


def test_rows_without_a_position_take_their_names(cube_file, cube_archive, tmp_path, capsys):
    ra, dec = on_cube(cube_file, 1)
    mixed = write_csv(
        tmp_path / "mixed.csv", [("Pi Men", "", ""), ("mine", ra[0], dec[0])], header="name,ra,dec"
    )
    assert main(batch_argv(mixed, cube_archive, tmp_path / "out")) == 0
    table = results(tmp_path / "out")
    assert list(table["status"]) == ["written", "written"]
    assert Path(table["path"][0]).name.startswith("tess-s0001-4-2_84.291188_-80.469120_")


def test_a_name_not_known_offline_is_refused_naming_its_row(cube_archive, tmp_path, capsys):
    names = write_csv(tmp_path / "names.csv", [("Pi Men",), ("Vega",)], header="name")
    code, stdout, stderr = run(capsys, batch_argv(names, cube_archive, tmp_path / "out"))
    assert code == 2
    assert stdout == []
    (error,) = stderr
    assert error.startswith(
        "tesscut: error: TARGETS: row 1 ('Vega') has no ra and dec, and 'Vega' is not a name "
        "known offline"
    )
    assert error.endswith("give its ra and dec")
    assert not (tmp_path / "out").exists()  # refused before anything was made


@pytest.mark.parametrize("suffix", [".ecsv", ".fits"])
def test_ecsv_and_fits_tables_are_read(cube_file, cube_archive, tmp_path, capsys, suffix):
    ra, dec = on_cube(cube_file, 2)
    path = tmp_path / f"targets{suffix}"
    Table({"ID": ["a", "b"], "RA": ra, "Dec": dec}).write(path)  # RA, Dec: any case
    assert main(batch_argv(path, cube_archive, tmp_path / "out")) == 0
    table = results(tmp_path / "out")
    assert list(table["target"]) == ["a", "b"]
    assert list(table["status"]) == ["written", "written"]


def test_nothing_on_any_cube_exits_3(cube_archive, tmp_path, capsys):
    far = write_csv(tmp_path / "far.csv", [("far", *FAR)])
    code, stdout, stderr = run(capsys, batch_argv(far, cube_archive, tmp_path / "out"))
    assert code == 3
    assert stdout[0] == (
        "1 target: 0 files written, 0 skipped (already there), 0 failed; 1 target with no data"
    )
    assert stderr[0].startswith("tesscut: note: no data for far: ")
    assert (tmp_path / "out" / "batch_results.ecsv").is_file()


def test_some_failed_exits_1_with_one_error_line(
    targets_csv, cube_archive, cube_file, tmp_path, capsys
):
    (link,) = cube_archive.rglob(cube_file.name)
    link.unlink()
    link.write_bytes(b"SIMPLE  = junk")
    code, stdout, stderr = run(capsys, batch_argv(targets_csv, cube_archive, tmp_path / "out"))
    assert code == 1
    assert stdout[0].startswith("4 targets: 0 files written, 0 skipped")
    assert "3 failed" in stdout[0]
    errors = [line for line in stderr if not line.startswith("tesscut: note: ")]
    (error,) = errors
    assert error.startswith("tesscut: error: 3 cutouts failed, the first of star0 in sector 1: ")
    assert "not a readable FITS" in error
    assert error.endswith("running the same command again retries them")
    assert list(results(tmp_path / "out")["status"]) == [
        "error",
        "error",
        "error",
        "no data",
    ]


def test_the_size_takes_angles(cube_file, cube_archive, tmp_path, capsys):
    from astropy import units as u

    ra, dec = on_cube(cube_file, 1)
    path = write_csv(tmp_path / "one.csv", [("a", ra[0], dec[0])])
    argv = batch_argv(path, cube_archive, tmp_path / "cli")
    argv[argv.index("--size") + 1] = "2arcmin x 1arcmin"
    assert main(argv) == 0
    api = batch_cutouts(
        Table.read(path),
        (1, 2) * u.arcmin,
        cube_archive,
        out_dir=tmp_path / "api",
        show_progress=False,
    )
    cli = results(tmp_path / "cli")
    assert Path(cli["path"][0]).name == Path(api["path"][0]).name
    with fits.open(cli["path"][0]) as hdul:
        ny, nx = hdul[1].data["FLUX"].shape[1:]
    assert nx > ny  # 2 arcmin of columns, 1 of rows


def test_the_results_table_replaces_a_link_never_writes_through_it(
    targets_csv, cube_archive, tmp_path, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (out / "batch_results.ecsv").symlink_to(victim)
    assert main(batch_argv(targets_csv, cube_archive, out)) == 0
    assert victim.read_text() == "mine"
    assert not (out / "batch_results.ecsv").is_symlink()
    assert len(results(out)) == 4


def test_several_sectors_are_taken(targets_csv, cube_archive, tmp_path, capsys):
    argv = [*batch_argv(targets_csv, cube_archive, tmp_path / "out"), "--sector", "1", "2"]
    code, _, stderr = run(capsys, argv)
    assert code == 0
    (note,) = stderr
    assert note.startswith(
        "tesscut: note: no data for far: sectors 1-2 did not observe it (observed in sectors 56-60"
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--workers", "0"], "tesscut: error: --workers: must be 1 or more, got 0"),
        (["--size", "2 parsecs"], "tesscut: error: --size: '2 parsecs' is not COLSxROWS"),
    ],
)
def test_bad_options_exit_2(targets_csv, cube_archive, tmp_path, capsys, options, words):
    code, stdout, stderr = run(capsys, [*batch_argv(targets_csv, cube_archive, tmp_path), *options])
    assert code == 2
    assert stdout == []
    (error,) = stderr
    assert error.startswith(words)


def test_workers_and_a_scheduler_exclude_each_other(targets_csv, cube_archive, tmp_path, capsys):
    argv = [*batch_argv(targets_csv, cube_archive, tmp_path), "--workers", "2"]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--scheduler", "tcp://127.0.0.1:1"])
    assert info.value.code == 2
    assert "not allowed with argument --workers" in capsys.readouterr().err


def test_workers_are_the_threads_cutting(targets_csv, cube_archive, tmp_path, capsys, monkeypatch):
    from astro_tesscut import batch

    asked = []
    real = batch._run

    def recording(function, tasks, client, workers=None):
        asked.append(workers)
        return real(function, tasks, client, workers)

    monkeypatch.setattr(batch, "_run", recording)
    assert main([*batch_argv(targets_csv, cube_archive, tmp_path), "--workers", "2"]) == 0
    assert asked == [2]


def test_without_an_archive_the_error_says_what_to_give(targets_csv, tmp_path, capsys):
    argv = ["batch", str(targets_csv), "--out", str(tmp_path)]
    code, _, stderr = run(capsys, argv)
    assert code == 2
    assert stderr == [
        "tesscut: error: --archive: a batch cuts from FFI cubes: give a directory of cubes or "
        "FFIs, or a URL of cubes such as s3://stpubdata/tess/public/mast/ (with --anon), or "
        "set astro_tesscut.conf.archive, or give --offline for the demo's synthetic sector"
    ]


def test_offline_cuts_from_the_demo_sector_and_says_so(tmp_path, capsys, monkeypatch):
    from astro_tesscut import demo

    real = demo.demo_archive  # the demo's sector with 12 cadences: quicker to make
    monkeypatch.setattr(demo, "demo_archive", lambda **k: real(frames=12, **k))
    rows = [("pimen", *PI_MEN), ("far", *FAR)]
    targets = write_csv(tmp_path / "targets.csv", rows)
    out = tmp_path / "out"
    argv = ["batch", str(targets), "--size", "5", "--offline", "--out", str(out)]
    code, stdout, stderr = run(capsys, argv)
    assert code == 0
    assert stdout[0] == (
        "2 targets: 1 file written, 0 skipped (already there), 0 failed; 1 target with no data"
    )
    assert stderr[0].startswith("tesscut: note: --offline cuts from the demo's synthetic sector")
    table = results(out)
    assert list(table["status"]) == ["written", "no data"]
    with fits.open(table["path"][0]) as hdul:
        assert hdul[0].header["SECTOR"] == demo.SECTOR
        assert hdul[0].header["SIMDATA"] is True
    assert conf.archive == ""  # the demo's archive was for the batch only


def test_conf_archive_is_the_default(targets_csv, cube_archive, tmp_path, capsys):
    with conf.set_temp("archive", str(cube_archive)):
        assert main(["batch", str(targets_csv), "--out", str(tmp_path)]) == 0


def test_a_missing_or_unreadable_targets_file_is_one_line(cube_archive, tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    code, _, stderr = run(capsys, batch_argv(missing, cube_archive, tmp_path / "out"))
    assert code == 1
    assert stderr == [f"tesscut: error: TARGETS: {missing} does not exist"]

    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"not a FITS file")
    code, _, stderr = run(capsys, batch_argv(broken, cube_archive, tmp_path / "out"))
    assert code == 2
    (error,) = stderr
    assert error.startswith(f"tesscut: error: TARGETS: {broken} could not be read as a table (")

    empty = write_csv(tmp_path / "empty.csv", [])
    code, _, stderr = run(capsys, batch_argv(empty, cube_archive, tmp_path / "out"))
    assert code == 2
    assert stderr == [f"tesscut: error: TARGETS: {empty} has no rows"]

    nameless = write_csv(tmp_path / "nameless.csv", [(1, 2)], header="x,y")
    code, _, stderr = run(capsys, batch_argv(nameless, cube_archive, tmp_path / "out"))
    assert code == 2
    assert stderr == [
        f"tesscut: error: TARGETS: {nameless} has no ra and dec columns, nor column and row "
        "(FFI pixels), nor a name column (name, id or ID) to look its targets up by; it has x, y"
    ]


def test_a_bad_position_is_refused_naming_its_row(cube_archive, tmp_path, capsys):
    bad = write_csv(tmp_path / "bad.csv", [("a", *PI_MEN), ("b", 84.3, 95.0)])
    code, _, stderr = run(capsys, batch_argv(bad, cube_archive, tmp_path / "out"))
    assert code == 2
    (error,) = stderr
    assert error.startswith("tesscut: error: TARGETS: row 1 ('b') has a Dec outside")


def test_anon_needs_a_url_archive(targets_csv, cube_archive, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([*batch_argv(targets_csv, cube_archive, tmp_path), "--anon"])
    assert info.value.code == 2
    assert "argument --anon: reads a URL --archive" in capsys.readouterr().err


def test_a_scheduler_without_the_cloud_extra_says_to_install_it(
    targets_csv, cube_archive, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    argv = [*batch_argv(targets_csv, cube_archive, tmp_path / "out"), "--scheduler", "tcp://x:1"]
    code, stdout, stderr = run(capsys, argv)
    assert code == 1
    assert stdout == []
    assert stderr == [
        "tesscut: error: --scheduler: running on a Dask cluster needs dask's distributed, of "
        "the cloud extra: python -m pip install 'astro_tesscut[cloud]'"
    ]
    assert not (tmp_path / "out").exists()


def test_a_batch_runs_on_the_dask_scheduler_given(targets_csv, cube_archive, tmp_path, capsys):
    distributed = pytest.importorskip("distributed", reason="the cloud extra (dask) is missing")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        argv = [*batch_argv(targets_csv, cube_archive, tmp_path / "dask")]
        code, stdout, _ = run(capsys, [*argv, "--scheduler", cluster.scheduler_address])
        ran = dict(cluster.scheduler.task_prefixes)  # what the scheduler ran, by name
    assert code == 0
    assert stdout[0].startswith("4 targets: 3 files written")
    assert "cut_task" in ran, sorted(ran)  # batch._cut_task, its underscore dropped
    assert main(batch_argv(targets_csv, cube_archive, tmp_path / "local")) == 0
    dask = results(tmp_path / "dask")
    local = results(tmp_path / "local")
    assert list(dask["status"]) == list(local["status"])
    for a, b in zip(dask["path"][:3], local["path"][:3], strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()


def test_an_unreachable_scheduler_is_one_line(
    targets_csv, cube_archive, tmp_path, capsys, monkeypatch
):
    distributed = pytest.importorskip("distributed", reason="the cloud extra (dask) is missing")

    def refused(address, timeout):
        raise OSError(f"Timed out trying to connect to {address} after {timeout} s")

    monkeypatch.setattr(distributed, "Client", refused)
    argv = [*batch_argv(targets_csv, cube_archive, tmp_path / "out"), "--scheduler", "tcp://x:1"]
    code, _, stderr = run(capsys, argv)
    assert code == 1
    assert stderr == [
        "tesscut: error: --scheduler: no Dask scheduler answered at 'tcp://x:1': Timed out "
        "trying to connect to tcp://x:1 after 30 s"
    ]


# --time, windows of rows and tables of FFI pixels (issue 22)


def test_time_is_every_rows_window_unless_the_table_gives_its_own(
    targets_csv, cube_file, cube_archive, tmp_path, capsys
):
    from astropy.time import Time

    times = open_cube(cube_file).times
    ra, dec = on_cube(cube_file, 3)
    own = Time(times[5] - 1e-4 + 2457000, format="jd", scale="tdb").isot  # a date, as TDB
    path = write_csv(
        tmp_path / "windows.csv",
        [
            ("a", ra[0], dec[0], "", ""),  # no window of its own: --time's
            ("b", ra[1], dec[1], times[0] - 1e-4, times[1] + 1e-4),
            ("c", ra[2], dec[2], own, times[7] + 1e-4),
        ],
        header="id,ra,dec,time_start,time_stop",
    )
    argv = [*batch_argv(path, cube_archive, tmp_path / "out"), "--time"]
    code, stdout, _ = run(capsys, [*argv, str(times[3] - 1e-4), str(times[4] + 1e-4)])
    assert code == 0
    assert stdout[0].startswith("3 targets: 3 files written")
    table = results(tmp_path / "out")
    for path, (first, stop) in zip(table["path"], [(3, 5), (0, 2), (5, 8)], strict=True):
        with fits.open(path) as hdul:
            assert list(hdul["PIXELS"].data["TIME"]) == list(times[first:stop])


def test_time_gives_the_files_batch_cutouts_gives(targets_csv, cube_archive, tmp_path, capsys):
    window = ["2018-07-25T19:30", "2018-07-25T20:30"]  # dates, read as TDB
    assert main([*batch_argv(targets_csv, cube_archive, tmp_path / "cli"), "--time", *window]) == 0
    from astropy.time import Time

    api = batch_cutouts(
        Table.read(targets_csv),
        5,
        cube_archive,
        out_dir=tmp_path / "api",
        show_progress=False,
        time=Time(window, scale="tdb"),
    )
    cli = results(tmp_path / "cli")
    assert list(cli["status"]) == list(api["status"]) == ["written"] * 3 + ["no data"]
    for ours, theirs in zip(cli["path"][:3], api["path"][:3], strict=True):
        assert Path(ours).read_bytes() == Path(theirs).read_bytes()
        with fits.open(ours) as hdul:
            assert len(hdul["PIXELS"].data) == 2


def test_a_window_outside_the_sector_is_no_data(targets_csv, cube_archive, tmp_path, capsys):
    argv = [*batch_argv(targets_csv, cube_archive, tmp_path / "out"), "--time", "1500", "1501"]
    code, stdout, stderr = run(capsys, argv)
    assert code == 3
    assert stdout[0].startswith("4 targets: 0 files written, 0 skipped (already there), 0 failed")
    assert stderr[0].startswith(
        "tesscut: note: no data for star0: time: no cadence of sector 1 lies within BTJD "
        "1500.0000 to 1501.0000"
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--time", "1326", "1325"], "tesscut: error: --time: the start must come before"),
        (["--time", "later", "1326"], "tesscut: error: --time: 'later' is neither a BTJD number"),
    ],
)
def test_bad_times_exit_2(targets_csv, cube_archive, tmp_path, capsys, options, words):
    argv = [*batch_argv(targets_csv, cube_archive, tmp_path / "out"), *options]
    code, stdout, stderr = run(capsys, argv)
    assert code == 2
    assert stdout == []
    (error,) = stderr
    assert error.startswith(words)
    assert not (tmp_path / "out").exists()


def test_a_bad_date_in_the_table_names_its_row(cube_file, cube_archive, tmp_path, capsys):
    ra, dec = on_cube(cube_file, 2)
    path = write_csv(
        tmp_path / "t.csv",
        [("a", ra[0], dec[0], "1325.3", "1326"), ("b", ra[1], dec[1], "2018-07-25T19:00", "x")],
        header="id,ra,dec,time_start,time_stop",
    )
    code, _, stderr = run(capsys, batch_argv(path, cube_archive, tmp_path / "out"))
    assert code == 2
    assert stderr == [
        "tesscut: error: TARGETS: row 1: time_stop: 'x' is neither a BTJD number (BJD - "
        "2457000, such as 1325.3) nor a date (such as 2018-07-26T00:00, read as TDB)"
    ]


def test_a_table_of_ffi_pixels(cube_archive, tmp_path, capsys):
    from astro_tesscut import TessCutClass

    path = write_csv(
        tmp_path / "pixels.csv",
        [("p0", 1620, 260, 1, 4, 2), ("p1", 1630, 265, 1, 4, 2), ("elsewhere", 1620, 260, 2, 4, 2)],
        header="id,Column,Row,Sector,Camera,CCD",  # any case, as ra and dec
    )
    code, stdout, stderr = run(capsys, batch_argv(path, cube_archive, tmp_path / "out"))
    assert code == 0
    assert stdout[0].startswith("3 targets: 2 files written")
    assert stderr == [
        "tesscut: note: no data for elsewhere: the archive holds no cube or FFIs of sector 2, "
        "camera 4, CCD 2"
    ]
    table = results(tmp_path / "out")
    assert list(table["status"]) == ["written", "written", "no data"]
    client = TessCutClass(archive=cube_archive)
    for path, pixel in zip(table["path"][:2], [(1620, 260), (1630, 265)], strict=True):
        (api,) = client.download_cutouts(
            pixel=pixel, sector=1, camera=4, ccd=2, size=5, path=tmp_path / "api"
        )["Local Path"]
        assert Path(api).name == Path(path).name
        assert Path(api).read_bytes() == Path(path).read_bytes()


def test_a_table_of_ffi_pixels_takes_one_sector_for_every_row(cube_archive, tmp_path, capsys):
    path = write_csv(
        tmp_path / "p.csv", [("p0", 1620, 260, 4, 2)], header="id,column,row,camera,ccd"
    )
    assert main([*batch_argv(path, cube_archive, tmp_path / "out"), "--sector", "1"]) == 0
    assert list(results(tmp_path / "out")["status"]) == ["written"]
    code, _, stderr = run(capsys, batch_argv(path, cube_archive, tmp_path / "none"))
    assert code == 2
    (error,) = stderr
    assert error.startswith("tesscut: error: TARGETS: a table of FFI pixels needs column, row,")
    assert error.endswith("it has no sector (or ask for one sector, for every row)")

    with_sectors = write_csv(
        tmp_path / "s.csv", [("p0", 1620, 260, 1, 4, 2)], header="id,column,row,sector,camera,ccd"
    )
    argv = [*batch_argv(with_sectors, cube_archive, tmp_path / "none"), "--sector", "1"]
    code, _, stderr = run(capsys, argv)
    assert code == 2
    assert stderr == [  # the API's sectors, spelt as the command's option
        "tesscut: error: --sector: a pixel is on the FFI of its row's sector, in the table's "
        "sector column; leave it out"
    ]


def test_a_bad_pixel_is_refused_naming_its_row(cube_archive, tmp_path, capsys):
    path = write_csv(
        tmp_path / "bad.csv",
        [("p0", 1620, 260, 1, 4, 2), ("p1", 1620, 260, 1, 7, 2)],
        header="id,column,row,sector,camera,ccd",
    )
    code, _, stderr = run(capsys, batch_argv(path, cube_archive, tmp_path / "out"))
    assert code == 2
    assert stderr == ["tesscut: error: TARGETS: row 1 ('p1'): camera: must be 1, 2, 3 or 4, got 7"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix", [".ecsv", ".fits"])
def test_time_columns_of_ecsv_and_fits_tables(cube_file, cube_archive, tmp_path, capsys, suffix):
    from astropy.time import Time

    times = open_cube(cube_file).times
    ra, dec = on_cube(cube_file, 2)
    ends = np.array([times[1] - 1e-4, times[3] + 1e-4]) + 2457000
    path = tmp_path / f"targets{suffix}"
    Table(
        {
            "id": ["a", "b"],
            "ra": ra,
            "dec": dec,
            "time_start": Time([ends[0]] * 2, format="jd", scale="tdb"),
            "time_stop": Time([ends[1]] * 2, format="jd", scale="tdb"),
        }
    ).write(path)
    assert main(batch_argv(path, cube_archive, tmp_path / "out")) == 0
    for written in results(tmp_path / "out")["path"]:
        with fits.open(written) as hdul:
            assert list(hdul["PIXELS"].data["TIME"]) == list(times[1:4])
