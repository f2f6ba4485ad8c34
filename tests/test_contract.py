"""One contract, every backend: the same calls give the same answers, whoever answers.

`BackendContract` holds what every way of getting pixels must do alike; it
runs against the TESScut service (mocked: `responses`, each request matched
on its parameters), a local archive of cubes, and an archive on S3 (moto on
127.0.0.1). The service's answers are built from the same cube's cutouts, as
MAST builds them from its own.
"""

import io
import re
import zipfile
from pathlib import Path

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


# The same contract one level down: bare backends, as the opener builds them, asked with a
# Request. Every one of them is here, wrappers included.

SECTOR_4 = {"ra": str(PI_MEN[0]), "dec": str(PI_MEN[1]), "x": "7", "y": "9", "units": "px"}


def request(sectors):
    from astro_tesscut.backends.base import Request
    from astro_tesscut.sizes import parse_size
    from astro_tesscut.targets import parse_target

    return Request(parse_target(coordinates=PI_MEN), parse_size(SIZE), sectors)


def reference_zip(cube_file):
    """TESScut's zip of sector 1's cutout, as MAST builds it from its own cube."""
    reference = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
    buffer, answer = io.BytesIO(), io.BytesIO()
    reference.writeto(buffer)
    with zipfile.ZipFile(answer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(reference.filename(), buffer.getvalue())
    return answer.getvalue()


@pytest.fixture
def out(tmp_path):
    """An output directory of its own."""
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


class BareBackendContract:
    """What every backend answers alike when asked directly. Subclasses provide the
    ``backend`` fixture; ``broken_sector_4(backend)`` makes sector 4 fail, and
    ``failed(call)`` runs a call whose sector 4 fails: what came back, and how sector 4's
    failure was told."""

    def test_the_sector_table_has_the_common_columns_first(self, backend):
        from astropy.coordinates import Angle

        table = backend.sector_table(request(None).target, Angle(0, "deg"))
        assert table.colnames[:4] == COMMON
        assert {(row["sector"], row["camera"], row["ccd"]) for row in table} >= {(1, 4, 2)}

    def test_one_sector_is_the_reference_file(self, backend, cube_file):
        from astro_tesscut.writers import InMemory

        fetched = backend.cutouts(request((1,)), InMemory())
        (hdul,) = fetched.results
        reference = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
        assert hdul.filename() == reference.filename()
        assert np.array_equal(hdul["PIXELS"].data["FLUX"], reference["PIXELS"].data["FLUX"])

    def test_every_sector_gives_what_there_is(self, backend):
        from astro_tesscut.writers import InMemory

        fetched = backend.cutouts(request(None), InMemory())
        assert [hdul[0].header["SECTOR"] for hdul in fetched.results] == [1]

    def test_a_list_with_a_missing_sector_gives_the_others_and_says_why(self, backend, out):
        from astro_tesscut.writers import IntoDirectory

        fetched = backend.cutouts(request((1, 4)), IntoDirectory(out))
        assert [path.name[:14] for path in fetched.results] == ["tess-s0001-4-2"]
        (reason,) = fetched.no_data
        assert re.search("sector 4|tess-s0004", reason), reason
        assert sorted(p.name for p in out.iterdir()) == [fetched.results[0].name]

    def test_a_sector_that_fails_costs_only_itself(self, backend, out):
        from astro_tesscut.writers import IntoDirectory

        self.broken_sector_4(backend)
        arrived, told = self.failed(lambda: backend.cutouts(request((1, 4)), IntoDirectory(out)))
        assert [path.name[:14] for path in arrived] == ["tess-s0001-4-2"]
        assert told
        assert sorted(p.name for p in out.iterdir()) == [arrived[0].name]

    def test_repr_shows_the_chain(self, backend):
        assert repr(backend) == self.chain


class TestBareService(BareBackendContract):
    """The service as the opener builds it: per sector, through the verified cache."""

    chain = (
        "TimeWindowed(PerSector(Cached(MastService('https://mast.stsci.edu/tesscut/api/v0.1/'), "
        "CACHE)))"
    )

    @pytest.fixture
    def backend(self, cube_file, tmp_path):
        import responses

        from astro_tesscut.backends.cache import CutoutCache
        from astro_tesscut.backends.open import service_chain
        from astro_tesscut.backends.service import MastService

        cache = CutoutCache(tmp_path / "cache")
        self.chain = self.chain.replace("CACHE", repr(str(cache.directory)))
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            ra, dec = (str(value) for value in PI_MEN)
            rsps.get(
                TESSCUT + "sector",
                json=load_json("sector_pi_men.json"),
                match=[query_param_matcher({"ra": ra, "dec": dec, "radius": "0.0"})],
            )
            rsps.get(
                TESSCUT + "sector",
                json={"results": [{"sectorName": "tess-s0001-4-2", "sector": "1",
                                   "camera": "4", "ccd": "2"}]},
                match=[query_param_matcher({"ra": ra, "dec": dec, "radius": str(
                    request(None).size.radius_deg())})],
            )  # fmt: skip
            rsps.get(
                TESSCUT + "astrocut",
                body=reference_zip(cube_file),
                content_type="application/zip",
                match=[query_param_matcher({**SECTOR_4, "sector": "1"})],
            )
            self.sector_4 = rsps.get(
                TESSCUT + "astrocut",
                json={"msg": "No data for sector 4"},
                match=[query_param_matcher({**SECTOR_4, "sector": "4"})],
            )
            yield service_chain(MastService(), cache)

    def broken_sector_4(self, backend):
        self.sector_4.status = 500
        self.sector_4.body = b'{"msg": "Internal error"}'

    @staticmethod
    def failed(call):
        from astro_tesscut import PartialResultError, ServiceError

        with pytest.raises(PartialResultError) as info:
            call()
        assert isinstance(info.value.failures[4], ServiceError)
        return info.value.results, "sector 4: HTTP 500" in str(info.value)


class ArchiveBackend(BareBackendContract):
    """Archives tell a sector that fails (a cube that cannot be read) as no data."""

    def broken_sector_4(self, backend):
        from astro_tesscut import InvalidFileError

        real = backend.cube

        def cube(key, **kwargs):
            if key[0] == 4:
                raise InvalidFileError(f"cube: sector {key[0]}'s is unreadable")
            return real(key, **kwargs)

        backend.cube = cube
        backend.held = lambda: {(1, 4, 2), (4, 4, 3)}

    @staticmethod
    def failed(call):
        fetched = call()
        return fetched.results, any("sector 4's is unreadable" in m for m in fetched.no_data)


class TestBareLocalCubes(ArchiveBackend):
    @pytest.fixture
    def backend(self, cube_archive):
        from astro_tesscut.backends.open import open_archive

        self.chain = f"LocalArchive({str(cube_archive)!r})"
        return open_archive(cube_archive)


class TestBareLocalFFIs(ArchiveBackend):
    @pytest.fixture
    def backend(self, ffi_files, tmp_path):
        from astro_tesscut.backends.local import LocalArchive

        directory = tmp_path / "ffis"
        directory.mkdir()
        for path in ffi_files:
            (directory / path.name).symlink_to(path)
        self.chain = f"LocalArchive({str(directory)!r})"
        return LocalArchive(directory, built_cubes=tmp_path / "built")


class TestBareS3(ArchiveBackend):
    chain = f"RemoteArchive({PREFIX!r})"

    @pytest.fixture
    def backend(self, proxy):
        from astro_tesscut.backends.open import open_archive

        return open_archive(PREFIX, ANON)


def test_the_pointing_model_answers_sectors_and_refuses_pixels():
    from astropy.coordinates import Angle

    from astro_tesscut.backends.pointing_model import PointingModel
    from astro_tesscut.writers import InMemory

    model = PointingModel()
    table = model.sector_table(request(None).target, Angle(0, "deg"))
    assert table.colnames[:4] == COMMON
    first_68 = {(str(n), int(s), int(c), int(d)) for n, s, c, d in table[COMMON] if s <= 68}
    assert first_68 == MAST_SECTORS
    with pytest.raises(InvalidQueryError, match="^archive: cutouts offline need FFI cubes"):
        model.cutouts(request((1,)), InMemory())


def test_a_new_backend_is_one_class_and_one_line_in_the_opener(cube_file, tmp_path):
    """A toy backend (cutouts of one cube file, whatever the sector) goes behind the API
    with nothing above it changed: the client takes it from the opener."""
    from astro_tesscut.backends import open as opener
    from astro_tesscut.backends.base import Backend, Fetched
    from astro_tesscut.backends.pointing_model import PointingModel
    from astro_tesscut.cube.cutout import cut
    from astro_tesscut.writers import MadeFiles

    class OneCube(Backend):  # the one class
        def __init__(self, path):
            self.path = path

        def sector_table(self, target, radius):
            return PointingModel().sector_table(target, radius)

        def cutouts(self, request, writer):
            ra, dec = request.target.coord.ra.deg, request.target.coord.dec.deg
            made = list(cut(self.path, np.array([ra]), np.array([dec]), request.size))
            return Fetched(writer.take(MadeFiles(made)))

    real = opener.open_archive

    def open_archive(archive, storage_options=None):  # the one line
        return OneCube(archive) if str(archive).endswith("-cube.fits") else real(archive)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(opener, "open_archive", open_archive)
        from astro_tesscut import session

        patch.setattr(session, "open_archive", open_archive)
        client = TessCutClass(archive=cube_file)
        paths = client.download_cutouts(coordinates=PI_MEN_TEXT, size=SIZE, path=tmp_path)
    assert repr(client) == "<TessCutClass OneCube>"
    (path,) = paths["Local Path"]
    reference = cutout(cube_file, PI_MEN_TEXT, size=SIZE)
    with fits.open(path) as written:
        assert np.array_equal(written["PIXELS"].data["FLUX"], reference["PIXELS"].data["FLUX"])


@pytest.mark.parametrize("where", ["local", "s3"])
def test_batch_cuts_the_files_get_cutouts_cuts(where, request, cube_archive, tmp_path):
    from astropy.table import Table

    from astro_tesscut import batch_cutouts

    if where == "local":
        archive, options = cube_archive, None
    else:
        request.getfixturevalue("proxy")
        archive, options = PREFIX, ANON
    targets = Table({"ra": [PI_MEN[0], 84.257651], "dec": [PI_MEN[1], -80.46656]})
    result = batch_cutouts(
        targets, SIZE, archive, sectors=1, out_dir=tmp_path / "batch",
        storage_options=options, show_progress=False,
    )  # fmt: skip
    client = TessCutClass(archive=archive, storage_options=options)
    assert list(result["status"]) == ["written", "written"], list(result["error"])
    for ra, dec, path in zip(targets["ra"], targets["dec"], result["path"], strict=True):
        (single,) = client.download_cutouts(
            coordinates=(ra, dec), size=SIZE, sector=1, path=tmp_path / "single"
        )["Local Path"]
        assert Path(single).name == Path(path).name
        assert Path(single).read_bytes() == Path(path).read_bytes()
