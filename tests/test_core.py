"""The public API, `TessCutClass`, against a mocked TESScut service and name resolver.

Every mocked endpoint matches the exact query parameters, so a change in what
the client sends fails a test.
"""

import zipfile

import numpy as np
import pytest
import requests
import responses
from astropy import units as u
from astropy.table import Table
from conftest import load_json
from mast_mocks import RESOLVER, mock_resolver, mock_zip
from responses.matchers import query_param_matcher
from synthetic import (
    PI_MEN_DEC,
    PI_MEN_RA,
    make_cutout_zip,
    make_moving_target_zip,
    make_tpf_file,
    make_zip,
    no_data_json,
)

from astro_tesscut import (
    CorruptResponseError,
    InvalidQueryError,
    NoResultsWarning,
    ResolverError,
    ServiceError,
    conf,
)

SERVER = "https://mast.stsci.edu/tesscut/api/v0.1/"
RA, DEC = "84.2911879979852", "-80.4691197969941"
POSITION = {"ra": RA, "dec": DEC}
CUTOUT_35x45 = {**POSITION, "x": "35", "y": "45", "units": "px"}
# Where MAST's resolver puts Pi Men (tests/data/resolver_pi_men.json): cutouts of it are named so.
RESOLVED_PI_MEN = {"ra": 84.29121827, "dec": -80.46911816}


# query_sectors


def test_query_sectors_by_coordinates(mock_http, client):
    mock_http.get(
        SERVER + "sector",
        json=load_json("sector_pi_men.json"),
        match=[query_param_matcher({**POSITION, "radius": "0.0"})],
    )
    sectors = client.query_sectors(coordinates=f"{RA} {DEC}")
    assert sectors.colnames == ["sectorName", "sector", "camera", "ccd"]
    assert len(sectors) == 20
    assert list(sectors[0]) == ["tess-s0001-4-2", 1, 4, 2]
    assert list(sectors["sector"][:5]) == [1, 4, 8, 11, 12]
    assert sectors["sector"].dtype.kind == "i"
    assert sectors["sectorName"].dtype.kind == "U"
    assert 35 in sectors["sector"]


def test_query_sectors_unpadded_and_unsorted(mock_http, client):
    mock_http.get(
        SERVER + "sector",
        json=load_json("sector_unpadded.json"),
        match=[query_param_matcher({**POSITION, "radius": str(5 / 60)})],
    )
    sectors = client.query_sectors(coordinates=(float(RA), float(DEC)), radius=5 * u.arcmin)
    assert list(sectors["sector"]) == [1, 4, 13]
    assert list(sectors["sectorName"]) == ["tess-s0001-4-2", "tess-s0004-4-3", "tess-s0013-3-3"]


def test_query_sectors_by_name_resolves_once(mock_http, client):
    mock_resolver(mock_http, "TIC 261136679", "resolver_tic_261136679.json")
    mock_http.get(
        SERVER + "sector",
        json=load_json("sector_pi_men.json"),
        match=[query_param_matcher({**POSITION, "radius": "0.0"})],
    )
    first = client.query_sectors(objectname="TIC 261136679")
    second = client.query_sectors(objectname="TIC 261136679")
    assert len(first) == len(second) == 20
    assert [call.request.url.split("?")[0] for call in mock_http.calls] == [
        RESOLVER,
        SERVER + "sector",
        SERVER + "sector",
    ]


def test_query_sectors_of_a_moving_target(mock_http, client):
    mock_http.get(
        SERVER + "moving_target/sector",
        json=load_json("moving_target_sector_ceres.json"),
        match=[query_param_matcher({"obj_id": "Ceres", "obj_type": "majorbody"})],
    )
    sectors = client.query_sectors(objectname="Ceres", moving_target=True, mt_type="majorbody")
    assert list(sectors["ccd"]) == [3, 4]


def test_query_sectors_moving_target_without_type(mock_http, client):
    mock_http.get(
        SERVER + "moving_target/sector",
        json=load_json("moving_target_sector_ceres.json"),
        match=[query_param_matcher({"obj_id": "1P/Halley"})],
    )
    assert len(client.query_sectors(objectname="1P/Halley", moving_target=True)) == 2


def test_query_sectors_nothing_observed(mock_http, client):
    mock_http.get(
        SERVER + "sector",
        json=load_json("sector_empty.json"),
        match=[query_param_matcher({"ra": "10.0", "dec": "20.0", "radius": "0.0"})],
    )
    with pytest.warns(NoResultsWarning, match="no TESS sector observed"):
        sectors = client.query_sectors(coordinates="10 20")
    assert len(sectors) == 0
    assert sectors.colnames == ["sectorName", "sector", "camera", "ccd"]
    assert sectors["sector"].dtype.kind == "i"


def test_query_sectors_follows_conf_server(mock_http, client):
    mock_http.get(
        "http://127.0.0.1:8321/tesscut/sector",
        json=load_json("sector_unpadded.json"),
        match=[query_param_matcher({"ra": "10.0", "dec": "20.0", "radius": "0.0"})],
    )
    with conf.set_temp("server", "http://127.0.0.1:8321/tesscut"):
        assert len(client.query_sectors(coordinates="10 20")) == 3


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"msg": "Invalid ra value"}, "Invalid ra value"),
        (500, "<html><body><h1>Internal Server Error</h1></body></html>", "Internal Server Error"),
        (504, "", "Gateway Timeout"),
    ],
)
def test_query_sectors_http_error(mock_http, client, status, body, message):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    mock_http.get(
        SERVER + "sector",
        status=status,
        match=[query_param_matcher({"ra": "10.0", "dec": "20.0", "radius": "0.0"})],
        **kwargs,
    )
    with pytest.raises(ServiceError, match=message) as info:
        client.query_sectors(coordinates="10 20")
    assert info.value.status_code == status
    assert message in info.value.message
    assert "sector?ra=10.0" in info.value.url


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (requests.ConnectTimeout("slow"), "no answer within 600 s"),
        (requests.ConnectionError("refused"), "the request failed: refused"),
    ],
)
def test_query_sectors_network_fault(mock_http, client, fault, words):
    mock_http.get(
        SERVER + "sector",
        body=fault,
        match=[query_param_matcher({"ra": "10.0", "dec": "20.0", "radius": "0.0"})],
    )
    with pytest.raises(ServiceError, match=words) as info:
        client.query_sectors(coordinates="10 20")
    assert info.value.status_code is None


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        '{"results": [{"sector": "1"}]}',
        '{"results": [{"sectorName": 1, "sector": "one", "camera": "4", "ccd": "2"}]}',
    ],
)
def test_query_sectors_unexpected_answer(mock_http, client, body):
    mock_http.get(
        SERVER + "sector",
        body=body,
        match=[query_param_matcher({"ra": "10.0", "dec": "20.0", "radius": "0.0"})],
    )
    with pytest.raises(CorruptResponseError):
        client.query_sectors(coordinates="10 20")


def test_unknown_name(mock_http, client):
    mock_resolver(mock_http, "Not A Star", "resolver_unknown.json")
    with pytest.raises(ResolverError, match="knows no position for 'Not A Star'"):
        client.query_sectors(objectname="Not A Star")


# get_cutouts


def test_get_cutouts_example(mock_http, client):
    mock_zip(
        mock_http,
        "astrocut",
        {**CUTOUT_35x45, "sector": "1"},
        make_cutout_zip({"sector": 1, "shape": (45, 35)}),
    )
    (hdul,) = client.get_cutouts(coordinates=f"{RA} {DEC}", size=(45, 35), sector=1)
    assert hdul.filename() == "tess-s0001-4-2_84.291188_-80.469120_35x45_astrocut.fits"
    assert hdul["PIXELS"].data["FLUX"].shape[1:] == (45, 35)
    assert hdul[0].header["SECTOR"] == 1


def test_get_cutouts_every_sector_sorted(mock_http, one_request, client):
    mock_zip(
        mock_http,
        "astrocut",
        {**POSITION, "x": "10", "y": "10", "units": "px"},
        make_cutout_zip(
            {"sector": 13, "camera": 3, "ccd": 3, "shape": (10, 10)},
            {"sector": 1, "shape": (10, 10)},
            {"sector": 4, "camera": 4, "ccd": 3, "shape": (10, 10)},
        ),
    )
    cutouts = client.get_cutouts(coordinates=f"{RA} {DEC}", size=10)
    assert [c[0].header["SECTOR"] for c in cutouts] == [1, 4, 13]


def test_get_cutouts_by_name(mock_http, client):
    mock_resolver(mock_http, "Pi Men", "resolver_pi_men.json")
    mock_zip(
        mock_http,
        "astrocut",
        {
            "ra": "84.29121827",
            "dec": "-80.46911816",
            "x": "2.0",
            "y": "1.5",
            "units": "arcmin",
            "sector": "1",
        },
        make_cutout_zip({"sector": 1, "shape": (5, 6), **RESOLVED_PI_MEN}),
    )
    cutouts = client.get_cutouts(objectname="Pi Men", size=[1.5, 2] * u.arcmin, sector=1)
    assert len(cutouts) == 1


def test_get_cutouts_moving_target(mock_http, client):
    mock_zip(
        mock_http,
        "moving_target/astrocut",
        {
            "obj_id": "Ceres",
            "obj_type": "majorbody",
            "x": "5",
            "y": "5",
            "units": "px",
            "sector": "29",
        },
        make_moving_target_zip("Ceres", sector=29, camera=1, ccd=4),
    )
    (hdul,) = client.get_cutouts(
        objectname="Ceres", moving_target=True, mt_type="majorbody", sector=29
    )
    assert hdul[0].header["SECTOR"] == 29


def test_get_cutouts_no_data(mock_http, client):
    mock_http.get(
        SERVER + "astrocut",
        body=no_data_json("No data for these coordinates"),
        content_type="application/json",
        match=[query_param_matcher({**CUTOUT_35x45, "sector": "2"})],
    )
    with pytest.warns(NoResultsWarning, match="No data for these coordinates"):
        assert client.get_cutouts(coordinates=f"{RA} {DEC}", size=(45, 35), sector=2) == []


def test_get_cutouts_http_error(mock_http, one_request, client):
    mock_http.get(
        SERVER + "astrocut",
        status=503,
        json={"msg": "Service overloaded"},
        match=[query_param_matcher({**CUTOUT_35x45})],
    )
    with pytest.raises(ServiceError, match="Service overloaded") as info:
        client.get_cutouts(coordinates=f"{RA} {DEC}", size=(45, 35))
    assert info.value.status_code == 503


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"../evil.fits": make_tpf_file()[1]}, "not a plain file name"),
        ({"tess-s0001-4-2_x_astrocut.fits": b"SIMPLE  = junk" * 300}, "not a readable FITS"),
    ],
)
def test_get_cutouts_bad_archive(mock_http, one_request, client, members, words):
    mock_zip(mock_http, "astrocut", CUTOUT_35x45, make_zip(members))
    with pytest.raises(CorruptResponseError, match=words):
        client.get_cutouts(coordinates=f"{RA} {DEC}", size=(45, 35))


# download_cutouts


def test_download_cutouts_writes_fits_files(mock_http, one_request, client, tmp_path):
    mock_resolver(mock_http, "Pi Men", "resolver_pi_men.json")
    mock_zip(
        mock_http,
        "astrocut",
        {"ra": "84.29121827", "dec": "-80.46911816", "x": "10", "y": "10", "units": "px"},
        make_cutout_zip(
            {"sector": 4, "camera": 4, "ccd": 3, "shape": (10, 10), **RESOLVED_PI_MEN},
            {"sector": 1, "shape": (10, 10), **RESOLVED_PI_MEN},
        ),
    )
    out = tmp_path / "cutouts" / "pi_men"
    paths = client.download_cutouts(objectname="Pi Men", size=10, path=out)
    assert isinstance(paths, Table)
    assert paths.colnames == ["Local Path"]
    names = [p.split("/")[-1][:14] for p in paths["Local Path"]]
    assert names == ["tess-s0001-4-2", "tess-s0004-4-3"]
    assert sorted(str(p) for p in out.iterdir()) == list(paths["Local Path"])
    from astropy.io import fits

    with fits.open(paths["Local Path"][0]) as hdul:
        assert np.isfinite(hdul["PIXELS"].data["FLUX"]).all()


def test_download_cutouts_keeps_the_zip(mock_http, client, tmp_path):
    body = make_cutout_zip({"sector": 1, "shape": (45, 35)})
    mock_zip(mock_http, "astrocut", {**CUTOUT_35x45, "sector": "1"}, body)
    paths = client.download_cutouts(
        coordinates=f"{RA} {DEC}", size=(45, 35), sector=1, path=tmp_path, inflate=False
    )
    (path,) = paths["Local Path"]
    assert path == str(tmp_path / "tesscut_84.291188_-80.469120_35x45_s0001.zip")
    with open(path, "rb") as saved:
        assert saved.read() == body
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0].startswith("tess-s0001-4-2_")
    assert [p.name for p in tmp_path.iterdir()] == [path.split("/")[-1]]


def test_download_cutouts_no_data(mock_http, one_request, client, tmp_path):
    mock_http.get(
        SERVER + "astrocut",
        body=no_data_json(),
        content_type="application/json",
        match=[query_param_matcher(CUTOUT_35x45)],
    )
    with pytest.warns(NoResultsWarning, match="no cutout data"):
        paths = client.download_cutouts(coordinates=f"{RA} {DEC}", size=(45, 35), path=tmp_path)
    assert len(paths) == 0
    assert paths.colnames == ["Local Path"]
    assert list(tmp_path.iterdir()) == []


def _user_file(directory):
    name, _ = make_tpf_file(sector=1, shape=(45, 35))
    path = directory / name
    path.write_bytes(b"the user's own copy")
    return path


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, b"Internal Server Error", ServiceError),
        (200, make_cutout_zip({"sector": 1, "shape": (45, 35)})[:-100], CorruptResponseError),
        (
            200,
            make_zip(
                {
                    make_tpf_file(sector=1, shape=(45, 35))[0]: make_tpf_file(
                        sector=1, shape=(45, 35)
                    )[1][:-6000]
                }
            ),
            CorruptResponseError,
        ),
        (200, make_zip({"../../escaped.fits": make_tpf_file()[1]}), CorruptResponseError),
    ],
    ids=["http-500", "truncated-zip", "truncated-fits", "escaping-name"],
)
def test_failed_download_leaves_nothing_and_keeps_user_files(
    mock_http, client, tmp_path, status, body, error
):
    out = tmp_path / "out"
    out.mkdir()
    precious = _user_file(out)
    mock_zip(mock_http, "astrocut", {**CUTOUT_35x45, "sector": "1"}, body, status=status)
    with pytest.raises(error):
        client.download_cutouts(coordinates=f"{RA} {DEC}", size=(45, 35), sector=1, path=out)
    assert list(out.iterdir()) == [precious]
    assert precious.read_bytes() == b"the user's own copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_download_replaces_a_file_only_with_a_good_one(mock_http, client, tmp_path):
    old = _user_file(tmp_path)
    mock_zip(
        mock_http,
        "astrocut",
        {**CUTOUT_35x45, "sector": "1"},
        make_cutout_zip({"sector": 1, "shape": (45, 35)}),
    )
    (path,) = client.download_cutouts(
        coordinates=f"{RA} {DEC}", size=(45, 35), sector=1, path=tmp_path
    )["Local Path"]
    assert path == str(old)
    assert old.read_bytes().startswith(b"SIMPLE  =")


# bad input: a clear error, and no request


BAD_INPUTS = [
    ({"coordinates": "84.3 95"}, InvalidQueryError, "^coordinates: .*Dec must be within"),
    ({"coordinates": (np.nan, 3.0)}, InvalidQueryError, "^coordinates: .*finite"),
    ({"coordinates": "somewhere"}, InvalidQueryError, "^coordinates: cannot parse"),
    ({}, InvalidQueryError, "^coordinates, objectname: give one"),
    ({"coordinates": "1 2", "objectname": "Pi Men"}, InvalidQueryError, "not both"),
    (
        {"coordinates": "1 2", "moving_target": True},
        InvalidQueryError,
        "^coordinates: cannot be used with moving_target",
    ),
    (
        {"objectname": "Ceres", "moving_target": True, "mt_type": "asteroid"},
        InvalidQueryError,
        "^mt_type",
    ),
]
CUTOUT_BAD_INPUTS = [
    *BAD_INPUTS,
    ({"coordinates": "1 2", "size": 0}, InvalidQueryError, "^size: .*positive"),
    ({"coordinates": "1 2", "size": -3}, InvalidQueryError, "^size: .*positive"),
    ({"coordinates": "1 2", "size": np.inf}, InvalidQueryError, "^size: .*positive"),
    ({"coordinates": "1 2", "size": "big"}, TypeError, "^size: must be numeric"),
    ({"coordinates": "1 2", "size": 3 * u.kg}, InvalidQueryError, "^size: unit kg"),
    ({"coordinates": "1 2", "sector": 0}, InvalidQueryError, "^sector: must be a positive"),
    ({"coordinates": "1 2", "sector": 2.5}, TypeError, "^sector: must be a positive"),
    ({"coordinates": "1 2", "sector": "one"}, TypeError, "^sector: must be a positive"),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        *BAD_INPUTS,
        ({"coordinates": "1 2", "radius": -1}, InvalidQueryError, "^radius: "),
        (
            {"objectname": "Ceres", "moving_target": True, "radius": 1},
            InvalidQueryError,
            "^radius: ",
        ),
    ],
)
def test_query_sectors_bad_input_sends_nothing(client, kwargs, error, words):
    with responses.RequestsMock() as rsps:
        with pytest.raises(error, match=words):
            client.query_sectors(**kwargs)
        assert len(rsps.calls) == 0


@pytest.mark.parametrize(("kwargs", "error", "words"), CUTOUT_BAD_INPUTS)
def test_get_cutouts_bad_input_sends_nothing(client, kwargs, error, words):
    with responses.RequestsMock() as rsps:
        with pytest.raises(error, match=words):
            client.get_cutouts(**kwargs)
        assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        *CUTOUT_BAD_INPUTS,
        ({"coordinates": "1 2", "inflate": "no"}, TypeError, "^inflate: "),
    ],
)
def test_download_cutouts_bad_input_sends_nothing(client, tmp_path, kwargs, error, words):
    with responses.RequestsMock() as rsps:
        with pytest.raises(error, match=words):
            client.download_cutouts(path=tmp_path / "out", **kwargs)
        assert len(rsps.calls) == 0
    assert not (tmp_path / "out").exists()


def test_download_into_a_file_path_sends_nothing(client, tmp_path):
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    with responses.RequestsMock() as rsps:
        with pytest.raises(InvalidQueryError, match="^path: .* is not a directory"):
            client.download_cutouts(coordinates="1 2", path=not_a_dir)
        assert len(rsps.calls) == 0


def test_arguments_are_keyword_only(client):
    with pytest.raises(TypeError):
        client.query_sectors("84.3 -80.5")
    with pytest.raises(TypeError):
        client.get_cutouts("84.3 -80.5", 10)


def test_synthetic_position_is_pi_men():
    assert (float(RA), float(DEC)) == (PI_MEN_RA, PI_MEN_DEC)
