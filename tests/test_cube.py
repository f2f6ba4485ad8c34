"""FFI cubes: building them (astrocut's format, bounded memory, bad FFIs) and reading them."""

import numpy as np
import pytest
from astropy.io import fits

from astro_tesscut import InvalidFileError, InvalidQueryError
from astro_tesscut.cube.build import build_cube
from astro_tesscut.cube.ffi_cube import open_cube


def ffi_pixels(paths):
    """Image and uncertainty of each FFI, stacked: (frames, 2, rows, columns)."""
    stack = []
    for path in paths:
        with fits.open(path) as hdul:
            stack.append([hdul[1].data, hdul[2].data])
    return np.array(stack)


def test_cube_holds_every_ffi_in_time_order(ffi_files, tmp_path):
    shuffled = [ffi_files[i] for i in (3, 0, 7, 1, 6, 2, 5, 4)]
    cube = build_cube(shuffled, tmp_path / "cube.fits", show_progress=False)
    with fits.open(cube) as hdul:
        hdul.verify("exception")
        pixels = hdul[1].data
        assert pixels.shape == (40, 50, 8, 2)
        assert pixels.dtype == np.dtype(">f4")
        expected = ffi_pixels(ffi_files).transpose(2, 3, 0, 1)  # time order = name order
        assert np.array_equal(pixels, expected, equal_nan=True)
        table = hdul[2].data
        assert list(table["FFI_FILE"]) == [p.name for p in ffi_files]
        assert np.all(np.diff(table["TSTART"]) > 0)
        primary = hdul[0].header
        assert (primary["SECTOR"], primary["CAMERA"], primary["CCD"]) == (1, 4, 2)
        assert primary["TSTOP"] == table["TSTOP"][-1]
        assert primary["ORIGIN"] == "astro_tesscut.simulate"  # synthetic: never MAST's
        assert primary["SIMDATA"] is True


def test_a_cube_of_real_ffis_says_mast_made_it(odd_ffis, tmp_path):
    files, _ = odd_ffis(lambda hdul: hdul[0].header.remove("SIMDATA"))
    files[0].write_bytes(files[1].read_bytes())  # both without SIMDATA, as SPOC's FFIs are
    with fits.open(files[0], mode="update") as hdul:  # a distinct frame time, as real FFIs
        hdul[1].header["TSTART"] -= 1
        hdul[1].header["TSTOP"] -= 1
    cube = build_cube(files, tmp_path / "cube.fits", show_progress=False)
    with fits.open(cube) as hdul:
        assert hdul[0].header["ORIGIN"] == "STScI/MAST"


def test_bounded_memory_gives_the_same_cube(ffi_files, cube_file, tmp_path):
    row_bytes = 50 * 8 * 8
    small = build_cube(
        ffi_files, tmp_path / "c.fits", max_memory=3 * row_bytes, show_progress=False
    )
    assert small.read_bytes()[5760:] == cube_file.read_bytes()[5760:]  # all but DATE


def test_too_little_memory(ffi_files, tmp_path):
    with pytest.raises(InvalidQueryError, match="^max_memory: needs at least 9,600 bytes"):
        build_cube(ffi_files, tmp_path / "c.fits", max_memory=1000)


def test_reader(cube_file, ffi_files):
    cube = open_cube(cube_file)
    assert (cube.rows, cube.columns, cube.frames) == (40, 50, 8)
    assert cube.sector_name == "tess-s0001-4-2"
    assert cube.wcs_row == 4  # the middle FFI
    assert cube.column("FFI_FILE")[4] == ffi_files[4].name
    assert cube.wcs.has_celestial
    assert cube.wcs.sip is not None
    assert open_cube(cube_file) is cube  # cached while unchanged
    pixels, on_cube = cube.read_pixels(-2, 3, 47, 52)
    expected = ffi_pixels(ffi_files)[:, :, 0:3, 47:50].transpose(2, 3, 0, 1)
    assert np.array_equal(pixels[2:, :3], expected, equal_nan=True)
    assert np.isnan(pixels[:2]).all()
    assert np.isnan(pixels[:, 3:]).all()
    assert on_cube.sum() == 9


def test_reader_refuses_what_is_not_a_cube(ffi_files, tmp_path):
    with pytest.raises(InvalidFileError, match="is not an FFI cube"):
        open_cube(ffi_files[0])
    broken = tmp_path / "broken-cube.fits"
    broken.write_bytes(b"SIMPLE  = junk")
    with pytest.raises(InvalidFileError, match="^cube: .*not a readable FITS"):
        open_cube(broken)
    with pytest.raises(InvalidFileError, match="cannot read"):
        open_cube(tmp_path / "missing-cube.fits")


@pytest.fixture
def odd_ffis(ffi_files, tmp_path):
    """Copies of two FFIs, one of them spoilt by ``spoil(hdul)``."""

    def make(spoil, name=None):
        good = tmp_path / ffi_files[0].name
        good.write_bytes(ffi_files[0].read_bytes())
        with fits.open(ffi_files[1]) as hdul:
            spoil(hdul)
            bad = tmp_path / (name or ffi_files[1].name)
            hdul.writeto(bad, overwrite=True)
        return [good, bad], bad

    return make


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (lambda h: h.pop(2), "has 2 HDUs; a SPOC FFI has the image in HDU 1"),
        (lambda h: setattr(h[1], "data", h[1].data[:30]), "differ in shape"),
        (lambda h: setattr(h[1], "data", h[1].data.astype(np.int16)), "is not a float32 image"),
        (lambda h: h[1].header.set("CCD", 3), "camera 4, CCD 3.*one cube holds one"),
        (
            lambda h: [setattr(h[i], "data", h[i].data[:, :45]) for i in (1, 2)],
            r"shape \(40, 45\).*shape \(40, 50\)",
        ),
    ],
    ids=["missing-extension", "image-shape", "integer-image", "other-ccd", "other-shape"],
)
def test_bad_ffi_is_named_and_nothing_is_left(odd_ffis, tmp_path, spoil, words):
    files, bad = odd_ffis(spoil)
    output = tmp_path / "out" / "tess-s0001-4-2-cube.fits"
    output.parent.mkdir()
    output.write_bytes(b"the cube the user already had")
    with pytest.raises(InvalidFileError, match=words) as info:
        build_cube(files, output, show_progress=False)
    assert bad.name in str(info.value)
    assert output.read_bytes() == b"the cube the user already had"
    assert list(output.parent.iterdir()) == [output]


def test_ffi_of_another_sector(odd_ffis, tmp_path):
    files, bad = odd_ffis(lambda h: None, name="tess2018206192942-s0002-4-2-0120-s_ffic.fits")
    with pytest.raises(InvalidFileError, match=f"{bad.name} is sector 2"):
        build_cube(files, tmp_path / "c.fits", show_progress=False)


def test_no_ffis(tmp_path):
    with pytest.raises(InvalidQueryError, match="^ffi_files: no FFI given"):
        build_cube([], tmp_path / "c.fits")


def test_same_cube_as_astrocut(ffi_files, cube_file, tmp_path):
    astrocut = pytest.importorskip("astrocut", reason="astrocut (the peers extra) is not installed")
    theirs = astrocut.CubeFactory().make_cube(
        [str(p) for p in ffi_files], str(tmp_path / "astrocut-cube.fits"), sector=1, verbose=False
    )
    with fits.open(theirs) as a, fits.open(cube_file) as b:
        assert np.array_equal(a[1].data, b[1].data, equal_nan=True)
        assert a[2].columns.names == b[2].columns.names
        for name in a[2].columns.names:
            ours, theirs = b[2].data[name], a[2].data[name]
            nan = ours.dtype.kind == "f"
            assert np.array_equal(ours, theirs, equal_nan=nan), name
        for key in ("SECTOR", "CAMERA", "CCD", "TSTART", "TSTOP", "DATE-END"):
            assert a[0].header[key] == b[0].header[key]


def recorded_reads(cube, monkeypatch):
    """The (offset, length) ranges each ``read_into`` of ``cube``'s source asks for."""
    calls = []
    real = cube.source.read_into

    def recording(ranges, buffers):
        calls.append(list(ranges))
        return real(ranges, buffers)

    monkeypatch.setattr(cube.source, "read_into", recording)
    return calls


def test_many_rectangles_in_one_read_share_their_rows(cube_file, monkeypatch):
    cube = open_cube(cube_file)
    cube.table  # noqa: B018 -- loaded, so that only pixels are read below
    # Rows past the first read (which held the first 16 rows of this small cube).
    rectangles = [
        (20, 25, 3, 9),  # overlaps the next
        (22, 27, 6, 14),
        (22, 27, 14, 20),  # touches the previous one's columns
        (37, 42, 47, 52),  # off two edges
        (50, 55, 60, 70),  # wholly off the cube
    ]
    calls = recorded_reads(cube, monkeypatch)
    blocks = cube.read_rectangles(rectangles)
    assert len(calls) == 1  # one round trip
    for rectangle, (pixels, on_cube) in zip(rectangles, blocks, strict=True):
        alone, alone_on_cube = cube.read_pixels(*rectangle)
        assert np.array_equal(pixels, alone, equal_nan=True)
        assert np.array_equal(on_cube, alone_on_cube)

    def runs(rows, first, last):
        column = 8 * 8  # bytes of one cube column: 8 frames x 2 planes x 4 bytes
        return [
            (cube.data_start + (row * 50 + first) * column, (last - first) * column) for row in rows
        ]

    # Each cube row's overlapping or touching runs are one range, read once.
    assert sorted(calls[0]) == sorted(
        runs((20, 21), 3, 9)
        + runs((22, 23, 24), 3, 20)
        + runs((25, 26), 6, 20)
        + runs((37, 38, 39), 47, 50)
    )


def test_runs_a_small_gap_apart_become_one_read(cube_file, monkeypatch):
    cube = open_cube(cube_file)
    cube.table  # noqa: B018
    column = 8 * 8
    calls = recorded_reads(cube, monkeypatch)
    apart = [(30, 31, 0, 5), (30, 31, 9, 12)]  # four columns between them
    cube.read_rectangles(apart, gap=3 * column)
    cube.read_rectangles(apart, gap=4 * column)
    assert [len(ranges) for ranges in calls] == [2, 1]
    merged = cube.read_rectangles(apart, gap=4 * column)
    for rectangle, (pixels, _) in zip(apart, merged, strict=True):
        assert np.array_equal(pixels, cube.read_pixels(*rectangle)[0], equal_nan=True)
