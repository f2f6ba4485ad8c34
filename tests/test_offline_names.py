"""Offline is offline: names, sectors, cutouts and TIC neighbours with nothing sent.

Offline (``offline=True``, or a client with an archive) object names are
looked up only in the TIC rows bundled with the package; any other name is
an error at once. Each test runs under a `responses` mock with nothing
registered, so any HTTP request would be recorded (and fail), on top of
pytest-remotedata blocking the internet.
"""

import pytest
import responses
from astropy import units as u
from conftest import PI_MEN

from astro_tesscut import (
    InvalidQueryError,
    NoResultsWarning,
    TessCutClass,
    TessCutWarning,
    conf,
)
from astro_tesscut.catalog import bundled_names
from astro_tesscut.cli import main
from astro_tesscut.resolver import offline_position

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"


@pytest.fixture
def no_http():
    """Any HTTP request is recorded here and fails; the test asserts there was none."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
        assert len(rsps.calls) == 0, [call.request.url for call in rsps.calls]


@pytest.fixture
def archive_client(cube_archive):
    return TessCutClass(archive=cube_archive)


@pytest.mark.parametrize(
    "name", ["Pi Men", "pi men", "PiMen", "pi Mensae", "HD 39091", "TIC 261136679", "tic261136679"]
)
def test_bundled_names_resolve_offline(no_http, name):
    position = offline_position(name)
    assert (position.ra.deg, position.dec.deg) == PI_MEN


def test_the_readme_example_sends_nothing(no_http):
    sectors = TessCutClass().query_sectors(objectname="Pi Men", offline=True)
    assert list(sectors[0]["sectorName", "sector", "camera", "ccd"]) == ["tess-s0001-4-2", 1, 4, 2]


def test_offline_sectors_by_name_are_those_of_the_position(no_http):
    client = TessCutClass()
    by_name = client.query_sectors(object_name="TIC 261136679", offline=True)
    by_position = client.query_sectors(coordinates=PI_MEN_TEXT, offline=True)
    assert by_name.pformat(max_lines=-1) == by_position.pformat(max_lines=-1)


def test_get_sectors_offline(no_http):
    assert TessCutClass().get_sectors(objectname="Pi Men", offline=True)["sector"][0] == 1


UNKNOWN = "^objectname: 'Not A Star' is not a name known offline.* give coordinates instead$"


@pytest.mark.parametrize(
    "call",
    [
        lambda c, p: c.query_sectors(objectname="Not A Star", offline=True),
        lambda c, p: c.get_sectors(objectname="Not A Star", offline=True),
        lambda c, p: c.query_tic(objectname="Not A Star", offline=True),
    ],
    ids=["query_sectors", "get_sectors", "query_tic"],
)
def test_an_unknown_name_offline_fails_at_once(no_http, tmp_path, call):
    with pytest.raises(InvalidQueryError, match=UNKNOWN) as info:
        call(TessCutClass(), tmp_path)
    for name in bundled_names():
        assert repr(name)[1:-1] in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, p: c.query_sectors(objectname="Not A Star"),
        lambda c, p: c.query_tic(objectname="Not A Star"),
        lambda c, p: c.get_cutouts(objectname="Not A Star", sector=1),
        lambda c, p: c.download_cutouts(objectname="Not A Star", sector=1, path=p / "out"),
        lambda c, p: c.download_cutouts(object_name="Not A Star", path=p / "out", inflate=False),
    ],
    ids=["query_sectors", "query_tic", "get_cutouts", "download_cutouts", "zips"],
)
def test_an_unknown_name_with_an_archive_fails_at_once(no_http, archive_client, tmp_path, call):
    with pytest.raises(InvalidQueryError, match=UNKNOWN):
        call(archive_client, tmp_path)
    assert not (tmp_path / "out").exists()


def test_an_archive_cuts_a_bundled_name_with_nothing_sent(no_http, archive_client, tmp_path):
    (hdul,) = archive_client.get_cutouts(objectname="Pi Men", size=(9, 7), sector=1)
    (by_position,) = archive_client.get_cutouts(coordinates=PI_MEN_TEXT, size=(9, 7), sector=1)
    assert hdul.filename() == by_position.filename()
    paths = archive_client.download_cutouts(object_name="TIC 261136679", size=5, path=tmp_path)
    assert len(paths) == 1
    assert archive_client.query_sectors(objectname="HD 39091")["available"][0]


def test_a_resolver_offline_is_refused(no_http, archive_client):
    with pytest.raises(InvalidQueryError, match="^resolver: offline, names are looked up in"):
        TessCutClass().query_sectors(objectname="Pi Men", resolver="SIMBAD", offline=True)
    with pytest.raises(InvalidQueryError, match="^resolver: offline"):
        archive_client.get_cutouts(objectname="Pi Men", resolver="NED", sector=1)


def test_offline_must_be_a_flag(no_http):
    for call in (TessCutClass().query_tic, TessCutClass().get_cutouts):
        with pytest.raises(TypeError, match="^offline: must be True or False"):
            call(coordinates=PI_MEN_TEXT, offline="yes")


# cutouts offline without an archive: conf.archive, or a clear error


@pytest.mark.parametrize("method", ["get_cutouts", "download_cutouts"])
def test_offline_cutouts_need_an_archive(no_http, tmp_path, method):
    call = getattr(TessCutClass(), method)
    extra = {"path": tmp_path / "out"} if method == "download_cutouts" else {}
    with pytest.raises(InvalidQueryError, match=r"^offline: .*give TessCutClass\(archive=...\)"):
        call(objectname="Pi Men", sector=1, offline=True, **extra)
    assert not (tmp_path / "out").exists()


def test_offline_cutouts_use_conf_archive(no_http, cube_archive, tmp_path):
    client = TessCutClass()
    with conf.set_temp("archive", str(cube_archive)):
        (hdul,) = client.get_cutouts(objectname="Pi Men", size=(9, 7), sector=1, offline=True)
        paths = client.download_cutouts(
            coordinates=PI_MEN_TEXT, size=5, sector=[1], path=tmp_path, offline=True
        )
    assert hdul[0].header["SECTOR"] == 1
    assert [p.split("/")[-1][:14] for p in paths["Local Path"]] == ["tess-s0001-4-2"]


def test_offline_cutouts_of_a_moving_target_are_refused(no_http, cube_archive):
    client = TessCutClass()
    with (
        conf.set_temp("archive", str(cube_archive)),
        pytest.raises(InvalidQueryError, match="^moving_target: offline"),
    ):
        client.get_cutouts(objectname="Ceres", moving_target=True, offline=True)


# query_tic offline: the bundled rows


def test_query_tic_offline_by_name(no_http):
    stars = TessCutClass().query_tic(objectname="TIC 261136679", offline=True)
    assert list(stars["ID"]) == ["261136679", "261139071", "724137557", "724137554", "724137558"]
    assert stars["distance"].unit == u.arcsec
    assert stars["distance"][0] == 0
    assert "bundled" in stars.meta["description"]


def test_query_tic_with_an_archive_is_offline(no_http, archive_client):
    stars = archive_client.query_tic(coordinates=PI_MEN_TEXT, radius=30 * u.arcsec)
    assert list(stars["ID"]) == ["261136679", "261139071", "724137557", "724137554"]


def test_query_tic_offline_beyond_the_bundled_rows_says_so(no_http):
    with pytest.warns(TessCutWarning, match="^only 5 TIC entries within 10.00 arcmin .*bundled"):
        stars = TessCutClass().query_tic(objectname="Pi Men", radius=10 * u.arcmin, offline=True)
    assert len(stars) == 5
    with pytest.warns(NoResultsWarning, match="^no TIC entry within 5.00 arcmin .*bundled"):
        stars = TessCutClass().query_tic(coordinates="10 20", offline=True)
    assert len(stars) == 0
    assert "distance" in stars.colnames


# the command goes through the same lookup


def test_the_command_offline_with_an_unknown_name(no_http, capsys):
    assert main(["sectors", "Not A Star", "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tesscut: error: objectname: 'Not A Star' is not a name known offline")
    assert "give coordinates instead" in err
