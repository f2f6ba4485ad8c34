"""astroquery's ``Tesscut`` calls, unchanged, on `TessCutClass`.

The first tests port astroquery 0.4.11's own (``astroquery/mast/tests/
test_mast.py``: ``test_tesscut_get_sector``, ``test_tesscut_download_cutouts``,
``test_tesscut_get_cutouts``), with the same targets and calls; where
astroquery's mocks answer whatever is asked, these match each request's
exact parameters. The rest cover what astroquery 0.4.11 and 0.4.12 add:
``object_name``, ``resolver``, the deprecated ``product``, ``verbose``, lists
of sectors and the ``small_body`` spelling.
"""

import os
import subprocess
import sys

import pytest
import responses
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyDeprecationWarning
from conftest import load_json
from mast_mocks import RESOLVER, TESSCUT, mock_resolver, mock_zip
from responses.matchers import query_param_matcher
from synthetic import make_cutout_zip, make_moving_target_zip, no_data_json

from astro_tesscut import (
    InvalidQueryError,
    InvalidQueryTypeError,
    NoResultsWarning,
    PartialResultError,
    ResolverError,
    ServiceError,
    TessCutWarning,
)

# astroquery's test targets and answers (its data/tess_sector.json, data/resolver.json).
SECTOR_COORD = SkyCoord(324.24368, -27.01029, unit="deg")
SECTOR_POSITION = {"ra": "324.24368", "dec": "-27.01029"}
ONE_SECTOR = {
    "results": [{"sectorName": "tess-s0001-1-3", "sector": "1", "camera": "1", "ccd": "3"}]
}
CUTOUT_COORD = SkyCoord(107.27, -70.0, unit="deg")
CUTOUT_POSITION = {"ra": "107.27", "dec": "-70.0"}
FIVE_PX = {"x": "5", "y": "5", "units": "px"}
M103 = {
    "resolvedCoordinate": [
        {"searchString": "m103", "resolver": "SIMBAD", "ra": 23.339, "decl": 60.659},
        {"searchString": "m103", "resolver": "NED", "ra": 23.34086, "decl": 60.658},
    ]
}
M103_SIMBAD = {"ra": "23.339", "dec": "60.659"}
M103_NED = {"ra": "23.34086", "dec": "60.658"}
POSITION_TIC = {"ra": "84.2911879979852", "dec": "-80.4691197969941"}


def resolver_params(name, **extra):
    return {"name": name, "outputFormat": "json", "resolveAll": "false", **extra}


def mock_santa(rsps, name, answer, **extra):
    """SANTA answering ``answer`` to exactly these parameters."""
    rsps.get(RESOLVER, json=answer, match=[query_param_matcher(resolver_params(name, **extra))])


def mock_sector_list(rsps, params, answer=ONE_SECTOR, path="sector"):
    rsps.get(TESSCUT + path, json=answer, match=[query_param_matcher(params)])


def cutout_zip(sector=1, camera=4, ccd=3, position=CUTOUT_POSITION):
    """TESScut's zip of one 5 x 5 cutout around a position (astroquery's cutout target by
    default; the query parameters of the request it answers)."""
    return make_cutout_zip(
        {
            "sector": sector,
            "camera": camera,
            "ccd": ccd,
            "ra": float(position["ra"]),
            "dec": float(position["dec"]),
            "shape": (5, 5),
        }
    )


def assert_one_sector(table):
    assert isinstance(table, Table)
    assert len(table) == 1
    assert list(table[0]) == ["tess-s0001-1-3", 1, 1, 3]


# astroquery's names: only the import line changes.


def test_astroquery_names_are_the_same_objects():
    import astro_tesscut
    from astro_tesscut import TessCut, Tesscut, TessCutClass, TesscutClass

    assert Tesscut is TessCut
    assert TesscutClass is TessCutClass
    assert isinstance(Tesscut, TesscutClass)
    assert {"Tesscut", "TesscutClass"} <= set(astro_tesscut.__all__)
    assert {"Tesscut", "TesscutClass"} <= set(dir(astro_tesscut))


def test_astroquery_names_load_lazily():
    code = (
        "import sys, astro_tesscut; "
        "print('astro_tesscut.core' in sys.modules); "
        "from astro_tesscut import Tesscut, TesscutClass, TessCut; "
        "print('astro_tesscut.core' in sys.modules, Tesscut is TessCut)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True", "True"]


def test_astroquery_import_line_is_the_only_change(mock_http):
    # from astroquery.mast import Tesscut
    from astro_tesscut import Tesscut

    mock_sector_list(mock_http, {**SECTOR_POSITION, "radius": "0.0"})
    assert_one_sector(Tesscut.get_sectors(coordinates=SECTOR_COORD))


# astroquery 0.4.11: test_tesscut_get_sector


def test_get_sectors_by_coordinates(mock_http, client):
    mock_sector_list(mock_http, {**SECTOR_POSITION, "radius": "0.0"})
    assert_one_sector(client.get_sectors(coordinates=SECTOR_COORD))


def test_get_sectors_with_a_radius_in_degrees(mock_http, client):
    mock_sector_list(mock_http, {**SECTOR_POSITION, "radius": "0.2"})
    assert_one_sector(client.get_sectors(coordinates=SECTOR_COORD, radius=0.2))


def test_get_sectors_radius_as_astroquery_defaults_it(mock_http, client):
    mock_sector_list(mock_http, {**SECTOR_POSITION, "radius": "0.0"})
    assert_one_sector(client.get_sectors(coordinates=SECTOR_COORD, radius=0 * u.deg))


def test_get_sectors_by_object_name(mock_http, client):
    mock_santa(mock_http, "M103", M103)
    mock_sector_list(mock_http, {**M103_SIMBAD, "radius": "0.0"})
    assert_one_sector(client.get_sectors(objectname="M103"))


def test_get_sectors_of_a_moving_target_small_body(mock_http, client):
    mock_sector_list(
        mock_http, {"obj_id": "Ceres", "obj_type": "smallbody"}, path="moving_target/sector"
    )
    table = client.get_sectors(objectname="Ceres", moving_target=True, mt_type="small_body")
    assert_one_sector(table)


def test_get_sectors_is_query_sectors(mock_http, client):
    for _ in range(2):
        mock_sector_list(
            mock_http, {**SECTOR_POSITION, "radius": "0.0"}, load_json("sector_unpadded.json")
        )
    got = client.get_sectors(coordinates=SECTOR_COORD)
    expected = client.query_sectors(coordinates=SECTOR_COORD)
    assert got.colnames == expected.colnames
    assert [tuple(row) for row in got] == [tuple(row) for row in expected]
    assert list(got["sector"]) == [1, 4, 13]  # sorted, unlike TESScut's answer


def test_get_sectors_ignores_radius_for_moving_targets_as_astroquery(mock_http, client):
    mock_sector_list(
        mock_http, {"obj_id": "Ceres", "obj_type": "majorbody"}, path="moving_target/sector"
    )
    with pytest.warns(TessCutWarning, match="^radius: not used with moving_target=True; 0.2"):
        table = client.get_sectors(
            objectname="Ceres", moving_target=True, mt_type="major_body", radius=0.2
        )
    assert_one_sector(table)


SECTOR_BAD_CALLS = [
    (
        {"objectname": "Ceres", "moving_target": True, "coordinates": SECTOR_COORD},
        InvalidQueryError,
        "^coordinates: cannot be used with moving_target=True",
    ),
    ({"moving_target": True}, InvalidQueryError, "^objectname: required with moving_target"),
    (
        {"objectname": "Ceres", "coordinates": SECTOR_COORD},
        InvalidQueryError,
        "^coordinates, objectname: give one of them, not both",
    ),
    (
        {"objectname": "M101", "product": "spooc"},
        InvalidQueryError,
        "^product: only 'SPOC' .*TICA cutouts were withdrawn",
    ),
    (
        {"objectname": "M101", "product": "TICA"},
        InvalidQueryError,
        "^product: only 'SPOC' .*got 'TICA': TICA cutouts were withdrawn",
    ),
    ({"objectname": "M101", "product": 1}, InvalidQueryTypeError, "^product: only 'SPOC'"),
    (
        {"objectname": "M101", "resolver": "VizieR"},
        InvalidQueryError,
        "^resolver: must be one of 'SIMBAD', 'NED', or None",
    ),
    ({"objectname": "M101", "resolver": 3}, InvalidQueryTypeError, "^resolver: must be one of"),
    (
        {"objectname": "M101", "object_name": "M101"},
        InvalidQueryError,
        "^objectname, object_name: the same argument",
    ),
    (
        {"object_name": "Ceres", "coordinates": SECTOR_COORD},
        InvalidQueryError,
        "^coordinates, object_name: give one of them, not both",
    ),
    ({"object_name": " "}, InvalidQueryError, "^object_name: must not be empty"),
    ({"object_name": 307210830}, InvalidQueryTypeError, "^object_name: must be a string"),
    (
        {"objectname": "Ceres", "moving_target": True, "mt_type": "smallbodies"},
        InvalidQueryError,
        "^mt_type: must be one of majorbody, smallbody \\(or major_body, small_body",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "words"), SECTOR_BAD_CALLS)
def test_get_sectors_bad_calls_send_nothing(client, kwargs, error, words):
    with responses.RequestsMock() as rsps:
        with pytest.raises(error, match=words):
            client.get_sectors(**kwargs)
        assert len(rsps.calls) == 0


@pytest.mark.parametrize("method", ["get_cutouts", "download_cutouts"])
@pytest.mark.parametrize(("kwargs", "error", "words"), SECTOR_BAD_CALLS)
def test_cutout_bad_calls_send_nothing(client, tmp_path, method, kwargs, error, words):
    extra = {"path": tmp_path / "out"} if method == "download_cutouts" else {}
    with responses.RequestsMock() as rsps:
        with pytest.raises(error, match=words):
            getattr(client, method)(size=5, **kwargs, **extra)
        assert len(rsps.calls) == 0
    assert not (tmp_path / "out").exists()


# the deprecated product


@pytest.mark.parametrize("product", ["SPOC", "spoc"])
def test_product_spoc_is_deprecated_and_changes_nothing(mock_http, client, product):
    mock_sector_list(mock_http, {**SECTOR_POSITION, "radius": "0.0"})
    with pytest.warns(AstropyDeprecationWarning, match="^product: deprecated"):
        assert_one_sector(client.get_sectors(coordinates=SECTOR_COORD, product=product))


def test_product_spoc_on_cutouts(mock_http, client, tmp_path):
    for _ in range(2):
        mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX, "sector": "1"}, cutout_zip())
    with pytest.warns(AstropyDeprecationWarning, match="^product: deprecated"):
        (hdul,) = client.get_cutouts(
            coordinates=CUTOUT_COORD, sector=1, product="SPOC", cache=False
        )
    assert hdul[0].header["SECTOR"] == 1
    with pytest.warns(AstropyDeprecationWarning, match="^product: deprecated"):
        paths = client.download_cutouts(
            coordinates=CUTOUT_COORD, sector=1, product="SPOC", path=tmp_path, cache=False
        )
    assert len(paths) == 1


# astroquery 0.4.11: test_tesscut_download_cutouts


def test_download_cutouts_inflated(mock_http, one_request, client, tmp_path):
    mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX}, cutout_zip())
    manifest = client.download_cutouts(coordinates=CUTOUT_COORD, size=5, path=str(tmp_path))
    assert isinstance(manifest, Table)
    assert len(manifest) == 1
    assert manifest["Local Path"][0][-4:] == "fits"
    assert os.path.isfile(manifest[0]["Local Path"])
    assert os.path.basename(manifest[0]["Local Path"]) == (
        "tess-s0001-4-3_107.270000_-70.000000_5x5_astrocut.fits"
    )


def test_download_cutouts_not_inflated(mock_http, one_request, client, tmp_path):
    mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX}, cutout_zip())
    manifest = client.download_cutouts(
        coordinates=CUTOUT_COORD, size=5, path=str(tmp_path), inflate=False
    )
    assert len(manifest) == 1
    assert manifest["Local Path"][0][-3:] == "zip"
    assert os.path.isfile(manifest[0]["Local Path"])


def test_download_cutouts_by_object_name(mock_http, one_request, client, tmp_path):
    mock_santa(mock_http, "M103", M103)
    mock_zip(mock_http, "astrocut", {**M103_SIMBAD, **FIVE_PX}, cutout_zip(position=M103_SIMBAD))
    manifest = client.download_cutouts(objectname="M103", size=5, path=str(tmp_path))
    assert len(manifest) == 1
    assert manifest["Local Path"][0][-4:] == "fits"


def test_download_cutouts_of_a_moving_target(mock_http, client, tmp_path):
    params = {"obj_id": "Eleonora", "obj_type": "smallbody", **FIVE_PX, "sector": "1"}
    mock_zip(mock_http, "moving_target/astrocut", params, make_moving_target_zip("Eleonora"))
    manifest = client.download_cutouts(
        objectname="Eleonora",
        moving_target=True,
        mt_type="small_body",
        sector=1,
        size=5,
        path=str(tmp_path),
    )
    assert len(manifest) == 1
    assert os.path.isfile(manifest[0]["Local Path"])


@pytest.mark.parametrize("verbose", [True, False])
def test_download_cutouts_verbose_prints_the_paths(mock_http, client, tmp_path, capsys, verbose):
    mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX, "sector": "1"}, cutout_zip())
    manifest = client.download_cutouts(
        coordinates=CUTOUT_COORD, sector=1, path=tmp_path, verbose=verbose
    )
    printed = capsys.readouterr().out
    assert printed == (manifest["Local Path"][0] + "\n" if verbose else "")


def test_download_cutouts_verbose_without_data_prints_nothing(mock_http, client, tmp_path, capsys):
    mock_http.get(
        TESSCUT + "astrocut",
        body=no_data_json(),
        content_type="application/json",
        match=[query_param_matcher({**CUTOUT_POSITION, **FIVE_PX, "sector": "2"})],
    )
    with pytest.warns(NoResultsWarning, match="^no cutout data: No data$"):
        manifest = client.download_cutouts(
            coordinates=CUTOUT_COORD, sector=2, path=tmp_path, verbose=True
        )
    assert len(manifest) == 0
    assert capsys.readouterr().out == ""


def test_download_cutouts_verbose_must_be_a_flag(client, tmp_path):
    with responses.RequestsMock() as rsps:
        with pytest.raises(InvalidQueryTypeError, match="^verbose: must be True or False"):
            client.download_cutouts(coordinates=CUTOUT_COORD, path=tmp_path, verbose="yes")
        assert len(rsps.calls) == 0


# astroquery 0.4.11: test_tesscut_get_cutouts


def test_get_cutouts_by_coordinates(mock_http, one_request, client):
    mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX}, cutout_zip())
    cutouts = client.get_cutouts(coordinates=CUTOUT_COORD, size=5)
    assert isinstance(cutouts, list)
    assert len(cutouts) == 1
    assert isinstance(cutouts[0], fits.HDUList)


def test_get_cutouts_by_object_name(mock_http, one_request, client):
    mock_santa(mock_http, "M103", M103)
    mock_zip(mock_http, "astrocut", {**M103_SIMBAD, **FIVE_PX}, cutout_zip(position=M103_SIMBAD))
    (hdul,) = client.get_cutouts(objectname="M103", size=5)
    assert isinstance(hdul, fits.HDUList)


def test_get_cutouts_of_a_moving_target(mock_http, client):
    params = {"obj_id": "Eleonora", "obj_type": "smallbody", **FIVE_PX, "sector": "1"}
    mock_zip(mock_http, "moving_target/astrocut", params, make_moving_target_zip("Eleonora"))
    cutouts = client.get_cutouts(
        objectname="Eleonora", moving_target=True, mt_type="small_body", sector=1, size=5
    )
    assert len(cutouts) == 1
    assert isinstance(cutouts[0], fits.HDUList)


# astroquery 0.4.12's object_name


def test_object_name_everywhere(mock_http, client, tmp_path):
    mock_santa(mock_http, "M103", M103)
    for _ in range(2):
        mock_sector_list(mock_http, {**M103_SIMBAD, "radius": "0.0"})
    for _ in range(2):
        mock_zip(
            mock_http,
            "astrocut",
            {**M103_SIMBAD, **FIVE_PX, "sector": "1"},
            cutout_zip(position=M103_SIMBAD),
        )
    assert_one_sector(client.get_sectors(object_name="M103"))
    assert_one_sector(client.query_sectors(object_name="M103"))
    assert len(client.get_cutouts(object_name="M103", sector=1, cache=False)) == 1
    paths = client.download_cutouts(object_name="M103", sector=1, path=tmp_path, cache=False)
    assert len(paths) == 1
    # resolved once: the name is the same whichever spelling gave it
    assert sum(call.request.url.startswith(RESOLVER) for call in mock_http.calls) == 1


def test_object_name_of_a_moving_target(mock_http, client):
    mock_sector_list(
        mock_http, {"obj_id": "Ceres", "obj_type": "majorbody"}, path="moving_target/sector"
    )
    table = client.get_sectors(object_name="Ceres", moving_target=True, mt_type="majorbody")
    assert_one_sector(table)


# resolver="SIMBAD" | "NED"


def test_resolver_is_passed_to_santa_and_cached_per_resolver(mock_http, client):
    mock_santa(mock_http, "M103", M103, resolver="SIMBAD")
    mock_santa(mock_http, "M103", M103, resolver="NED")
    mock_sector_list(mock_http, {**M103_SIMBAD, "radius": "0.0"})
    mock_sector_list(mock_http, {**M103_NED, "radius": "0.0"})
    for _ in range(2):
        assert_one_sector(client.get_sectors(objectname="M103", resolver="SIMBAD"))
        assert_one_sector(client.get_sectors(objectname="M103", resolver="ned"))
    asked = [call.request.url for call in mock_http.calls if call.request.url.startswith(RESOLVER)]
    assert len(asked) == 2
    sector_calls = [c.request.url for c in mock_http.calls if c.request.url.startswith(TESSCUT)]
    assert ["ra=23.339&" in url for url in sector_calls] == [True, False, True, False]


def test_resolver_on_cutouts(mock_http, client, tmp_path):
    mock_santa(mock_http, "M103", M103, resolver="NED")
    for _ in range(2):
        mock_zip(
            mock_http,
            "astrocut",
            {**M103_NED, **FIVE_PX, "sector": "1"},
            cutout_zip(position=M103_NED),
        )
    assert len(client.get_cutouts(objectname="M103", sector=1, resolver="NED", cache=False)) == 1
    paths = client.download_cutouts(
        objectname="M103", sector=1, resolver="NED", path=tmp_path, cache=False
    )
    assert len(paths) == 1


def test_resolver_for_a_tic_id_asks_every_resolver_and_picks_the_one_asked(mock_http, client):
    # As astroquery asks for names in MAST's own catalogues: every resolver's answer.
    answer = load_json("resolver_tic_261136679.json")
    mock_santa(mock_http, "TIC 261136679", answer, resolveAll="true")
    # SIMBAD's position, not the TIC's (84.2911879979852, -80.4691197969941) listed first
    mock_sector_list(mock_http, {"ra": "84.29121827", "dec": "-80.46911816", "radius": "0.0"})
    assert_one_sector(client.get_sectors(objectname="TIC 261136679", resolver="SIMBAD"))


def test_resolver_without_an_answer_from_it(mock_http, client):
    mock_santa(mock_http, "Pi Men", load_json("resolver_pi_men.json"), resolver="NED")
    with pytest.raises(
        ResolverError, match="no position for 'Pi Men' from NED; try resolver='SIMBAD'"
    ):
        client.get_sectors(objectname="Pi Men", resolver="NED")


def test_no_resolver_uses_santas_order(mock_http, client):
    mock_resolver(mock_http, "TIC 261136679", "resolver_tic_261136679.json")  # no resolver
    mock_sector_list(mock_http, {**POSITION_TIC, "radius": "0.0"})  # the first answer's
    assert_one_sector(client.get_sectors(objectname="TIC 261136679"))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"coordinates": SECTOR_COORD}, "ignored with coordinates"),
        (
            {"objectname": "Ceres", "moving_target": True, "mt_type": "majorbody"},
            "ignored with moving_target=True",
        ),
    ],
)
def test_resolver_with_nothing_to_resolve_is_ignored_with_a_warning(
    mock_http, client, kwargs, words
):
    if "coordinates" in kwargs:
        mock_sector_list(mock_http, {**SECTOR_POSITION, "radius": "0.0"})
    else:
        mock_sector_list(
            mock_http, {"obj_id": "Ceres", "obj_type": "majorbody"}, path="moving_target/sector"
        )
    with pytest.warns(TessCutWarning, match=f"^resolver: only used .*; {words}"):
        assert_one_sector(client.get_sectors(resolver="SIMBAD", **kwargs))


# sector=[28, 68]


def test_a_list_of_sectors_is_one_request_each_sorted_and_once(mock_http, client):
    for sector in (68, 28):
        mock_zip(
            mock_http,
            "astrocut",
            {**CUTOUT_POSITION, **FIVE_PX, "sector": str(sector)},
            cutout_zip(sector=sector),
        )
    cutouts = client.get_cutouts(coordinates=CUTOUT_COORD, sector=[68, 28, 68])
    assert [hdul[0].header["SECTOR"] for hdul in cutouts] == [28, 68]
    asked = [call.request.params["sector"] for call in mock_http.calls]
    assert sorted(asked) == ["28", "68"]  # each once (concurrently, in any order)


def test_a_list_of_sectors_written_to_disk_and_as_zips(mock_http, client, tmp_path):
    for sector in (28, 68):
        mock_zip(
            mock_http,
            "astrocut",
            {**CUTOUT_POSITION, **FIVE_PX, "sector": str(sector)},
            cutout_zip(sector=sector),
        )
    zips = client.download_cutouts(
        coordinates=CUTOUT_COORD, sector=(68, 28), path=tmp_path, inflate=False
    )
    assert [os.path.basename(p) for p in zips["Local Path"]] == [
        "tesscut_107.270000_-70.000000_5x5_s0028.zip",
        "tesscut_107.270000_-70.000000_5x5_s0068.zip",
    ]


def test_a_list_of_sectors_warns_of_those_without_data(mock_http, client, tmp_path):
    mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX, "sector": "28"}, cutout_zip(28))
    mock_http.get(
        TESSCUT + "astrocut",
        body=no_data_json("No data for sector 69"),
        content_type="application/json",
        match=[query_param_matcher({**CUTOUT_POSITION, **FIVE_PX, "sector": "69"})],
    )
    with pytest.warns(NoResultsWarning, match="^no cutout data: No data for sector 69$"):
        paths = client.download_cutouts(coordinates=CUTOUT_COORD, sector=[28, 69], path=tmp_path)
    assert [os.path.basename(p)[:14] for p in paths["Local Path"]] == ["tess-s0028-4-3"]


def test_a_list_of_sectors_keeps_what_arrived_when_one_fails(mock_http, client):
    mock_zip(mock_http, "astrocut", {**CUTOUT_POSITION, **FIVE_PX, "sector": "28"}, cutout_zip(28))
    mock_http.get(
        TESSCUT + "astrocut",
        status=400,
        json={"msg": "Invalid sector"},
        match=[query_param_matcher({**CUTOUT_POSITION, **FIVE_PX, "sector": "999"})],
    )
    with pytest.raises(PartialResultError) as info:
        client.get_cutouts(coordinates=CUTOUT_COORD, sector=[999, 28])
    assert [hdul[0].header["SECTOR"] for hdul in info.value.results] == [28]
    assert list(info.value.failures) == [999]
    assert info.value.status_code == 400


def test_a_list_of_one_sector_fails_as_one_sector(mock_http, client):
    mock_http.get(
        TESSCUT + "astrocut",
        status=400,
        json={"msg": "Invalid sector"},
        match=[query_param_matcher({**CUTOUT_POSITION, **FIVE_PX, "sector": "999"})],
    )
    with pytest.raises(ServiceError, match="Invalid sector") as info:
        client.get_cutouts(coordinates=CUTOUT_COORD, sector=[999])
    assert not isinstance(info.value, PartialResultError)


@pytest.mark.parametrize(
    ("sector", "error", "words"),
    [
        ([], InvalidQueryError, "^sector: a list of sectors must be flat and not empty"),
        ([28, 0], InvalidQueryError, "^sector: every sector of a list must be a positive"),
        ([28, "68"], InvalidQueryTypeError, "^sector: every sector of a list must be a positive"),
        ([28, 1.5], InvalidQueryTypeError, "^sector: every sector of a list"),
        ([28, None], InvalidQueryTypeError, "^sector: every sector of a list"),
        ([[28, 68]], InvalidQueryTypeError, "^sector: every sector of a list"),
    ],
)
def test_bad_sector_lists_send_nothing(client, tmp_path, sector, error, words):
    with responses.RequestsMock() as rsps:
        with pytest.raises(error, match=words):
            client.get_cutouts(coordinates=CUTOUT_COORD, sector=sector)
        with pytest.raises(error, match=words):
            client.download_cutouts(coordinates=CUTOUT_COORD, sector=sector, path=tmp_path / "o")
        assert len(rsps.calls) == 0
    assert not (tmp_path / "o").exists()
