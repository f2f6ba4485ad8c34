"""Failures to reach a server at all, as errors a person can act on: one short line naming
the server, a `ServiceError`, and no retries where trying again cannot help.

Nothing here leaves the machine: a name that does not resolve is
``socket.getaddrinfo`` raising what the resolver raises without a network, and
a server nobody answers at is a closed port on 127.0.0.1.
"""

import socket

import pytest

from astro_tesscut import TessCutClass
from astro_tesscut.exceptions import InvalidFileError, ServiceError
from astro_tesscut.transport import NO_SUCH_NAME, server_of, unreachable

PI_MEN = "84.2911879979852 -80.4691197969941"
SERVER = "https://tesscut.example.org/tesscut/api/v0.1/"


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_dns(monkeypatch):
    """Every name lookup fails as it does without a network; the hosts asked are listed."""
    asked = []

    def lookup(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return asked


def assert_one_short_line(error):
    text = str(error)
    assert "\n" not in text
    assert len(text) < 300, text
    assert "Traceback" not in text
    assert "object at 0x" not in text


def test_a_name_that_does_not_resolve_is_tried_once_and_said_in_one_line(no_dns, instant_retries):
    client = TessCutClass(server=SERVER)
    with pytest.raises(ServiceError) as info:
        client.query_sectors(coordinates=PI_MEN)
    # One try: no retry, no wait (urllib3 may look up "::1" once, to learn about IPv6).
    assert [host for host in no_dns if host != "::1"] == ["tesscut.example.org"]
    assert instant_retries == []
    error = info.value
    assert error.attempts == 1
    assert error.status_code is None
    assert_one_short_line(error)
    assert "could not reach tesscut.example.org: the name does not resolve" in str(error)
    assert "use --offline or --archive" in str(error)
    assert error.url.startswith(SERVER)


def test_a_cutout_request_without_dns_fails_at_once_too(no_dns, instant_retries, tmp_path):
    client = TessCutClass(server=SERVER)
    with pytest.raises(ServiceError, match="the name does not resolve") as info:
        client.download_cutouts(coordinates=PI_MEN, size=5, sector=1, path=tmp_path)
    assert no_dns.count("tesscut.example.org") == 1
    assert instant_retries == []
    assert_one_short_line(info.value)


def test_a_server_nobody_answers_at_is_retried_and_named_in_one_line(closed_port, instant_retries):
    from astro_tesscut import conf

    client = TessCutClass(server=f"http://127.0.0.1:{closed_port}/tesscut/api/v0.1/")
    with pytest.raises(ServiceError) as info:
        client.query_sectors(coordinates=PI_MEN)
    error = info.value
    # Refused may be a server restarting: worth the retries, unlike a missing name.
    assert error.attempts == int(conf.max_retries) + 1
    assert len(instant_retries) == int(conf.max_retries)
    assert_one_short_line(error)
    assert f"could not reach 127.0.0.1:{closed_port}: connection refused" in str(error)


def cutout_from(archive, storage_options=None):
    client = TessCutClass(archive=archive, storage_options=storage_options)
    return client.get_cutouts(coordinates=PI_MEN, size=5, sector=1)


def test_an_s3_endpoint_nobody_answers_at_is_a_service_error(closed_port):
    """Through obstore (MAST's public bucket, anonymous, as ``--archive s3://... --anon``)."""
    pytest.importorskip("obstore", reason="the cloud extra (obstore) is not installed")
    endpoint = f"http://127.0.0.1:{closed_port}"
    options = {"anon": True, "endpoint_url": endpoint}
    with pytest.raises(ServiceError) as info:
        cutout_from("s3://stpubdata/tess/public/mast/", options)
    error = info.value
    assert not isinstance(error, InvalidFileError)
    assert error.url == "s3://stpubdata/tess/public/mast/tess-s0001-4-2-cube.fits"
    assert_one_short_line(error)
    assert f"could not reach 127.0.0.1:{closed_port}: connection refused" in str(error)
    assert "endpoint_url" in str(error)


def test_an_s3_endpoint_nobody_answers_at_through_s3fs_is_a_service_error(closed_port):
    """Options only s3fs knows leave the reading to s3fs (botocore and aiohttp)."""
    pytest.importorskip("s3fs", reason="the cloud extra (s3fs) is not installed")
    import fsspec

    fsspec.AbstractFileSystem.clear_instance_cache()
    options = {
        "anon": True,
        "endpoint_url": f"http://127.0.0.1:{closed_port}",
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
    }
    try:
        with pytest.raises(ServiceError) as info:
            cutout_from("s3://stpubdata/tess/public/mast/", options)
    finally:
        fsspec.AbstractFileSystem.clear_instance_cache()
    assert_one_short_line(info.value)
    assert f"could not reach 127.0.0.1:{closed_port}: connection refused" in str(info.value)


def test_an_http_archive_nobody_answers_at_is_not_a_missing_cube(closed_port):
    """fsspec's HTTP says a file it could not ask for does not exist."""
    pytest.importorskip("aiohttp", reason="the cloud extra (fsspec's HTTP) is not installed")
    url = f"http://127.0.0.1:{closed_port}/tess/"
    with pytest.raises(ServiceError) as info:
        cutout_from(url)
    assert info.value.url == url + "tess-s0001-4-2-cube.fits"
    assert_one_short_line(info.value)
    assert "connection refused; check the network, or the URL" in str(info.value)


def test_a_missing_cube_on_a_reachable_s3_is_still_an_invalid_file(proxy):
    from conftest import ANON, PREFIX

    from astro_tesscut.cube.ffi_cube import open_cube

    with pytest.raises(InvalidFileError, match="tess-s0009-1-1-cube.fits does not exist"):
        open_cube(PREFIX + "tess-s0009-1-1-cube.fits", ANON)


def raised(function):
    """What ``function`` raised, with everything it was raised from."""
    try:
        function()
    except Exception as exc:  # the point: whatever the client raises
        return exc
    raise AssertionError("nothing was raised")


def test_unreachable_reads_every_clients_account(no_dns, closed_port):
    import requests

    session = requests.Session()
    dns = raised(lambda: session.get("https://tesscut.example.org/x", timeout=5))
    assert unreachable(dns) == NO_SUCH_NAME
    assert server_of(dns, "https://tesscut.example.org/x") == "tesscut.example.org"

    # obstore puts what reqwest said in one message
    rust = OSError(
        "Generic S3 error: Error performing GET http://127.0.0.1:9/b/k in 2.4s, after 10 "
        'retries - HTTP error: error sending request ConnectError("dns error", Custom { '
        'error: "failed to lookup address information: Name or service not known" })'
    )
    assert unreachable(rust) == NO_SUCH_NAME
    assert server_of(rust, "s3://b/k") == "127.0.0.1:9"

    # botocore wraps aiohttp, which wraps the socket's error
    def botocore_like():
        try:
            try:
                raise ConnectionRefusedError(111, "Connect call failed")
            except OSError as exc:
                raise OSError("Cannot connect to host 127.0.0.1:9") from exc
        except OSError as exc:
            raise RuntimeError('Could not connect to the endpoint URL: "http://h:1/b"') from exc

    refused = raised(botocore_like)
    assert unreachable(refused) == "connection refused"
    assert server_of(refused, "s3://b/k") == "h:1"

    # a server that answered says nothing of the kind
    assert unreachable(ValueError("HTTP 404: Not Found")) is None
    assert unreachable(FileNotFoundError("s3://b/k")) is None
