"""The ``tesscut`` command through its entry point: arguments, exit codes, error lines, files."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import test_doc_examples as examples
from conftest import PI_MEN
from mast_mocks import TESSCUT, mock_resolver, mock_sectors

from astro_tesscut import InvalidQueryError
from astro_tesscut.cli import main

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"


def one_line_error(capsys, starts):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert err.startswith(starts), err
    return err


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("sectors", "cutout", "batch", "plot", "demo"):
        assert command in out
    assert "exit codes" in out


@pytest.mark.parametrize("command", ["sectors", "cutout", "batch", "plot", "demo"])
def test_help_of_each_command(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: tesscut {command}" in capsys.readouterr().out


def test_module_and_console_script():
    run = subprocess.run(
        [sys.executable, "-m", "astro_tesscut", "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0
    assert "usage: tesscut" in run.stdout
    # The console script sits beside the interpreter when the package is installed.
    script = Path(sys.executable).with_name("tesscut")
    if not script.exists():
        pytest.skip("the tesscut console script is not installed beside this Python")
    assert subprocess.run([script, "--help"], capture_output=True).returncode == 0


def test_sectors_offline(mock_http, capsys):
    assert main(["sectors", PI_MEN_TEXT, "--offline"]) == 0
    out = capsys.readouterr().out
    assert "tess-s0001-4-2" in out
    assert "tess-s0035-4-4" in out
    assert len(mock_http.calls) == 0


def test_sectors_online_by_name(mock_http, capsys):
    mock_resolver(mock_http, "TIC 261136679", "resolver_tic_261136679.json")
    mock_sectors(
        mock_http,
        {"ra": str(PI_MEN[0]), "dec": str(PI_MEN[1]), "radius": str(5 / 60)},
        "sector_pi_men.json",
    )
    assert main(["sectors", "TIC 261136679", "--radius", "5 arcmin"]) == 0
    assert capsys.readouterr().out.count("tess-s00") == 20


def test_bad_coordinates_are_one_line_and_exit_2(mock_http, capsys):
    assert main(["sectors", "84.3 95", "--offline"]) == 2
    one_line_error(capsys, "tesscut: error: coordinates: Dec must be within")


def test_debug_shows_the_exception(mock_http):
    with pytest.raises(InvalidQueryError):
        main(["--debug", "sectors", "84.3 95", "--offline"])


def test_service_failure_exits_1(mock_http, capsys):
    mock_http.get(TESSCUT + "sector", status=503, body="Service Unavailable")
    assert main(["sectors", "10 20"]) == 1
    one_line_error(capsys, "tesscut: error: HTTP 503")


def test_cutout_from_an_archive_with_a_plot(mock_http, cube_archive, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "cutout",
            PI_MEN_TEXT,
            "--size",
            "35x45",
            "--archive",
            str(cube_archive),
            "--out",
            str(out),
            "--plot",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out.split()
    assert printed[0].endswith("tess-s0001-4-2_84.291188_-80.469120_35x45_astrocut.fits")
    assert printed[1].endswith("_35x45_astrocut.png")
    assert sorted(p.suffix for p in out.iterdir()) == [".fits", ".png"]
    assert len(mock_http.calls) == 0


def test_running_out_of_memory_is_one_line(cube_archive, tmp_path, capsys, monkeypatch):
    from astro_tesscut.cube import cutout

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cutout, "cut_one", exhausted)
    argv = ["cutout", PI_MEN_TEXT, "--archive", str(cube_archive), "--out", str(tmp_path)]
    assert main(argv) == 1
    one_line_error(capsys, "tesscut: error: MemoryError; out of memory: ask for a smaller --size")


def test_cutout_bad_size_exits_2(mock_http, cube_archive, capsys):
    assert main(["cutout", PI_MEN_TEXT, "--size", "35by45", "--archive", str(cube_archive)]) == 2
    one_line_error(capsys, "tesscut: error: --size: '35by45' is not COLSxROWS")


def test_cutout_of_nothing_exits_3(mock_http, cube_archive, tmp_path, capsys):
    assert main(["cutout", "10 20", "--archive", str(cube_archive), "--out", str(tmp_path)]) == 3
    assert "no cutout data" in capsys.readouterr().err


def test_plot(cube_archive, tmp_path, capsys):
    main(
        [
            "cutout",
            PI_MEN_TEXT,
            "--size",
            "9",
            "--archive",
            str(cube_archive),
            "--out",
            str(tmp_path),
        ]
    )
    (fits_file,) = tmp_path.glob("*.fits")
    png = tmp_path / "frame3.png"
    assert main(["plot", str(fits_file), "--frame", "3", "--out", str(png), "--stars", "none"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()
    assert main(["plot", str(fits_file), "--frame", "99", "--stars", "none"]) == 2
    one_line_error(capsys, "tesscut: error: frame: 99 is out of range")
    assert main(["plot", str(tmp_path / "missing.fits")]) == 1
    one_line_error(capsys, f"tesscut: error: FILE: {tmp_path / 'missing.fits'} does not exist")


def test_demo_end_to_end(mock_http, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "12"]) == 0
    report = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "cutout.png",
        "cutout_sky.png",
        "lightcurve.png",
        "tess-s0001-4-2_84.291188_-80.469120_35x45_astrocut.fits",
    ]
    for name in names:
        assert name in report
    assert "tess-s0035-4-4" in report  # the sector table, from the pointing model
    assert "261139071" in report  # the neighbours
    assert len(mock_http.calls) == 0


def test_offline_cutout_uses_the_demo_sector(mock_http, tmp_path, monkeypatch, capsys):
    from astro_tesscut import demo

    made = []
    real = demo.demo_archive
    monkeypatch.setattr(demo, "demo_archive", lambda **k: made.append(1) or real(frames=12, **k))
    assert main(["cutout", "Pi Men", "--size", "7", "--offline", "--out", str(tmp_path)]) == 0
    assert made == [1]
    assert capsys.readouterr().out.strip().endswith("_7x7_astrocut.fits")
    assert len(mock_http.calls) == 0


# What the docs' examples print, under numpy 2 (issue 23, item 8). The examples run with
# tests/test_doc_examples.py's stand-ins; this checks what their scripts print, which
# doctests do not: a list of numpy scalars prints as [np.int64(1), ...] there.
mast, reader, demo_sector, s3_ready = (  # the examples' stand-ins, fixtures here too
    examples.mast,
    examples.reader,
    examples.demo_sector,
    examples.s3_ready,
)
PRINTING = [
    name
    for name, blocks in examples.DOCUMENTS.items()
    if any(b.language == "python" and "print(" in b.code and ">>>" not in b.code for b in blocks)
]


@pytest.mark.parametrize("name", PRINTING)
@pytest.mark.usefixtures("mast", "reader")
def test_what_the_docs_examples_print_shows_plain_values(name, request, capsys):
    archive, s3 = (request.getfixturevalue(name) for name in ("demo_sector", "s3_ready"))
    examples.run_document(name, examples.DOCUMENTS[name], archive=archive, s3_ready=s3)
    printed = capsys.readouterr().out
    assert printed.strip()
    assert not re.findall(r"\bnp\.\w+\(", printed), printed


# --time and --pixel (issue 22)


def test_cutout_time_keeps_the_windows_cadences(mock_http, cube_archive, cube_file, tmp_path):
    from astropy.io import fits
    from astropy.time import Time

    from astro_tesscut.cube.ffi_cube import open_cube

    times = open_cube(cube_file).times
    start, stop = times[2] - 1e-4, times[4] + 1e-4
    base = ["cutout", PI_MEN_TEXT, "--size", "7", "--archive", str(cube_archive)]
    assert main([*base, "--time", str(start), str(stop), "--out", str(tmp_path / "btjd")]) == 0
    (path,) = (tmp_path / "btjd").glob("*.fits")
    with fits.open(path) as hdul:
        assert list(hdul["PIXELS"].data["TIME"]) == list(times[2:5])
    # The same window as dates, read as TDB.
    dates = [Time(t + 2457000, format="jd", scale="tdb").isot for t in (start, stop)]
    assert main([*base, "--time", *dates, "--out", str(tmp_path / "iso")]) == 0
    (again,) = (tmp_path / "iso").glob("*.fits")
    assert again.name == path.name
    assert again.read_bytes() == path.read_bytes()
    assert len(mock_http.calls) == 0


def test_cutout_time_outside_the_sector_exits_3(mock_http, cube_archive, tmp_path, capsys):
    argv = ["cutout", PI_MEN_TEXT, "--archive", str(cube_archive), "--out", str(tmp_path)]
    assert main([*argv, "--time", "1400", "1401"]) == 3
    assert "has cadences within BTJD 1400.0000 to 1401.0000" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.fits"))


def test_cutout_pixel_is_centred_on_the_pixel(mock_http, cube_archive, tmp_path, capsys):
    from astropy.io import fits

    from astro_tesscut import TessCutClass

    pixel = ["--pixel", "1620", "260", "--sector", "1", "--camera", "4", "--ccd", "2"]
    argv = ["cutout", *pixel, "--size", "7x5", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    (printed,) = capsys.readouterr().out.split()
    with fits.open(printed) as hdul:
        aperture = hdul["APERTURE"].header
        assert (aperture["CRVAL1P"], aperture["CRVAL2P"]) == (1620 - 3, 260 - 2)
        assert hdul["APERTURE"].data.shape == (5, 7)
    api = TessCutClass(archive=cube_archive).download_cutouts(
        pixel=(1620, 260), sector=1, camera=4, ccd=2, size=(5, 7), path=tmp_path / "api"
    )["Local Path"]
    assert [Path(p).name for p in api] == [Path(printed).name]
    assert Path(api[0]).read_bytes() == Path(printed).read_bytes()
    assert len(mock_http.calls) == 0
