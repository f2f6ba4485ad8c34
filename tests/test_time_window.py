"""Cutouts of a time window: archives read only those cadences, the service's answers are
cut to the window, and every file is a whole TESScut-format target pixel file of them."""

import io

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.time import Time
from conftest import ANON, PI_MEN, PREFIX
from mast_mocks import TESSCUT, mock_zip
from responses.matchers import query_param_matcher
from synthetic import make_cutout_zip

from astro_tesscut import InvalidQueryError, NoResultsWarning, TessCutClass
from astro_tesscut.cube import cutout as cutout_module
from astro_tesscut.cube.cutout import cutout
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.files import open_fits
from astro_tesscut.targets import TimeWindow, parse_time

SIZE = (9, 7)
PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"


# The argument


def test_a_window_is_two_times_or_two_btjd_numbers():
    assert parse_time((1325.3, 1326.3)) == TimeWindow(1325.3, 1326.3)
    window = parse_time(Time(["2018-07-25T19:00", "2018-07-26T19:00"], scale="tdb"))
    assert window.start == pytest.approx(Time("2018-07-25T19:00", scale="tdb").jd - 2457000)
    assert window.stop - window.start == pytest.approx(1.0)
    in_utc = parse_time((Time("2018-07-25T19:00", scale="utc"), Time(2458326.5, format="jd")))
    assert in_utc.start == pytest.approx(window.start + 69.184 / 86400)  # TT - UTC, as TDB
    assert parse_time(None) is None


@pytest.mark.parametrize(
    ("time", "words"),
    [
        ((1326.3, 1325.3), "time: the start must come before the stop"),
        ((1325.3, np.inf), "time: must be finite numbers"),
        ((1325.3,), "time: must be a (start, stop) pair"),
        ("1325.3 1326.3", "time: must be a (start, stop) pair"),
        ((1325.3, "later"), "time: must be numbers"),
    ],
)
def test_a_bad_window_is_refused_before_any_request(mock_http, tmp_path, time, words):
    with pytest.raises(
        InvalidQueryError, match="^" + words.replace("(", r"\(").replace(")", r"\)")
    ):
        TessCutClass(cache_dir=tmp_path).get_cutouts(coordinates=PI_MEN_TEXT, time=time)
    assert len(mock_http.calls) == 0


# Archives


def window_of(cube, first, stop):
    """A window holding the cube's FFIs ``first`` to ``stop`` (excluded), by their mid-times."""
    times = cube.times
    return (times[first] - 1e-4, times[stop - 1] + 1e-4)


def assert_the_cadences(hdul, whole, cube, first, stop):
    """``hdul`` holds exactly FFIs ``first`` to ``stop`` of ``whole``'s, with its times."""
    rows = hdul["PIXELS"].data
    assert len(rows) == stop - first
    assert np.array_equal(rows["TIME"], whole["PIXELS"].data["TIME"][first:stop])
    assert np.array_equal(rows["CADENCENO"], np.arange(first + 1, stop + 1))
    assert np.array_equal(rows["FLUX"], whole["PIXELS"].data["FLUX"][first:stop], equal_nan=True)
    header = hdul[0].header
    assert header["TSTART"] == cube.column("TSTART")[first]
    assert header["TSTOP"] == cube.column("TSTOP")[stop - 1]
    assert header["TELAPSE"] == pytest.approx(header["TSTOP"] - header["TSTART"])
    assert header["DATE-OBS"] == cube.column("DATE-OBS")[first]
    assert header["DATE-END"] == cube.column("DATE-END")[stop - 1]
    assert hdul["PIXELS"].header["NAXIS2"] == stop - first
    assert hdul["PIXELS"].header["TSTART"] == header["TSTART"]  # inherited alike


@pytest.mark.parametrize("where", ["local", "s3"])
def test_an_archive_cuts_the_cadences_of_the_window(
    cube_file, cube_archive, request, monkeypatch, where
):
    proxy = request.getfixturevalue("proxy") if where == "s3" else None
    archive, options = (cube_archive, None) if where == "local" else (PREFIX, ANON)
    cube = open_cube(cube_file)
    whole = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
    client = TessCutClass(archive=archive, storage_options=options)
    client.get_cutouts(coordinates=PI_MEN_TEXT, size=SIZE, sector=1)  # headers, table
    if proxy is not None:
        proxy.reset()
        # Each cadence's run apart (this small cube's lie closer than a request costs).
        monkeypatch.setattr(cutout_module, "MERGE_GAP", 0)
    (hdul,) = client.get_cutouts(
        coordinates=PI_MEN_TEXT, size=SIZE, sector=1, time=window_of(cube, 2, 5)
    )
    assert_the_cadences(hdul, whole, cube, 2, 5)
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    open_fits(io.BytesIO(buffer.getvalue()), name="window").close()  # checksums hold
    if proxy is not None:  # only the window's cadences were read: 3 of the cube's 8
        # A run of 3 cadences per pixel, some already held from the cube's first read.
        gets = [r for r in proxy.requests if r[0] == "GET"]
        assert 0 < len(gets) <= int(hdul["APERTURE"].data.sum())
        assert {r[-1] for r in gets} == {3 * 8}
        assert proxy.sent() == len(gets) * 3 * 8


def test_a_window_outside_the_sector_is_no_data(cube_archive, tmp_path):
    client, out = TessCutClass(archive=cube_archive), tmp_path / "out"
    with pytest.warns(NoResultsWarning, match="no cadence of tess-s0001-4-2 lies within"):
        assert client.get_cutouts(coordinates=PI_MEN_TEXT, sector=1, time=(1330, 1331)) == []
    with pytest.warns(NoResultsWarning, match="has cadences within BTJD 100.0000"):
        paths = client.download_cutouts(coordinates=PI_MEN_TEXT, time=(100, 101), path=out)
    assert len(paths) == 0
    assert list(out.iterdir()) == []


# The service


def service_answer(n_cadences=12):
    """TESScut's zip of a 9 x 7 cutout of Pi Mensae's sector 1 with ``n_cadences``."""
    tpf = {"sector": 1, "shape": (9, 7), "n_cadences": n_cadences}
    return make_cutout_zip(tpf), fits.open(io.BytesIO(_member(make_cutout_zip(tpf))))


def _member(zipped):
    import zipfile

    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        (name,) = archive.namelist()
        return archive.read(name)


SERVICE_QUERY = {"ra": str(PI_MEN[0]), "dec": str(PI_MEN[1]), "x": "7", "y": "9", "units": "px"}


def test_the_services_answer_is_cut_to_the_window_and_kept_whole(mock_http, tmp_path):
    body, whole = service_answer()
    mock_zip(mock_http, "astrocut", {**SERVICE_QUERY, "sector": "1"}, body)
    time = whole[1].data["TIME"]
    client = TessCutClass(cache_dir=tmp_path / "cache")
    (hdul,) = client.get_cutouts(
        coordinates=PI_MEN_TEXT, size=SIZE, sector=1, time=(time[3] - 1e-3, time[6] + 1e-3)
    )
    rows = hdul["PIXELS"].data
    assert np.array_equal(rows["TIME"], time[3:7])
    assert np.array_equal(rows["FLUX"], whole[1].data["FLUX"][3:7])
    assert np.array_equal(rows["CADENCENO"], whole[1].data["CADENCENO"][3:7])
    header, before = hdul[0].header, whole[0].header
    moved = time[3] - time[0]
    assert header["TSTART"] == pytest.approx(before["TSTART"] + moved)
    assert header["TSTOP"] == pytest.approx(time[6] + (before["TSTOP"] - time[-1]))
    start_shift = (Time(header["DATE-OBS"]) - Time(before["DATE-OBS"])).to_value(u.day)
    assert start_shift == pytest.approx(moved, abs=1e-6)
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    open_fits(io.BytesIO(buffer.getvalue()), name="trimmed").close()  # checksums hold
    # The cache kept the answer whole: another window costs no request.
    (again,) = client.get_cutouts(coordinates=PI_MEN_TEXT, size=SIZE, sector=1, time=(0, 2e4))
    assert len(again["PIXELS"].data) == 12
    assert len(mock_http.calls) == 1


def test_the_service_is_asked_only_for_sectors_whose_dates_reach_the_window(mock_http, tmp_path):
    body, whole = service_answer()
    radius = str(__import__("astro_tesscut").sizes.parse_size(SIZE).radius_deg())
    sectors = {"results": [
        {"sectorName": f"tess-s{s:04d}-4-2", "sector": str(s), "camera": "4", "ccd": "2"}
        for s in (1, 13, 27)
    ]}  # fmt: skip
    mock_http.get(
        TESSCUT + "sector",
        json=sectors,
        match=[query_param_matcher({"ra": str(PI_MEN[0]), "dec": str(PI_MEN[1]),
                                    "radius": radius})],
    )  # fmt: skip
    mock_zip(mock_http, "astrocut", {**SERVICE_QUERY, "sector": "1"}, body)
    time = whole[1].data["TIME"]
    client = TessCutClass(cache_dir=tmp_path / "cache")
    with pytest.warns(NoResultsWarning, match="sector 13 has no cadence within") as caught:
        (hdul,) = client.get_cutouts(coordinates=PI_MEN_TEXT, size=SIZE, time=(time[0], time[2]))
    assert "sector 27" in str(caught[0].message)
    assert len(hdul["PIXELS"].data) == 3
    paths = [call.request.url.split("?")[0] for call in mock_http.calls]
    assert [path.rsplit("/", 1)[-1] for path in paths] == ["sector", "astrocut"]
