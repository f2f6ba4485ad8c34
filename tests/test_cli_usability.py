"""The ``tesscut`` command's usability (issue 14): mistakes it explains, plots of several
files, the sector table, and synthetic pixels that say so."""

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from conftest import PI_MEN
from mast_mocks import PORTAL, mock_tic
from synthetic import make_tpf, tpf_name

from astro_tesscut import plotting
from astro_tesscut.catalog import bundled_stars
from astro_tesscut.cli import main
from astro_tesscut.sky.geometry import sector_ranges

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"
PI_MEN_PIXEL = "1632.3  259.8"  # sector 1's column and row, one decimal


def usage_error(capsys, argv, command):
    """``main(argv)`` stops with argparse's exit 2, showing ``command``'s usage; the error."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: tesscut {command} "), err
    (error,) = [line for line in err.splitlines() if "error:" in line]
    assert error.startswith(f"tesscut {command}: error: ")
    return error


def one_line_error(capsys):
    return single_error(capsys.readouterr().err)


def single_error(err):
    """The one error line of ``err`` (notes may come before it)."""
    err = err.strip()
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if not line.startswith("tesscut: note: ")]
    assert len(errors) == 1, err
    assert errors[0].startswith("tesscut: error: "), err
    return errors[0]


def notes(err):
    return [line for line in err.splitlines() if line.startswith("tesscut: note: ")]


# 1. mistakes a person can act on


@pytest.mark.parametrize(
    ("argv", "command", "meant"),
    [
        (["sectors", "Pi Men", "--ofline"], "sectors", "--offline"),
        (["cutout", "Pi Men", "--szie", "5"], "cutout", "--size"),
        (["plot", "a.fits", "--kidn", "sky"], "plot", "--kind"),
    ],
)
def test_a_typo_shows_the_commands_usage_and_what_was_meant(capsys, argv, command, meant):
    error = usage_error(capsys, argv, command)
    assert f"unrecognized arguments: {argv[2]}" in error
    assert error.endswith(f"(did you mean {meant}?)")


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["cutot", "Pi Men"], "cutout"),
        (["sector", "Pi Men"], "sectors"),
        (["bach", "targets.csv"], "batch"),
        (["plto", "a.fits"], "plot"),
    ],
)
def test_a_command_typo_says_which_command_was_meant(capsys, argv, meant):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tesscut "), err
    (error,) = [line for line in err.splitlines() if "error:" in line]
    assert error.startswith(f"tesscut: error: argument COMMAND: invalid choice: '{argv[0]}'")
    assert error.endswith(f"(did you mean {meant}?)")


def test_a_choice_typo_says_which_choice_was_meant(capsys):
    error = usage_error(capsys, ["plot", "a.fits", "--kind", "pixles"], "plot")
    assert error.endswith("(did you mean pixels?)")
    error = usage_error(capsys, ["plot", "a.fits", "--stars", "nothing"], "plot")
    assert "invalid choice: 'nothing'" in error
    assert "did you mean" not in error  # nothing close: no guess


def test_unquoted_numbers_are_ra_and_dec(mock_http, capsys):
    assert main(["sectors", "84.29119", "-80.46912", "--offline"]) == 0
    unquoted = capsys.readouterr().out
    assert main(["sectors", "84.29119 -80.46912", "--offline"]) == 0
    assert capsys.readouterr().out == unquoted
    assert "tess-s0001-4-2" in unquoted


def test_unquoted_words_of_a_name_are_one_name(mock_http, capsys):
    assert main(["sectors", "Pi", "Men", "--offline"]) == 0
    assert "tess-s0001-4-2" in capsys.readouterr().out
    assert len(mock_http.calls) == 0


def test_unquoted_sexagesimal_coordinates_are_asked_to_be_quoted(capsys):
    # argparse takes "-80:28:08.8" for an option: only quotes keep it with the RA.
    error = usage_error(capsys, ["sectors", "05:37:09.89", "-80:28:08.8", "--offline"], "sectors")
    assert error.endswith("quote coordinates: tesscut sectors '05:37:09.89 -80:28:08.8'")


@pytest.mark.parametrize("command", ["sectors", "cutout"])
def test_anon_without_a_url_archive_is_a_usage_error(capsys, tmp_path, command):
    error = usage_error(capsys, [command, "Pi Men", "--offline", "--anon"], command)
    assert "argument --anon: reads a URL --archive" in error
    error = usage_error(capsys, [command, "Pi Men", "--anon"], command)
    assert "argument --anon" in error
    error = usage_error(capsys, [command, "Pi Men", "--archive", str(tmp_path), "--anon"], command)
    assert "argument --anon" in error


def test_anon_with_a_url_archive_is_taken(mock_http, capsys, monkeypatch):
    from astro_tesscut import core

    made = []

    class Client:
        def __init__(self, **kwargs):
            made.append(kwargs)

        def query_sectors(self, **kwargs):
            from astropy.table import Table

            return Table(names=["sectorName"], dtype=[str])

    monkeypatch.setattr(core, "TessCutClass", Client)
    url = "s3://stpubdata/tess/public/mast/"
    assert main(["sectors", PI_MEN_TEXT, "--archive", url, "--anon"]) == 0
    assert made == [{"archive": url, "storage_options": {"anon": True}}]


def test_radius_takes_angles_and_says_a_bare_number_is_degrees(mock_http, capsys):
    assert main(["sectors", PI_MEN_TEXT, "--offline", "--radius", "6 arcmin"]) == 0
    captured = capsys.readouterr()
    in_arcmin = captured.out
    assert notes(captured.err) == []
    assert main(["sectors", PI_MEN_TEXT, "--offline", "--radius", "0.1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == in_arcmin
    assert notes(captured.err) == [
        "tesscut: note: --radius 0.1 is 0.1 deg = 6 arcmin (a bare number is in degrees; "
        "say '5 arcmin' for arcminutes)"
    ]
    assert main(["sectors", PI_MEN_TEXT, "--offline", "--radius", "0.1 deg"]) == 0
    assert capsys.readouterr().out == in_arcmin


@pytest.mark.parametrize("radius", ["5 arcmins", "-1", "five"])
def test_a_radius_that_is_no_angle_exits_2(mock_http, capsys, radius):
    assert main(["sectors", PI_MEN_TEXT, "--offline", "--radius", radius]) == 2
    error = one_line_error(capsys)
    assert error == (
        f"tesscut: error: --radius: {radius!r} is not an angle of zero or more; give "
        "'5 arcmin', '0.1 deg', or a bare number of degrees"
    )


def test_an_unquoted_radius_unit_is_asked_to_be_quoted(capsys):
    argv = ["sectors", "Pi Men", "--radius", "5", "arcmin", "--offline"]
    error = usage_error(capsys, argv, "sectors")
    assert error.endswith("quote angles: --radius '5 arcmin'")


@pytest.mark.parametrize(
    ("position", "word"),
    [
        ("84.3 abc", "abc"),
        ("84.3 -80.4x", "-80.4x"),
        ("84 -80x", "-80x"),
        ("05:37:09.89 south", "south"),
        ("84.29119 -80.46912 extra", "extra"),
    ],
)
def test_a_word_that_is_not_a_coordinate_in_a_position_is_named(mock_http, capsys, position, word):
    assert main(["sectors", position, "--offline"]) == 2
    assert one_line_error(capsys) == (
        f"tesscut: error: coordinates: {word!r} is not a coordinate, in {position!r}: give "
        "'RA Dec' in degrees ('84.29119 -80.46912') or sexagesimal, or a name"
    )
    assert len(mock_http.calls) == 0


@pytest.mark.parametrize("name", ["51 Peg", "61 Cyg A", "3C 273"])
def test_a_name_that_starts_with_a_number_is_still_a_name(mock_http, capsys, name):
    assert main(["sectors", name, "--offline"]) == 2
    assert one_line_error(capsys).startswith(f"tesscut: error: objectname: {name!r} is not a name")


@pytest.mark.parametrize("position", ["400 -80", "360 -80", "-10 -80", "400d -80d"])
def test_ra_outside_0_to_360_is_rejected_as_dec_beyond_a_pole_is(mock_http, capsys, position):
    assert main(["sectors", position, "--offline"]) == 2
    error = one_line_error(capsys)
    assert error.startswith("tesscut: error: coordinates: RA must be within [0, 360) deg")
    assert len(mock_http.calls) == 0


def test_ra_just_below_360_is_taken(mock_http, capsys):
    assert main(["sectors", "359.99 -80", "--offline"]) == 0


# 2. tesscut plot


def write_tpf(directory, *, shape=(15, 11), ra=PI_MEN[0], dec=PI_MEN[1]):
    path = directory / tpf_name(sector=1, camera=4, ccd=2, ra=ra, dec=dec, nx=shape[1], ny=shape[0])
    make_tpf(shape=shape, ra=ra, dec=dec).writeto(path)
    return path


@pytest.fixture
def drawn(monkeypatch):
    """The stars each sky plot was asked to mark (`None` for none), in order."""
    asked = []
    real = plotting.plot_cutout_sky

    def recording(tpf, *args, stars=None, **kwargs):
        asked.append(stars)
        return real(tpf, *args, stars=stars, **kwargs)

    monkeypatch.setattr(plotting, "plot_cutout_sky", recording)
    return asked


def test_plot_draws_every_file_given(tmp_path, capsys, drawn):
    files = [write_tpf(tmp_path), write_tpf(tmp_path, shape=(9, 9))]
    assert main(["plot", *map(str, files), "--stars", "none"]) == 0
    captured = capsys.readouterr()
    pngs = [tmp_path / (f.stem + "_sky.png") for f in files]
    assert captured.out.split() == [str(png) for png in pngs]
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
    assert drawn == [None, None]
    assert notes(captured.err) == ["tesscut: note: sky plots mark no stars (--stars none)"]


@pytest.mark.parametrize(
    ("options", "suffix"),
    [
        ([], "_sky.png"),
        (["--frame", "0"], "_sky.png"),
        (["--frame", "3"], "_sky_cadence3.png"),
        (["--kind", "pixels"], "_pixels.png"),
        (["--kind", "pixels", "--frame", "-1"], "_pixels_cadence-1.png"),
        (["--kind", "lightcurve"], "_lightcurve.png"),
    ],
)
def test_each_kind_and_frame_has_its_own_png(tmp_path, capsys, options, suffix):
    tpf = write_tpf(tmp_path)
    stars = ["--stars", "none"] if "--kind" not in options else []
    assert main(["plot", str(tpf), *options, *stars]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / (tpf.stem + suffix))]


def test_plot_never_replaces_a_png_without_force(mock_http, cube_archive, tmp_path, capsys):
    argv = ["cutout", PI_MEN_TEXT, "--size", "9", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path), "--plot"]) == 0
    fits_file, cutout_png = map(Path, capsys.readouterr().out.split())
    made_by_cutout = cutout_png.read_bytes()

    assert main(["plot", str(fits_file), "--stars", "none"]) == 0
    sky_png = tmp_path / (fits_file.stem + "_sky.png")
    assert capsys.readouterr().out.split() == [str(sky_png)]
    assert cutout_png.read_bytes() == made_by_cutout

    sky_png.write_bytes(b"mine")
    assert main(["plot", str(fits_file), "--stars", "none"]) == 2
    assert one_line_error(capsys) == (
        f"tesscut: error: {sky_png} exists; --force replaces it, --out writes elsewhere"
    )
    assert sky_png.read_bytes() == b"mine"
    assert main(["plot", str(fits_file), "--stars", "none", "--force"]) == 0
    assert sky_png.read_bytes().startswith(b"\x89PNG")
    assert cutout_png.read_bytes() == made_by_cutout


def test_cutout_plot_keeps_an_existing_png_unless_forced(mock_http, cube_archive, tmp_path, capsys):
    argv = ["cutout", PI_MEN_TEXT, "--size", "9", "--archive", str(cube_archive)]
    argv += ["--out", str(tmp_path), "--plot"]
    assert main(argv) == 0
    fits_file, png = map(Path, capsys.readouterr().out.split())
    png.write_bytes(b"mine")
    assert main(argv) == 1
    assert one_line_error(capsys) == (
        f"tesscut: error: {png} exists and was kept; --force replaces it"
    )
    assert png.read_bytes() == b"mine"
    assert fits_file.is_file()
    assert main([*argv, "--force"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_link_at_a_pngs_name_is_replaced_never_followed(tmp_path, capsys, dangling):
    tpf = write_tpf(tmp_path)
    victim = tmp_path / "victim" / "thesis.tex"
    victim.parent.mkdir()
    if not dangling:
        victim.write_bytes(b"years of work")
    png = tmp_path / (tpf.stem + "_pixels.png")
    png.symlink_to(victim)
    argv = ["plot", str(tpf), "--kind", "pixels"]
    assert main(argv) == (1 if dangling else 2)  # something is there: kept
    capsys.readouterr()
    assert png.is_symlink()
    assert main([*argv, "--force"]) == 0
    assert not png.is_symlink()
    assert png.read_bytes().startswith(b"\x89PNG")
    assert victim.exists() != dangling  # a dangling link made no file where it pointed
    if not dangling:
        assert victim.read_bytes() == b"years of work"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_the_demo_replaces_a_link_planted_among_its_figures(mock_http, tmp_path):
    from astro_tesscut.demo import run_demo

    out, victim = tmp_path / "demo", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_bytes(b"not the demo's")
    (out / "lightcurve.png").symlink_to(victim)
    written = run_demo(out, frames=20, show_progress=False, echo=lambda line: None)
    assert written["lightcurve_png"] == out / "lightcurve.png"
    assert not (out / "lightcurve.png").is_symlink()
    assert (out / "lightcurve.png").read_bytes().startswith(b"\x89PNG")
    assert victim.read_bytes() == b"not the demo's"


def test_plot_refuses_before_drawing_anything(tmp_path, capsys):
    first, second = write_tpf(tmp_path), write_tpf(tmp_path, shape=(9, 9))
    (tmp_path / (second.stem + "_pixels.png")).write_bytes(b"mine")
    assert main(["plot", str(first), str(second), "--kind", "pixels"]) == 2
    assert "exists" in one_line_error(capsys)
    assert not (tmp_path / (first.stem + "_pixels.png")).exists()


def test_plot_out_is_a_directory_or_one_png(tmp_path, capsys):
    files = [write_tpf(tmp_path), write_tpf(tmp_path, shape=(9, 9))]
    out = tmp_path / "figures"
    assert main(["plot", *map(str, files), "--kind", "pixels", "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / (f.stem + "_pixels.png")) for f in files]

    png = tmp_path / "one.png"
    assert main(["plot", str(files[0]), "--kind", "pixels", "--out", str(png)]) == 0
    assert capsys.readouterr().out.split() == [str(png)]

    assert main(["plot", *map(str, files), "--out", str(tmp_path / "two.png")]) == 2
    assert one_line_error(capsys) == (
        f"tesscut: error: --out: {str(tmp_path / 'two.png')!r} names one PNG, for one file; "
        "give a directory for 2 files"
    )


def test_plot_out_cannot_draw_two_files_into_one_png(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    same = [write_tpf(tmp_path / "a"), write_tpf(tmp_path / "b")]
    argv = ["plot", *map(str, same), "--kind", "pixels", "--out", str(tmp_path / "figures")]
    assert main(argv) == 2
    assert "would both be drawn into" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--kind", "lightcurve", "--frame", "2"], "--frame: "),
        (["--kind", "pixels", "--stars", "tic"], "--stars: only sky plots mark stars"),
    ],
)
def test_plot_options_that_do_not_apply_exit_2(tmp_path, capsys, options, message):
    assert main(["plot", str(write_tpf(tmp_path)), *options]) == 2
    assert one_line_error(capsys).startswith(f"tesscut: error: {message}")


def test_a_failing_file_among_several_is_named(tmp_path, capsys):
    good, broken = write_tpf(tmp_path), tmp_path / "broken.fits"
    broken.write_bytes(b"not a FITS file")
    assert main(["plot", str(good), str(broken), "--kind", "pixels"]) == 1
    captured = capsys.readouterr()
    assert captured.out.split() == [str(tmp_path / (good.stem + "_pixels.png"))]
    error = single_error(captured.err)
    assert error.endswith(f"; while plotting {broken}")


def test_a_missing_file_is_one_line_saying_so_before_anything_is_drawn(tmp_path, capsys):
    good, missing = write_tpf(tmp_path), tmp_path / "missing.fits"
    assert main(["plot", str(missing)]) == 1
    assert one_line_error(capsys) == f"tesscut: error: FILE: {missing} does not exist"
    assert main(["plot", str(good), str(missing), str(tmp_path / "gone.fits")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert single_error(captured.err) == (
        f"tesscut: error: FILE: {missing} does not exist; nor does {tmp_path / 'gone.fits'}"
    )
    assert not list(tmp_path.glob("*.png"))


def cone_radius_deg(shape):
    """The cone `tesscut plot` asks the TIC for: the cutout's half diagonal and a pixel."""
    return (math.hypot(*shape) / 2 + 1) * 21 / 3600


def test_sky_plots_mark_tic_stars_from_mast_by_default(mock_http, tmp_path, capsys, drawn):
    tpf = write_tpf(tmp_path)
    mock_tic(mock_http, ra=PI_MEN[0], dec=PI_MEN[1], radius_deg=cone_radius_deg((15, 11)))
    assert main(["plot", str(tpf)]) == 0
    (stars,) = drawn
    assert "261139071" in list(stars["ID"])
    assert notes(capsys.readouterr().err) == [
        "tesscut: note: sky plots mark stars brighter than Tmag 14 from the TIC, from MAST"
    ]


def test_a_tic_failure_says_how_to_plot_without_it(mock_http, tmp_path, capsys):
    mock_http.post(PORTAL + "/portal/Mashup/Mashup.asmx/columnsconfig", status=503)
    assert main(["plot", str(write_tpf(tmp_path))]) == 1
    error = one_line_error(capsys)
    assert "the TIC query failed" in error
    assert error.endswith("; --stars bundled or none plots without MAST")


def test_bundled_stars_only_when_asked(mock_http, tmp_path, capsys, drawn):
    assert main(["plot", str(write_tpf(tmp_path)), "--stars", "bundled"]) == 0
    (stars,) = drawn
    assert list(stars["ID"]) == list(bundled_stars()["ID"])  # all within the cutout's cone
    assert notes(capsys.readouterr().err) == [
        "tesscut: note: sky plots mark stars brighter than Tmag 14 from the TIC rows bundled "
        "with the package (5 arcmin around Pi Mensae only)"
    ]
    assert len(mock_http.calls) == 0


def test_cutout_plots_offline_mark_no_catalogue_but_the_demos(
    mock_http, cube_archive, tmp_path, capsys, drawn
):
    argv = ["cutout", PI_MEN_TEXT, "--size", "9", "--archive", str(cube_archive), "--plot"]
    argv += ["--sector", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert drawn == [None]
    assert notes(capsys.readouterr().err) == [
        "tesscut: note: sky plots mark no stars: offline, only the demo's sector has a "
        "catalogue (tesscut plot FILE --stars bundled or tic marks some)"
    ]


@pytest.mark.parametrize(
    ("size", "quantity"),
    [
        ("2arcmin", (2, 2)),
        ("2 arcmin", (2, 2)),
        ("2arcmin x 1arcmin", (1, 2)),  # COLSxROWS: the API's (ny, nx) is (1, 2)
        ("2 arcmin x 60 arcsec", (1, 2)),
        ("0.1deg", (6, 6)),
        ("30arcsec", (0.5, 0.5)),
    ],
)
def test_cutout_sizes_may_be_angles_as_in_the_api(
    mock_http, cube_archive, tmp_path, capsys, size, quantity
):
    from astropy import units as u

    from astro_tesscut import TessCutClass

    argv = ["cutout", PI_MEN_TEXT, "--size", size, "--sector", "1", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 0
    (path,) = capsys.readouterr().out.split()
    (api,) = TessCutClass(archive=cube_archive).download_cutouts(
        coordinates=PI_MEN_TEXT, size=quantity * u.arcmin, sector=1, path=tmp_path / "api"
    )["Local Path"]
    assert Path(path).name == Path(api).name
    assert Path(path).read_bytes() == Path(api).read_bytes()


def test_pixel_sizes_stay_whole_columns_by_rows(mock_http, cube_archive, tmp_path, capsys):
    argv = ["cutout", PI_MEN_TEXT, "--size", "7x9", "--sector", "1", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("_7x9_astrocut.fits")


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ("35 x 1arcmin", "--size: '35 x 1arcmin' mixes pixels and angles"),
        ("2 parsec", "--size: '2 parsec' is not COLSxROWS in pixels ('35x45'), one side"),
        ("5.5", "--size: '5.5' is not COLSxROWS"),
        ("1x2x3", "--size: '1x2x3' is not COLSxROWS"),
        ("-2arcmin", "size: every side must be positive and finite"),
    ],
)
def test_sizes_that_are_neither_pixels_nor_angles_exit_2(
    mock_http, cube_archive, tmp_path, capsys, size, words
):
    argv = ["cutout", PI_MEN_TEXT, f"--size={size}", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert one_line_error(capsys).startswith(f"tesscut: error: {words}")


def test_a_cutout_from_an_archive_names_the_sectors_it_lacks(
    mock_http, cube_archive, tmp_path, capsys
):
    from astro_tesscut import TessCutClass

    argv = ["cutout", PI_MEN_TEXT, "--size", "5", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("_5x5_astrocut.fits")  # sector 1, the one it holds
    table = TessCutClass().query_sectors(coordinates=PI_MEN_TEXT, offline=True)
    others = sorted(set(table["sector"][table["released"]].tolist()) - {1})
    assert others[:4] == [4, 8, 11, 12]
    assert notes(captured.err) == [
        f"tesscut: note: sectors {sector_ranges(others)} also observed {PI_MEN_TEXT} (TESS's "
        f"pointing model) but gave no file: {cube_archive} holds no FFIs or cube of them"
    ]
    # With --sector, the sector asked is the answer: no note.
    assert main([*argv, "--out", str(tmp_path), "--sector", "1"]) == 0
    assert notes(capsys.readouterr().err) == []


def test_an_offline_cutout_names_the_sectors_the_demo_lacks(
    mock_http, tmp_path, capsys, small_demo
):
    from astro_tesscut import demo

    argv = ["cutout", "Pi Men", "--size", "7", "--offline", "--out", str(tmp_path)]
    assert main(argv) == 0
    lines = notes(capsys.readouterr().err)
    assert len(lines) == 2
    assert lines[0].startswith("tesscut: note: --offline cuts from the demo's synthetic sector")
    assert lines[1].startswith("tesscut: note: sectors 4, 8, 11-13, ")
    assert lines[1].endswith(
        " also observed Pi Men (TESS's pointing model) but gave no file: "
        f"{demo.demo_archive()} holds no FFIs or cube of them"
    )


# 3. the sector table


def test_the_sector_table_shows_pixels_to_a_tenth_and_says_what_they_are(mock_http, capsys):
    assert main(["sectors", PI_MEN_TEXT, "--offline"]) == 0
    out = capsys.readouterr().out.splitlines()
    (sector_1,) = [line for line in out if line.startswith("tess-s0001-4-2")]
    assert sector_1.split()[4:6] == PI_MEN_PIXEL.split()
    for line in out[2:-2]:
        column, row = line.split()[4:6]
        assert re.fullmatch(r"-?\d+\.\d", column), line
        assert re.fullmatch(r"-?\d+\.\d", row), line
    assert out[-2:] == [
        "column, row: the target's 1-based FFI pixel, collateral columns included "
        "(science pixels: columns 45-2092, rows 1-2048)",
        "footprint: whose outline of the FFI answered, MAST's (sectors 1-80) or TESS's "
        "pointing model's",
    ]


# 4. offline is offline, and synthetic pixels say so


@pytest.mark.parametrize("name", ["Vega", "51 Peg"])
def test_offline_a_name_the_bundled_rows_lack_sends_nothing(mock_http, capsys, name):
    # "51 Peg" starts like a position but is a name: not reported as bad coordinates.
    assert main(["sectors", name, "--offline"]) == 2
    assert one_line_error(capsys).startswith(f"tesscut: error: objectname: {name!r}")
    assert len(mock_http.calls) == 0


def test_synthetic_ffis_cubes_and_cutouts_say_they_are_not_tess_data(
    mock_http, ffi_files, cube_archive, tmp_path, capsys
):
    primary = fits.getheader(ffi_files[0])
    assert primary["ORIGIN"] == "astro_tesscut.simulate"
    assert primary["SIMDATA"] is True
    assert "not TESS data" in primary["SIMNOTE"]
    argv = ["cutout", PI_MEN_TEXT, "--size", "9", "--archive", str(cube_archive)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    (path,) = capsys.readouterr().out.split()
    cutout = fits.getheader(path)
    assert cutout["SIMDATA"] is True
    assert cutout["SIMNOTE"] == primary["SIMNOTE"]

    assert main(["plot", path, "--kind", "pixels"]) == 0
    assert notes(capsys.readouterr().err) == [
        f"tesscut: note: {path}: synthetic pixels (SIMDATA = T), not TESS data"
    ]


@pytest.fixture
def small_demo(monkeypatch):
    """The demo's sector with 12 cadences, counting how often it is asked for."""
    from astro_tesscut import demo

    made = []
    real = demo.demo_archive
    monkeypatch.setattr(demo, "demo_archive", lambda **k: made.append(1) or real(frames=12, **k))
    return made


def test_the_demo_sector_is_marked_as_synthetic_everywhere(
    mock_http, tmp_path, capsys, small_demo, drawn
):
    from astro_tesscut.demo import demo_stars

    argv = ["cutout", "Pi Men", "--size", "35x45", "--sector", "1", "--offline", "--plot"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert small_demo == [1]
    captured = capsys.readouterr()
    path, png = captured.out.split()
    assert png == path.replace(".fits", ".png")
    assert notes(captured.err) == [
        "tesscut: note: --offline cuts from the demo's synthetic sector (sector 1, camera 4, "
        "CCD 2 around Pi Mensae): the pixels are not TESS data; set astro_tesscut.conf.archive "
        "or give --archive for real FFIs",
        "tesscut: note: sky plots mark stars brighter than Tmag 14 from the stars the demo "
        "drew (bundled TIC rows and synthetic field stars)",
    ]
    header = fits.getheader(path)
    assert header["SIMDATA"] is True
    assert "not TESS data" in header["SIMNOTE"]
    assert header["SIMSCENE"].startswith("astro_tesscut demo")
    (stars,) = drawn
    assert list(stars["ID"]) == list(demo_stars()["ID"])
    assert len(mock_http.calls) == 0


# 5. the demo's sky plot marks every bright star it shows


def test_every_bright_star_in_the_demos_sky_plot_is_marked(mock_http, tmp_path, monkeypatch):
    from astro_tesscut import demo

    marked = []
    real = plotting.plot_cutout_sky

    def recording(*args, **kwargs):
        plot = real(*args, **kwargs)
        marked.extend(plot.target.get_offsets().tolist())
        marked.extend(plot.stars.get_offsets().tolist())
        return plot

    monkeypatch.setattr(plotting, "plot_cutout_sky", recording)
    written = demo.run_demo(tmp_path, frames=12, show_progress=False, echo=lambda line: None)
    image = fits.getdata(written["tpf"], "PIXELS")["FLUX"][0].astype(float)
    background = np.median(image)
    # Local maxima well above the background: stars of Tmag 13.5 or brighter.
    ny, nx = image.shape
    peaks = [
        (x, y)
        for y in range(2, ny - 2)
        for x in range(2, nx - 2)
        if image[y, x] - background > 100
        and image[y, x] == image[y - 1 : y + 2, x - 1 : x + 2].max()
    ]
    assert len(peaks) >= 3  # Pi Mensae and bright synthetic field stars
    for peak in peaks:
        nearest = min(math.dist(peak, star) for star in marked)
        assert nearest < 1.5, f"an unmarked star at pixel {peak}"


# --time and --pixel mistakes (issue 22)

PIXEL = ["--pixel", "1620", "260", "--sector", "1", "--camera", "4", "--ccd", "2"]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (
            ["--time", "1326", "1325"],
            "--time: the start must come before the stop, got BTJD 1326.0",
        ),
        (["--time", "soon", "1326"], "--time: 'soon' is neither a BTJD number (BJD - 2457000"),
        (["--time", "1325", "2018-13-45"], "--time: '2018-13-45' is neither a BTJD number"),
        (["--time", "1325", "inf"], "--time: must be finite numbers"),
        (["--camera", "4"], "--camera: only with --pixel"),
    ],
)
def test_bad_times_are_one_line_and_exit_2(mock_http, cube_archive, capsys, options, words):
    argv = ["cutout", "Pi Men", "--archive", str(cube_archive), *options]
    assert main(argv) == 2
    assert one_line_error(capsys).startswith(f"tesscut: error: {words}")
    assert len(mock_http.calls) == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({1: "x"}, "--pixel: 'x' is not a number; give the 1-based column and row"),
        ({1: "3000"}, "--pixel: (3000, 260) is outside an FFI: columns 1-2136"),
        ({6: "5"}, "--camera: must be 1, 2, 3 or 4, got 5"),
        ({8: "0"}, "--ccd: must be 1, 2, 3 or 4, got 0"),
        ({4: "0"}, "--sector: must be a positive integer, got 0"),
    ],
)
def test_bad_pixels_are_one_line_and_exit_2(mock_http, cube_archive, capsys, change, words):
    pixel = [change.get(i, word) for i, word in enumerate(PIXEL)]
    assert main(["cutout", *pixel, "--archive", str(cube_archive)]) == 2
    assert one_line_error(capsys).startswith(f"tesscut: error: {words}")
    assert len(mock_http.calls) == 0


def test_a_pixel_needs_its_sector_camera_and_ccd(mock_http, cube_archive, capsys):
    assert main(["cutout", "--pixel", "1620", "260", "--camera", "4"]) == 2
    assert one_line_error(capsys) == (
        "tesscut: error: --pixel: a pixel is on the FFI of one sector, camera and CCD; give "
        "--sector and --ccd too"
    )


def test_a_cutout_is_of_a_target_or_of_a_pixel(capsys):
    error = usage_error(capsys, ["cutout", "Pi Men", *PIXEL], "cutout")
    assert "a cutout is centred on a TARGET or on --pixel COLUMN ROW" in error
    assert error.endswith("give one or the other, not both")
    error = usage_error(capsys, ["cutout", "--size", "5"], "cutout")
    assert error.endswith("give one or the other")
