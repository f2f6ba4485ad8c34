"""TIC neighbours through astroquery's MAST catalog query, its HTTP exchanges mocked.

astroquery 0.4.x asks MAST for the columns config of ``Mast.Catalogs.Tic.Cone``,
then posts a Mashup request for the cone, polling while MAST says EXECUTING.
"""

import mast_mocks
import numpy as np
import pytest
import responses
from astropy import units as u
from responses.matchers import urlencoded_params_matcher

from astro_tesscut import InvalidQueryError, NoResultsWarning, ServiceError, TessCutClass

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
