"""`responses` mocks of MAST's endpoints, each matching the exact request the client sends."""

import json
from urllib.parse import parse_qs

import numpy as np
from conftest import load_json
from responses.matchers import query_param_matcher, urlencoded_params_matcher

TESSCUT = "https://mast.stsci.edu/tesscut/api/v0.1/"
RESOLVER = "https://mastresolver.stsci.edu/Santa-war/query"
PORTAL = "https://mast.stsci.edu"


def mock_resolver(rsps, name, fixture):
    """SANTA resolving ``name``, answered with the JSON fixture."""
    rsps.get(
        RESOLVER,
        json=load_json(fixture),
        match=[query_param_matcher({"name": name, "outputFormat": "json", "resolveAll": "false"})],
    )


def mock_zip(rsps, path, params, body, status=200):
    """A TESScut cutout endpoint answering ``body`` to exactly ``params``."""
    rsps.get(
        TESSCUT + path,
        body=body,
        status=status,
        content_type="application/zip",
        match=[query_param_matcher(params)],
    )


def mock_sectors(rsps, params, fixture):
    """TESScut's sector list for exactly ``params``, answered with the JSON fixture."""
    rsps.get(TESSCUT + "sector", json=load_json(fixture), match=[query_param_matcher(params)])


def mashup_matcher(*, ra, dec, radius_deg):
    """Match astroquery's Mashup request for a TIC cone, whatever its cache breaker."""

    def match(request):
        body = request.body if isinstance(request.body, str) else request.body.decode()
        mashup = json.loads(parse_qs(body)["request"][0])
        expected = {"service": "Mast.Catalogs.Tic.Cone", "format": "json", "page": 1}
        cone = [mashup["params"].get(key) for key in ("ra", "dec", "radius")]
        ok = all(mashup.get(k) == v for k, v in expected.items()) and np.allclose(
            cone, [ra, dec, radius_deg], rtol=0, atol=1e-10
        )
        return ok, "" if ok else f"unexpected Mashup request {mashup}"

    return match


def mock_tic(rsps, *, ra, dec, radius_deg, answers=("tic_cone_pi_men.json",)):
    """astroquery's TIC cone: the columns config, then one Mashup answer per poll."""
    rsps.post(
        PORTAL + "/portal/Mashup/Mashup.asmx/columnsconfig",
        json=load_json("tic_columns_config.json"),
        match=[urlencoded_params_matcher({"colConfigId": "Mast.Catalogs.Tic.Cone"})],
    )
    for answer in answers:
        rsps.post(
            PORTAL + "/api/v0/invoke",
            json=load_json(answer),
            match=[mashup_matcher(ra=ra, dec=dec, radius_deg=radius_deg)],
        )
