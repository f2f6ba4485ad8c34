"""Test isolation and shared fixtures.

Every test runs with its own astropy config and cache directories (so a
user's settings never leak in and tests never write to the user's home), and
with internet access blocked by pytest-remotedata unless marked
``remote_data``. HTTP is mocked with `responses`.
"""

import gc
import json
import os
import tempfile
import warnings
from pathlib import Path

import pytest
from astropy.config import paths

DATA = Path(__file__).parent / "data"

os.environ.setdefault("MPLBACKEND", "Agg")  # no screen needed, same pixels everywhere

# Fixed before anything imports astropy's config, so no test reads the user's files.
_TMP_HOME = tempfile.mkdtemp(prefix="astro_tesscut-tests-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TMP_HOME, "config")
os.environ["XDG_CACHE_HOME"] = os.path.join(_TMP_HOME, "cache")
for _dir in ("config", "cache"):
    os.makedirs(os.path.join(_TMP_HOME, _dir, "astropy"), exist_ok=True)


@pytest.fixture(scope="session", autouse=True)
def collect_pooled_connections():
    """At the end, collect what third-party connection pools (s3fs's aiohttp, botocore,
    dask) still hold, where their sockets are expected to close, rather than in the
    interpreter's last collection, after pytest has stopped watching warnings."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(autouse=True)
def isolated_astropy_dirs(tmp_path_factory):
    """A fresh astropy config and cache directory for each test."""
    config_dir = tmp_path_factory.mktemp("config")
    cache_dir = tmp_path_factory.mktemp("cache")
    with paths.set_temp_config(str(config_dir)), paths.set_temp_cache(str(cache_dir)):
        yield


@pytest.fixture
def client():
    """A client with the (test-isolated) default settings; modules with other clients
    define their own."""
    from astro_tesscut import TessCutClass

    return TessCutClass()


@pytest.fixture
def one_request():
    """Every sector in one request, as TESScut itself (and astroquery) ask without a sector."""
    from astro_tesscut import conf

    with conf.set_temp("max_workers", 1):
        yield


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch):
    """Retries wait no real time; ``instant_retries`` lists the waits asked for."""
    from astro_tesscut import retries

    waits = []
    monkeypatch.setattr(retries, "_sleep", waits.append)
    return waits


def load_json(name):
    """A JSON fixture from ``tests/data``."""
    return json.loads((DATA / name).read_text())


# A small region of sector 1, camera 4, CCD 2 around Pi Mensae, with the real WCS.
FFI_REGION = {"sector": 1, "camera": 4, "ccd": 2, "shape": (40, 50), "corner": (1600, 240)}
PI_MEN = (84.2911879979852, -80.4691197969941)


@pytest.fixture(scope="session")
def ffi_files(tmp_path_factory):
    """Eight synthetic SPOC FFIs of a 40 x 50 pixel region around Pi Mensae."""
    from astro_tesscut.simulate import write_ffis

    directory = tmp_path_factory.mktemp("ffis")
    stars = [(*PI_MEN, 2e5), (84.257651, -80.46656, 3e3)]
    return write_ffis(directory, n_frames=8, stars=stars, seed=1, **FFI_REGION)


@pytest.fixture(scope="session")
def cube_file(ffi_files, tmp_path_factory):
    """Our cube of `ffi_files`, named as MAST names cubes."""
    from astro_tesscut.cube.build import build_cube

    path = tmp_path_factory.mktemp("cube") / "tess-s0001-4-2-cube.fits"
    return build_cube(ffi_files, path, show_progress=False)


@pytest.fixture
def cube_archive(cube_file, tmp_path):
    """A directory holding the cube, in a subdirectory as a mirror might."""
    directory = tmp_path / "mirror" / "s0001"
    directory.mkdir(parents=True)
    (directory / cube_file.name).symlink_to(cube_file)
    return tmp_path / "mirror"


@pytest.fixture(scope="session")
def corner_cube_file(tmp_path_factory):
    """A cube of the first 40 x 50 pixels of the FFIs: its pixels start where MAST's
    whole-FFI cubes start, so the pointing model's guess of a cutout's rows holds."""
    from astro_tesscut.cube.build import build_cube
    from astro_tesscut.simulate import write_ffis

    region = {**FFI_REGION, "corner": (0, 0)}
    ffis = write_ffis(tmp_path_factory.mktemp("corner-ffis"), n_frames=8, seed=2, **region)
    path = tmp_path_factory.mktemp("corner-cube") / "tess-s0001-4-2-cube.fits"
    return build_cube(ffis, path, show_progress=False)


@pytest.fixture
def mock_http():
    """`responses` mocking every HTTP call; an unexpected request fails the test."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


# MAST's public bucket as a moto S3 on 127.0.0.1 holds the test cubes (the `s3` fixture).
PREFIX = "s3://stpubdata/tess/public/mast/"
CORNER = "tess/public/corner/"  # a cube whose pixels start where a whole FFI's do
ANON = {"anon": True}


@pytest.fixture(scope="session")
def s3(cube_file, corner_cube_file):
    """moto on 127.0.0.1 behind a counting proxy, holding the test cube as MAST would."""
    pytest.importorskip("s3fs", reason="the cloud extra (s3fs, fsspec) is not installed")
    pytest.importorskip("obstore", reason="the cloud extra (obstore) is not installed")
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    import boto3
    import fsspec
    from moto.server import ThreadedMotoServer
    from s3_server import CountingProxy

    from astro_tesscut.cube.ffi_cube import forget_cubes

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    proxy = CountingProxy((host, port))
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        )
    }
    # botocore, and so s3fs, honour AWS_ENDPOINT_URL: every S3 client goes to the proxy.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": proxy.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    fsspec.AbstractFileSystem.clear_instance_cache()
    client = boto3.client(
        "s3",
        endpoint_url=proxy.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="stpubdata")
    for cube, prefix in ((cube_file, "tess/public/mast/"), (corner_cube_file, CORNER)):
        client.upload_file(
            str(cube), "stpubdata", prefix + cube.name, ExtraArgs={"ACL": "public-read"}
        )
    client.close()
    yield proxy
    forget_cubes()
    fsspec.AbstractFileSystem.clear_instance_cache()
    # s3fs and botocore keep pooled connections until their owners are collected: collect
    # them here, where their closing is expected, not at some later test's boundary.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    proxy.stop()
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    fsspec.AbstractFileSystem.clear_instance_cache()


@pytest.fixture
def proxy(s3):
    """The S3 server's counting proxy, its counts reset, with no cube opened in the process."""
    from astro_tesscut.cube.ffi_cube import forget_cubes

    forget_cubes()
    s3.reset()
    return s3


# Code a child process runs to know its own peak memory: ``peak_mib()``. Linux keeps
# ru_maxrss across exec, so a child would report the test process's peak if that was
# larger; VmHWM, where there is one, is the child's alone.
PEAK_MIB = """
def peak_mib():
    import resource, sys
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 2**10
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        return peak / (2**20 if sys.platform == "darwin" else 2**10)
"""
