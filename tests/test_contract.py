"""One contract, every backend: the same calls give the same answers, whoever answers.

`BackendContract` holds what every way of getting pixels must do alike; it
runs against the TESScut service (mocked: `responses`, each request matched
on its parameters), a local archive of cubes, and an archive on S3 (moto on
127.0.0.1). The service's answers are built from the same cube's cutouts, as
MAST builds them from its own.
"""

import io
import zipfile

import numpy as np
import pytest
from astropy.io import fits
from conftest import ANON, PI_MEN, PREFIX, load_json
from mast_mocks import TESSCUT
from responses.matchers import query_param_matcher

from astro_tesscut import InvalidQueryError, NoResultsWarning, TessCutClass
from astro_tesscut.cube.cutout import cutout

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"
NOWHERE = "10 20"  # in no FFI of sector 1
SIZE = (9, 7)
COMMON = ["sectorName", "sector", "camera", "ccd"]
# MAST's sector list for Pi Mensae, sectors 1-68 (tests/data/sector_pi_men.json).
MAST_SECTORS = {
    (row["sectorName"], int(row["sector"]), int(row["camera"]), int(row["ccd"]))
    for row in load_json("sector_pi_men.json")["results"]
}


class BackendContract:
    """What every backend answers alike. Subclasses provide the ``client`` fixture and
    ``requests_made(client)``: how many requests reached the outside, or `None`."""

    def requests_made(self, client):
        return None

    def test_the_sector_table_has_the_common_columns_first(self, client):
        table = client.query_sectors(coordinates=PI_MEN_TEXT)
        assert table.colnames[:4] == COMMON
        assert [table[c].dtype.kind for c in COMMON] == ["U", "i", "i", "i"]
        rows = [tuple(row) for row in table[COMMON]]
        assert rows == sorted(rows, key=lambda row: row[1:])
        first_68 = {(str(n), int(s), int(c), int(d)) for n, s, c, d in rows if s <= 68}
        assert first_68 == MAST_SECTORS

    def test_a_cutout_is_the_same_file(self, client, cube_file):
        (hdul,) = client.get_cutouts(coordinates=PI_MEN_TEXT, size=SIZE, sector=1)
        reference = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
        assert hdul.filename() == reference.filename()
        assert np.array_equal(hdul["PIXELS"].data["FLUX"], reference["PIXELS"].data["FLUX"])
        assert hdul[0].header["SECTOR"] == 1

    def test_a_download_is_the_same_file(self, client, cube_file, tmp_path):
        paths = client.download_cutouts(
            coordinates=PI_MEN_TEXT, size=SIZE, sector=1, path=tmp_path / "out"
        )
        (path,) = paths["Local Path"]
        reference = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
        assert path == str(tmp_path / "out" / reference.filename())
        with fits.open(path) as written:
            assert np.array_equal(written["PIXELS"].data["FLUX"], reference["PIXELS"].data["FLUX"])
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [reference.filename()]

    def test_a_download_as_a_zip(self, client, cube_file, tmp_path):
        paths = client.download_cutouts(
            coordinates=PI_MEN_TEXT, size=SIZE, sector=1, path=tmp_path, inflate=False
        )
        (path,) = paths["Local Path"]
        assert path.endswith("_7x9_s0001.zip")
        with zipfile.ZipFile(path) as zipped:
            assert zipped.namelist() == [cutout(cube_file, PI_MEN_TEXT, size=SIZE).filename()]

    def test_no_data_is_a_warning_and_nothing(self, client, tmp_path):
        with pytest.warns(NoResultsWarning, match="^no cutout data: "):
            assert client.get_cutouts(coordinates=NOWHERE, size=5, sector=1) == []
        out = tmp_path / "out"
        with pytest.warns(NoResultsWarning, match="^no cutout data: "):
            paths = client.download_cutouts(coordinates=NOWHERE, size=5, sector=1, path=out)
        assert len(paths) == 0
        assert list(out.iterdir()) == []

    @pytest.mark.parametrize(
        ("kwargs", "words"),
        [
            ({"coordinates": "84.3 95"}, "^coordinates: Dec must be within"),
            ({"coordinates": PI_MEN_TEXT, "size": 0}, "^size: every side must be positive"),
            ({"coordinates": PI_MEN_TEXT, "sector": 0}, "^sector: must be a positive integer"),
            ({"coordinates": PI_MEN_TEXT, "objectname": "Pi Men"}, "^coordinates, objectname"),
        ],
    )
    def test_bad_input_is_refused_before_any_request(self, client, kwargs, words):
        calls = [client.get_cutouts, client.download_cutouts]
        if set(kwargs) <= {"coordinates", "objectname"}:
            calls.append(client.query_sectors)
        for call in calls:
            with pytest.raises(InvalidQueryError, match=words):
                call(**kwargs)
        assert self.requests_made(client) in (0, None)


class ArchiveContract(BackendContract):
    """What archives of cubes add: they do not follow moving targets, and say so first."""

    def test_moving_targets_are_refused_before_any_request(self, client):
        for call in (client.get_cutouts, client.query_sectors):
            with pytest.raises(InvalidQueryError, match="^moving_target: "):
                call(objectname="Ceres", moving_target=True)
        assert self.requests_made(client) in (0, None)


class TestService(BackendContract):
    @pytest.fixture
    def client(self, cube_file, tmp_path):
        import responses

        reference = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
        buffer = io.BytesIO()
        reference.writeto(buffer)
        answer = io.BytesIO()
        with zipfile.ZipFile(answer, "w", zipfile.ZIP_DEFLATED) as zipped:
            zipped.writestr(reference.filename(), buffer.getvalue())
        ra, dec = (str(value) for value in PI_MEN)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            rsps.get(
                TESSCUT + "sector",
                json=load_json("sector_pi_men.json"),
                match=[query_param_matcher({"ra": ra, "dec": dec, "radius": "0.0"})],
            )
            rsps.get(
                TESSCUT + "astrocut",
                body=answer.getvalue(),
                content_type="application/zip",
                match=[query_param_matcher(
                    {"ra": ra, "dec": dec, "x": "7", "y": "9", "units": "px", "sector": "1"}
                )],
            )  # fmt: skip
            rsps.get(
                TESSCUT + "astrocut",
                json={"msg": "No data found"},
                match=[query_param_matcher(
                    {"ra": "10.0", "dec": "20.0", "x": "5", "y": "5", "units": "px", "sector": "1"}
                )],
            )  # fmt: skip
            client = TessCutClass(cache_dir=tmp_path / "cache")
            client.mocked = rsps
            yield client

    def requests_made(self, client):
        return len(client.mocked.calls)


class TestLocalArchive(ArchiveContract):
    @pytest.fixture
    def client(self, cube_archive):
        return TessCutClass(archive=cube_archive)


class TestS3Archive(ArchiveContract):
    @pytest.fixture
    def client(self, proxy):
        client = TessCutClass(archive=PREFIX, storage_options=ANON)
        client.proxy = proxy
        return client

    def requests_made(self, client):
        return len(client.proxy.requests)
