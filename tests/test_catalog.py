"""TIC neighbours through MAST's portal API, its HTTP exchanges mocked.

The client asks what astroquery 0.4.x asks (the mocks match astroquery's
requests): the columns config of ``Mast.Catalogs.Tic.Cone``, then a Mashup
request for the cone, polling while MAST says EXECUTING, page by page; all
through the service's own session, deadline and retries.
"""

import copy
import json
from urllib.parse import parse_qs

import mast_mocks
import numpy as np
import pytest
import responses
from astropy import units as u
from conftest import load_json
from responses.matchers import header_matcher, urlencoded_params_matcher

from astro_tesscut import (
    CorruptResponseError,
    InvalidQueryError,
    NoResultsWarning,
    ServiceError,
    TessCutClass,
    conf,
)
from astro_tesscut.catalog import TicCatalog

MAST = mast_mocks.PORTAL
RA, DEC = 84.2911879979852, -80.4691197969941


def mock_tic(rsps, *, ra=RA, dec=DEC, radius_deg=5 / 60, answers=("tic_cone_pi_men.json",)):
    mast_mocks.mock_tic(rsps, ra=ra, dec=dec, radius_deg=radius_deg, answers=answers)


def test_query_tic_by_tic_id(mock_http):
    mast_mocks.mock_resolver(mock_http, "TIC 261136679", "resolver_tic_261136679.json")
    mock_tic(mock_http)
    stars = TessCutClass().query_tic(objectname="TIC 261136679")
    assert list(stars["ID"]) == ["261136679", "261139071", "724137557", "724137554", "724137558"]
    for column in ("ID", "Tmag", "Jmag", "ra", "dec", "objType", "distance"):
        assert column in stars.colnames
    assert stars["distance"].unit == u.arcsec
    assert stars["distance"][0] < 1e-6
    assert np.all(np.diff(stars["distance"]) > 0)
    np.testing.assert_allclose(stars["distance"], stars["dstArcSec"], atol=1e-3)
    assert stars["Tmag"][0] == pytest.approx(5.1054)
    assert np.isnan(stars["Jmag"][2])  # no J magnitude for the faint ones


def test_query_tic_by_coordinates_and_radius(mock_http):
    mock_tic(mock_http, ra=84.3, dec=-80.5, radius_deg=2 / 60)
    stars = TessCutClass().query_tic(coordinates="84.3 -80.5", radius=2 * u.arcmin)
    assert len(stars) == 5
    assert stars["distance"].quantity[0] > 100 * u.arcsec  # from the centre given


def test_query_tic_waits_while_mast_is_executing(mock_http):
    mock_tic(mock_http, answers=("tic_cone_executing.json", "tic_cone_pi_men.json"))
    stars = TessCutClass().query_tic(coordinates=(RA, DEC))
    assert len(stars) == 5
    assert sum("/api/v0/invoke" in call.request.url for call in mock_http.calls) == 2


def test_query_tic_empty_cone(mock_http):
    mock_tic(mock_http, ra=10.0, dec=20.0, radius_deg=1 / 3600, answers=("tic_cone_empty.json",))
    with pytest.warns(NoResultsWarning, match="no TIC entry"):
        stars = TessCutClass().query_tic(coordinates="10 20", radius=1 * u.arcsec)
    assert len(stars) == 0
    assert "distance" in stars.colnames


def test_query_tic_http_error(mock_http):
    mock_http.post(
        MAST + "/portal/Mashup/Mashup.asmx/columnsconfig",
        status=503,
        body="Service Unavailable",
        match=[urlencoded_params_matcher({"colConfigId": "Mast.Catalogs.Tic.Cone"})],
    )
    with pytest.raises(ServiceError, match="the TIC query failed") as info:
        TessCutClass().query_tic(coordinates="10 20")
    assert info.value.status_code == 503


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"coordinates": "10 20", "radius": 0}, "^radius: must be larger than zero"),
        ({"coordinates": "10 20", "radius": -1}, "^radius: "),
        ({"coordinates": "10 95"}, "^coordinates: "),
        ({}, "^coordinates, objectname: give one"),
    ],
)
def test_query_tic_bad_input_sends_nothing(kwargs, words):
    with responses.RequestsMock() as rsps:
        with pytest.raises(InvalidQueryError, match=words):
            TessCutClass().query_tic(**kwargs)
        assert len(rsps.calls) == 0


# The requests themselves, byte for byte where MAST's documentation and astroquery agree


INVOKE = MAST + "/api/v0/invoke"
COLUMNS = MAST + "/portal/Mashup/Mashup.asmx/columnsconfig"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"}


def mashup_requests(rsps):
    """The Mashup requests the client posted, decoded, in order."""
    bodies = [call.request.body for call in rsps.calls if call.request.url == INVOKE]
    return [json.loads(parse_qs(body)["request"][0]) for body in bodies]


def test_query_tic_sends_what_astroquery_sends(mock_http):
    mock_tic(mock_http)
    TessCutClass().query_tic(coordinates=(RA, DEC))
    columns, invoke = mock_http.calls
    assert columns.request.body == "colConfigId=Mast.Catalogs.Tic.Cone"
    for call in (columns, invoke):
        assert call.request.method == "POST"
        for name, value in FORM_HEADERS.items():
            assert call.request.headers[name] == value
        assert call.request.headers["User-Agent"].startswith("astro_tesscut/")
    # request=<the JSON, percent-encoded as urllib.parse.quote does it>
    assert invoke.request.body.startswith("request=%7B%22service%22%3A%20%22Mast.Catalogs.Tic.Cone")
    (mashup,) = mashup_requests(mock_http)
    assert list(mashup) == ["service", "params", "format", "pagesize", "page", "cacheBreaker"]
    assert mashup["params"] == {"ra": RA, "dec": DEC, "radius": pytest.approx(5 / 60)}
    assert (mashup["format"], mashup["page"]) == ("json", 1)
    assert mashup["pagesize"] == TicCatalog.page_size


def test_a_poll_asks_the_same_again_after_a_wait(mock_http, instant_retries):
    mock_tic(mock_http, answers=("tic_cone_executing.json",) * 3 + ("tic_cone_pi_men.json",))
    stars = TessCutClass().query_tic(coordinates=(RA, DEC))
    assert len(stars) == 5
    first, *again = mashup_requests(mock_http)
    assert len(again) == 3
    assert all(poll == first for poll in again)  # its cacheBreaker included
    assert len(instant_retries) == 3  # waits between polls, as between retries
    assert all(0 <= wait <= 5 for wait in instant_retries)


def test_a_poll_gives_up_after_conf_timeout(mock_http, instant_retries):
    mock_http.post(COLUMNS, json=load_json("tic_columns_config.json"))
    mock_http.post(INVOKE, json=load_json("tic_cone_executing.json"))
    with (
        conf.set_temp("timeout", 10),
        pytest.raises(ServiceError, match=r"still running the TIC query after 10 s \(conf.timeout"),
    ):
        TessCutClass().query_tic(coordinates=(RA, DEC))
    assert sum(instant_retries) <= 10  # the waits stay within the time given
    assert 1 < len(mashup_requests(mock_http)) < 100


def test_every_page_is_asked_for(mock_http):
    full = load_json("tic_cone_pi_men.json")

    def page(number, rows):
        answer = copy.deepcopy(full)
        answer["data"] = rows
        answer["paging"] = {**answer["paging"], "page": number, "pagesFiltered": 2}
        return answer

    mock_http.post(COLUMNS, json=load_json("tic_columns_config.json"))
    mock_http.post(INVOKE, json=page(1, full["data"][:2]))
    mock_http.post(INVOKE, json=page(2, full["data"][2:]))
    stars = TessCutClass().query_tic(coordinates=(RA, DEC))
    assert sorted(stars["ID"]) == sorted(row["ID"] for row in full["data"])
    first, second = mashup_requests(mock_http)
    assert (first["page"], second["page"]) == (1, 2)
    assert {**second, "page": 1} == first


def test_too_many_pages_are_refused_before_asking(mock_http):
    answer = load_json("tic_cone_pi_men.json")
    answer["paging"]["pagesFiltered"] = TicCatalog.max_pages + 1
    mock_http.post(COLUMNS, json=load_json("tic_columns_config.json"))
    mock_http.post(INVOKE, json=answer)
    with pytest.raises(ServiceError, match="more than 1,000,000 TIC entries.*smaller radius"):
        TessCutClass().query_tic(coordinates=(RA, DEC))
    assert len(mashup_requests(mock_http)) == 1


def test_a_503_is_retried(mock_http, instant_retries):
    mock_http.post(COLUMNS, status=503, body="busy")
    mock_http.post(COLUMNS, json=load_json("tic_columns_config.json"))
    mock_http.post(INVOKE, status=503, body="busy", headers={"Retry-After": "2"})
    mock_http.post(INVOKE, json=load_json("tic_cone_pi_men.json"))
    assert len(TessCutClass().query_tic(coordinates=(RA, DEC))) == 5
    assert len(instant_retries) == 2
    assert instant_retries[1] == 2.0  # its Retry-After
    assert len(mashup_requests(mock_http)) == 2


def test_the_column_config_is_asked_for_once_per_client(mock_http):
    mock_tic(mock_http, answers=("tic_cone_pi_men.json", "tic_cone_pi_men.json"))
    client = TessCutClass()
    client.query_tic(coordinates=(RA, DEC))
    client.query_tic(coordinates=(RA, DEC))
    assert sum(call.request.url == COLUMNS for call in mock_http.calls) == 1


def test_mast_error_status_is_one_line_and_not_retried(mock_http):
    mock_http.post(COLUMNS, json=load_json("tic_columns_config.json"))
    mock_http.post(
        INVOKE,
        json={"status": "ERROR", "msg": "Bad\n\x1b[31mcone", "data": [], "fields": []},
        match=[header_matcher(FORM_HEADERS)],
    )
    with pytest.raises(ServiceError, match=r"the TIC query failed: MAST's answer: Bad \[31mcone$"):
        TessCutClass().query_tic(coordinates=(RA, DEC))
    assert len(mashup_requests(mock_http)) == 1


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ([1, 2], "status is None"),
        ({"status": "DONE"}, "status is 'DONE'"),
        ({"status": "COMPLETE", "fields": [{"name": "ra", "type": "float"}]}, "shape .*data"),
        ({"status": "COMPLETE", "fields": [], "data": [1]}, "not a list of rows"),
        (
            {
                "status": "COMPLETE",
                "fields": [{"name": "ra", "type": "float"}],
                "data": [{"ra": "x"}],
            },
            "unexpected shape",
        ),
        ({"status": "COMPLETE", "fields": [], "data": [], "paging": {"pages": 1}}, "paging"),
    ],
    ids=["list", "status", "no-data", "rows", "value", "paging"],
)
def test_an_answer_of_another_shape_is_corrupt(mock_http, answer, words):
    mock_http.post(COLUMNS, json=load_json("tic_columns_config.json"))
    mock_http.post(INVOKE, json=answer)
    with pytest.raises(CorruptResponseError, match=f"the TIC query failed: .*{words}"):
        TessCutClass().query_tic(coordinates=(RA, DEC))
    assert len(mashup_requests(mock_http)) == 1
