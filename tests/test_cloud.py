"""Cutouts straight from FFI cubes on S3, and batches of them: on a real S3 API on 127.0.0.1.

moto's threaded server stands in for MAST's public bucket; a proxy in front of
it counts what the client fetches and throttles on demand. Needs the
``cloud`` extra (obstore, fsspec, s3fs, dask, distributed) and moto[server].
"""

import io
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("s3fs", reason="the cloud extra (s3fs, fsspec) is not installed")
pytest.importorskip("obstore", reason="the cloud extra (obstore) is not installed")
pytest.importorskip("moto.server", reason="moto[server] is not installed")

from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from conftest import ANON, CORNER, PI_MEN, PREFIX

from astro_tesscut import NoResultsWarning, TessCutClass, batch_cutouts
from astro_tesscut.cube.cutout import cutout
from astro_tesscut.cube.ffi_cube import forget_cubes, open_cube

PI_MEN_TEXT = f"{PI_MEN[0]} {PI_MEN[1]}"


def test_same_cutout_from_s3_and_from_disk(proxy, cube_file):
    remote = open_cube(PREFIX + cube_file.name, ANON)
    local = open_cube(cube_file)
    assert (remote.rows, remote.columns, remote.frames) == (local.rows, local.columns, local.frames)
    assert remote.primary_header == local.primary_header
    ours = cutout(remote, PI_MEN_TEXT, size=(9, 7))
    theirs = cutout(local, PI_MEN_TEXT, size=(9, 7))
    for hdu in range(3):
        assert ours[hdu].header == theirs[hdu].header
    for column in ("FLUX", "FLUX_ERR", "QUALITY", "TIME"):
        assert np.array_equal(ours[1].data[column], theirs[1].data[column])


def count_reads(monkeypatch, source_class):
    """Count each source's reads by kind: one ``head`` or ``read_into`` is one round trip."""
    calls = []
    for method in ("head", "read", "read_into"):
        real = getattr(source_class, method)

        def counted(self, *args, _real=real, _name=method):
            calls.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(source_class, method, counted)
    return calls


def overlaps(spans):
    spans = sorted(spans)
    return any(a[1] > b[0] for a, b in itertools.pairwise(spans))


def test_a_cold_cutout_is_two_round_trips(proxy, corner_cube_file, monkeypatch):
    from astro_tesscut.cube.s3_source import S3Source

    calls = count_reads(monkeypatch, S3Source)
    local = open_cube(corner_cube_file)
    target = [float(v) for v in local.projection.pixel_to_world(25.3, 30.2)]
    hdul = cutout(
        f"s3://stpubdata/{CORNER}{corner_cube_file.name}", target, size=(9, 7), storage_options=ANON
    )
    # The headers, then the table and the guessed rows together: nothing more.
    assert calls == ["head", "read_into"]
    spans = proxy.ranges()
    assert spans[0] == (0, 20 * 2880)  # the primary and image headers
    size = corner_cube_file.stat().st_size
    table_start = local._table_span[0]
    assert (table_start, size) in spans  # the table, to the end of the file, in one request
    assert not overlaps(spans)  # no byte fetched twice
    rows = [span for span in spans[1:] if span[1] <= table_start]
    assert len(rows) == len(spans) - 2 == 9 + 2 * 3  # the cutout's rows and the guess's margin
    assert proxy.sent() == sum(stop - start for start, stop in spans)
    theirs = cutout(corner_cube_file, target, size=(9, 7))
    assert hdul.filename() == theirs.filename()
    assert np.array_equal(hdul[1].data["FLUX"], theirs[1].data["FLUX"])


@pytest.mark.parametrize("merging", [True, False])
def test_a_cold_time_window_reads_with_the_table_where_its_runs_would_merge(
    proxy, corner_cube_file, monkeypatch, merging
):
    from astro_tesscut.cube import cutout as cutout_module
    from astro_tesscut.cube.s3_source import S3Source
    from astro_tesscut.sizes import parse_size
    from astro_tesscut.targets import TimeWindow

    local = open_cube(corner_cube_file)
    target = [float(v) for v in local.projection.pixel_to_world(25.3, 30.2)]
    times = local.times
    window = TimeWindow(times[2] - 1e-4, times[4] + 1e-4)  # cadences 2, 3 and 4
    if not merging:  # as if a pixel's cadences lay farther apart than a request costs
        monkeypatch.setattr(cutout_module, "MERGE_GAP", 0)
    calls = count_reads(monkeypatch, S3Source)
    remote = open_cube(f"s3://stpubdata/{CORNER}{corner_cube_file.name}", ANON)
    ra, dec = np.array([target[0]]), np.array([target[1]])
    (outcome,) = cutout_module.cut_many(remote, ra, dec, parse_size((9, 7)), time=window)
    # Where the window's runs in a row would be one request anyway, the guessed rows come
    # whole with the table; else the table comes first, then only the window's runs.
    assert calls == ["head", "read_into"] + ([] if merging else ["read_into"])
    name, data = outcome.made
    ours = fits.open(io.BytesIO(data.tobytes()))
    (whole,) = cutout_module.cut_many(local, ra, dec, parse_size((9, 7)))
    theirs = fits.open(io.BytesIO(whole.made[1].tobytes()))
    assert name == whole.made[0]
    assert np.array_equal(ours[1].data["FLUX"], theirs[1].data["FLUX"][2:5])
    assert np.array_equal(ours[1].data["TIME"], theirs[1].data["TIME"][2:5])


def test_a_wrong_guess_costs_one_more_round_trip(proxy, cube_file, monkeypatch):
    from astro_tesscut.cube.s3_source import S3Source

    calls = count_reads(monkeypatch, S3Source)
    # This cube is a region far from the FFI's first pixel: the guess cannot hold.
    hdul = cutout(PREFIX + cube_file.name, PI_MEN_TEXT, size=(9, 7), storage_options=ANON)
    assert calls == ["head", "read_into", "read_into"]
    assert not overlaps(proxy.ranges())
    theirs = cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    assert np.array_equal(hdul[1].data["FLUX"], theirs[1].data["FLUX"])


def test_a_warm_cutout_fetches_only_its_rows_on_open_connections(proxy, corner_cube_file):
    url = f"s3://stpubdata/{CORNER}{corner_cube_file.name}"
    cube = open_cube(url, ANON)
    target = [float(v) for v in open_cube(corner_cube_file).projection.pixel_to_world(25.3, 30.2)]
    proxy.keep_alive = True
    cutout(cube, target, size=(3, 3))  # the table, and connections to keep
    opened = proxy.connections
    proxy.requests.clear()
    cutout(cube, target, size=(9, 7))
    gets = [r for r in proxy.requests if r[0] == "GET"]
    # This cube's rows lie 43 columns of 8 frames (2,752 bytes) apart, less than a request
    # costs (MERGE_GAP): the 9 rows are one range, from the first's start to the last's end.
    assert len(gets) == 1
    assert proxy.sent() == (8 * cube.columns + 7) * cube.frames * 8
    assert proxy.connections - opened <= 1  # the first cutout's connections are reused


def test_archive_on_s3_through_the_one_api(proxy, cube_file, tmp_path):
    tesscut = TessCutClass(archive=PREFIX, storage_options=ANON)
    sectors = tesscut.query_sectors(coordinates=PI_MEN_TEXT)
    assert sectors["sectorName"][0] == "tess-s0001-4-2"
    assert "available" not in sectors.colnames
    assert proxy.requests == []  # the sector table needs no request
    with pytest.warns(NoResultsWarning, match="are missing"):  # other released sectors
        (hdul,) = tesscut.get_cutouts(coordinates=PI_MEN_TEXT, size=(9, 7))
    local = cutout(cube_file, PI_MEN_TEXT, size=(9, 7))
    assert hdul.filename() == local.filename()
    assert np.array_equal(hdul[1].data["FLUX"], local[1].data["FLUX"])
    paths = tesscut.download_cutouts(coordinates=PI_MEN_TEXT, size=5, sector=1, path=tmp_path)
    assert paths["Local Path"][0].endswith("_5x5_astrocut.fits")


def test_throttling_is_retried(proxy, cube_file):
    cube = open_cube(PREFIX + cube_file.name, ANON)
    proxy.reset()
    proxy.throttle_next = 2
    hdul = cutout(cube, PI_MEN_TEXT, size=(3, 3))
    assert [r[3] for r in proxy.requests].count(503) == 2
    assert np.array_equal(
        hdul[1].data["FLUX"], cutout(cube_file, PI_MEN_TEXT, size=3)[1].data["FLUX"]
    )


def batch_targets(cube_file):
    """Three targets on the test cube, and one on a CCD the bucket has no cube of."""
    cube = open_cube(cube_file)
    on_cube = cube.wcs.pixel_to_world([25, 10, 40], [20, 30, 8])
    elsewhere = SkyCoord(60.0, -70.0, unit="deg")  # sector 1, camera 4, CCD 1 or so
    return Table(
        {
            "id": ["a", "b", "c", "far"],
            "ra": [*on_cube.ra.deg, elsewhere.ra.deg],
            "dec": [*on_cube.dec.deg, elsewhere.dec.deg],
        }
    )


def test_batch_on_s3_with_a_missing_cube_and_a_resume(proxy, cube_file, tmp_path):
    targets = batch_targets(cube_file)
    result = batch_cutouts(
        targets, 5, PREFIX, sectors=[1], out_dir=tmp_path, storage_options=ANON, show_progress=False
    )
    written = result[result["status"] == "written"]
    assert list(written["target"]) == ["a", "b", "c"]
    assert set(written["sector"]) == {1}
    errors = result[result["status"] == "error"]
    assert list(errors["target"]) == ["far"]
    assert "does not exist" in errors["error"][0]
    assert "tess-s0001-4-1-cube.fits" in errors["error"][0]
    for path in written["path"]:
        with fits.open(path) as hdul:
            assert hdul[1].data["FLUX"].shape == (8, 5, 5)
    times = {path: os.stat(path).st_mtime_ns for path in written["path"]}

    forget_cubes()
    proxy.reset()
    again = batch_cutouts(
        targets, 5, PREFIX, sectors=[1], out_dir=tmp_path, storage_options=ANON, show_progress=False
    )
    assert list(again[again["status"] == "skipped"]["target"]) == ["a", "b", "c"]
    assert {path: os.stat(path).st_mtime_ns for path in written["path"]} == times
    # Each cube's headers and table again (the names need the WCS), no pixels.
    cube = open_cube(cube_file)
    table = cube_file.stat().st_size - cube._table_span[0]
    ours = [r for r in proxy.requests if "4-2-cube" in r[1] and r[3] == 206]
    assert [r[4] for r in ours] == [20 * 2880, table]


def test_batch_from_a_local_directory_equals_s3(proxy, cube_file, cube_archive, tmp_path):
    targets = batch_targets(cube_file)[:3]
    local = batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "local", show_progress=False)
    remote = batch_cutouts(
        targets,
        5,
        PREFIX,
        sectors=[1],
        out_dir=tmp_path / "s3",
        storage_options=ANON,
        show_progress=False,
    )
    assert list(local["status"]) == list(remote["status"]) == ["written"] * 3
    for a, b in zip(local["path"], remote["path"], strict=True):
        with fits.open(a) as x, fits.open(b) as y:
            assert np.array_equal(x[1].data["FLUX"], y[1].data["FLUX"])


def test_batch_on_a_dask_cluster_equals_serial_and_spreads_one_cube(
    proxy, cube_file, tmp_path, monkeypatch
):
    distributed = pytest.importorskip("distributed", reason="the cloud extra (dask) is missing")
    import tqdm.auto

    from astro_tesscut import batch

    steps = []

    class Recording(tqdm.auto.tqdm):
        def update(self, n=1):
            steps.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    monkeypatch.setattr(batch, "TASK_TARGETS", 1)  # a task per target: one cube, many tasks
    targets = batch_targets(cube_file)
    serial = batch_cutouts(
        targets,
        5,
        PREFIX,
        sectors=[1],
        out_dir=tmp_path / "serial",
        storage_options=ANON,
        show_progress=False,
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as stream,
    ):
        steps.clear()
        parallel = batch_cutouts(
            targets,
            5,
            PREFIX,
            sectors=[1],
            out_dir=tmp_path / "dask",
            client=client,
            storage_options=ANON,
            show_progress=False,
        )
    # The cube's tasks ran on both workers.
    assert len({task["worker"] for task in stream.data}) == 2
    # The bar moved on as each task (here of one cutout) came back from the cluster.
    assert steps == [1] * len(parallel)
    for column in ("target", "sector", "camera", "ccd", "status"):
        assert list(parallel[column]) == list(serial[column])
    for a, b in zip(serial["path"], parallel["path"], strict=True):
        if a:
            assert Path(a).read_bytes() == Path(b).read_bytes()


def test_batch_on_s3_gives_a_row_to_a_target_no_cube_could_hold(proxy, cube_file, tmp_path):
    targets = batch_targets(cube_file)[:1]
    targets.add_row({"id": "pole", "ra": 270.0, "dec": 66.56})  # never in sector 1
    result = batch_cutouts(
        targets, 5, PREFIX, sectors=[1], out_dir=tmp_path, storage_options=ANON, show_progress=False
    )
    assert list(result["target"]) == ["a", "pole"]
    assert list(result["status"]) == ["written", "no data"]
    assert result["error"][1].startswith("sector 1 did not observe it (observed in sectors ")
    assert (result["sector"][1], result["path"][1]) == (0, "")


def test_batch_bad_input(tmp_path):
    with pytest.raises(ValueError, match="^targets: the table has no ra"):
        batch_cutouts(Table({"x": [1]}), 5, PREFIX, out_dir=tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="^out_dir: "):
        batch_cutouts(SkyCoord([1], [2], unit="deg"), 5, PREFIX, out_dir=tmp_path / "file")
    with pytest.raises(ValueError, match="^storage_options: "):
        batch_cutouts(
            SkyCoord([1], [2], unit="deg"), 5, PREFIX, out_dir=tmp_path, storage_options="anon"
        )


def test_command_line_on_s3(proxy, tmp_path, capsys):
    from astro_tesscut.cli import main

    code = main(
        [
            "cutout",
            PI_MEN_TEXT,
            "--size",
            "5",
            "--sector",
            "1",
            "--archive",
            PREFIX,
            "--anon",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip().endswith("_5x5_astrocut.fits")


@pytest.mark.parametrize(
    ("options", "config"),
    [
        ({"anon": True}, {"skip_signature": True}),
        (
            {"key": "k", "secret": "s", "token": "t"},
            {"access_key_id": "k", "secret_access_key": "s", "session_token": "t"},
        ),
        (
            {
                "anon": True,
                "client_kwargs": {"endpoint_url": "https://s3.example", "region_name": "x"},
            },
            {"skip_signature": True, "endpoint": "https://s3.example", "region": "x"},
        ),
        (
            {"anon": True, "endpoint_url": "https://s3.example"},
            {"skip_signature": True, "endpoint": "https://s3.example"},
        ),
        ({"anon": True, "requester_pays": True}, {"skip_signature": True, "request_payer": True}),
    ],
)
def test_s3fs_options_translate_to_obstore(options, config, monkeypatch):
    from astro_tesscut.cube.s3_source import obstore_config

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = obstore_config(options)
    assert settings["config"] == config
    assert settings["client_options"] == {}  # https: no plain HTTP allowed
    assert settings["requests"] == 64


def test_masts_bucket_is_read_in_its_region_whatever_the_environment(monkeypatch):
    from astro_tesscut.cube import s3_source

    made = []
    monkeypatch.setattr(s3_source, "_store", lambda bucket, settings: made.append(settings))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings = s3_source.obstore_config({"anon": True})
    s3_source.S3Source(PREFIX + "tess-s0001-4-2-cube.fits", settings)
    s3_source.S3Source("s3://another/tess-s0001-4-2-cube.fits", settings)
    regions = [json.loads(settings)["config"].get("region") for settings in made]
    assert regions == ["us-east-1", None]  # other buckets: the environment's, as obstore reads it


def test_connection_limits_and_plain_http_where_asked(monkeypatch):
    from astro_tesscut.cube.s3_source import obstore_config

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    settings = obstore_config({"anon": True, "config_kwargs": {"max_pool_connections": 20}})
    assert settings["requests"] == 20
    assert settings["client_options"] == {"allow_http": True}
    assert settings["config"]["endpoint"] == "http://127.0.0.1:9000"  # a store per endpoint


@pytest.mark.parametrize(
    "options",
    [
        {"anon": True, "default_block_size": 2**20},  # an s3fs option obstore has no word for
        {"anon": True, "client_kwargs": {"verify": False}},
        {"anon": True, "config_kwargs": {"retries": {"max_attempts": 2}}},
    ],
)
def test_options_only_s3fs_knows_leave_the_reading_to_s3fs(proxy, corner_cube_file, options):
    from astro_tesscut.cube.fsspec_source import FsspecSource
    from astro_tesscut.cube.s3_source import obstore_config

    assert obstore_config(options) is None
    url = f"s3://stpubdata/{CORNER}{corner_cube_file.name}"
    cube = open_cube(url, options)
    assert isinstance(cube.source, FsspecSource)
    target = [float(v) for v in open_cube(corner_cube_file).projection.pixel_to_world(25.3, 30.2)]
    ours, theirs = cutout(cube, target, size=(9, 7)), cutout(corner_cube_file, target, size=(9, 7))
    assert np.array_equal(ours[1].data["FLUX"], theirs[1].data["FLUX"])
    # s3fs's pool is widened by default, the user's own choice kept.
    assert cube.source.fs.config_kwargs["max_pool_connections"] == 64


def test_a_profile_without_keys_leaves_the_reading_to_s3fs(monkeypatch, tmp_path):
    from astro_tesscut.cube.s3_source import obstore_config

    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert obstore_config({}) is not None  # nothing configured: obstore reads the environment
    (tmp_path / "credentials").write_text("[default]\naws_access_key_id = k\n")
    assert obstore_config({}) is None  # a profile only s3fs (botocore) reads


def test_any_fsspec_url_reads_the_same_pixels(proxy, corner_cube_file):
    # The bucket's objects are public, so plain HTTP (fsspec's HTTPFileSystem) reads them too.
    url = f"{proxy.url}/stpubdata/{CORNER}{corner_cube_file.name}"
    cube = open_cube(url)
    target = [float(v) for v in open_cube(corner_cube_file).projection.pixel_to_world(25.3, 30.2)]
    ours = cutout(cube, target, size=(9, 7))
    theirs = cutout(f"file://{corner_cube_file}", target, size=(9, 7))
    assert ours.filename() == theirs.filename()
    assert np.array_equal(ours[1].data["FLUX"], theirs[1].data["FLUX"])
