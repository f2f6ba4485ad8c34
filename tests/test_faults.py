"""Fault injection against a real HTTP server on 127.0.0.1 (pytest-httpserver).

Real sockets, streaming and timeouts: for every fault the client either
recovers or raises a clear exception, and leaves no partial file in the
output directory and no entry but good ones in the cache. Retries are few
and their waits instant, so every request loop here is bounded.
"""

import io
import json
import time
import zipfile

import pytest
from synthetic import make_cutout_zip, make_tpf_file, make_zip
from werkzeug import Response

from astro_tesscut import (
    CorruptResponseError,
    NoResultsWarning,
    ServiceError,
    TessCutClass,
    conf,
)
from astro_tesscut.backends.service import MastService
from astro_tesscut.sizes import parse_size
from astro_tesscut.targets import parse_target

API = "/tesscut/api/v0.1/"
RA, DEC = "84.2911879979852", "-80.4691197969941"
QUERY = {"ra": RA, "dec": DEC, "x": "10", "y": "10", "units": "px", "sector": "1"}
RETRIES = 2

GOOD_ZIP = make_cutout_zip({"sector": 1, "shape": (10, 10), "n_cadences": 40})
TPF_NAME, TPF_BYTES = make_tpf_file(sector=1, shape=(10, 10), n_cadences=40)


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@pytest.fixture
def service(httpserver, tmp_path):
    """The client pointed at the local server, with a private cache and fast, few retries."""
    with (
        conf.set_temp("server", httpserver.url_for(API)),
        conf.set_temp("timeout", 2.0),
        conf.set_temp("max_retries", RETRIES),
        conf.set_temp("cache_dir", str(tmp_path / "cache")),
    ):
        yield httpserver
    httpserver.check_assertions()


def cutout_request(server, oneshot=False):
    expect = server.expect_oneshot_request if oneshot else server.expect_request
    return expect(API + "astrocut", method="GET", query_string=QUERY)


def fetch(how, out):
    """Run the public API one of three ways; return what it produced."""
    client = TessCutClass()
    kwargs = {"coordinates": f"{RA} {DEC}", "size": 10, "sector": 1}
    if how == "get":
        return [h.filename() for h in client.get_cutouts(**kwargs)]
    paths = client.download_cutouts(path=out, cache=how == "download-cached", **kwargs)
    return [p.split("/")[-1] for p in paths["Local Path"]]


HOW = ["get", "download-cached", "download-direct"]


def assert_clean(tmp_path, how, *, written):
    """Only complete files under final names, in the output directory and in the cache."""
    out = tmp_path / "out"
    expected_out = written if how.startswith("download") else []
    assert sorted(p.name for p in out.iterdir()) == sorted(expected_out)
    cache = tmp_path / "cache"
    hidden = [p for p in cache.rglob(".*") if p.name != ".incoming"] if cache.exists() else []
    assert hidden == [], "a staging or temporary file was left in the cache"
    incoming = cache / ".incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []
    cached = sorted(p.name for p in cache.rglob("*.fits")) if cache.exists() else []
    assert cached == (sorted(written) if how != "download-direct" else [])


@pytest.fixture
def out(tmp_path):
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


# HTTP errors


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_transient_error_then_success(service, tmp_path, out, how, status, instant_retries):
    headers = {"Retry-After": "3"} if status == 429 else None
    cutout_request(service, oneshot=True).respond_with_data("busy", status=status, headers=headers)
    cutout_request(service).respond_with_data(GOOD_ZIP, content_type="application/zip")
    assert fetch(how, out) == [TPF_NAME]
    assert len(service.log) == 2
    if status == 429:
        assert instant_retries == [3.0]
    assert_clean(tmp_path, how, written=[TPF_NAME])


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_persistent_error(service, tmp_path, out, how, status):
    cutout_request(service).respond_with_json({"msg": "overloaded"}, status=status)
    with pytest.raises(ServiceError, match=f"sector 1: HTTP {status} from .*: overloaded") as info:
        fetch(how, out)
    assert info.value.status_code == status
    assert info.value.attempts == RETRIES + 1
    assert len(service.log) == RETRIES + 1
    assert_clean(tmp_path, how, written=[])


# broken transfers


def _cut_off_after(nbytes):
    """A handler that promises the whole zip but hangs up after ``nbytes``."""

    def handler(request):
        def body():
            yield GOOD_ZIP[:nbytes]

        headers = {"Content-Length": str(len(GOOD_ZIP)), "Connection": "close"}
        return Response(body(), headers=headers, content_type="application/zip")

    return handler


@pytest.mark.parametrize("how", HOW)
def test_connection_closed_mid_body_then_success(service, tmp_path, out, how):
    cutout_request(service, oneshot=True).respond_with_handler(_cut_off_after(5000))
    cutout_request(service).respond_with_data(GOOD_ZIP, content_type="application/zip")
    assert fetch(how, out) == [TPF_NAME]
    assert len(service.log) == 2
    assert_clean(tmp_path, how, written=[TPF_NAME])


@pytest.mark.parametrize("how", HOW)
def test_connection_closed_mid_body_every_time(service, tmp_path, out, how):
    cutout_request(service).respond_with_handler(_cut_off_after(5000))
    # urllib3 2 reports the broken body; with urllib3 1 the client counts the bytes itself.
    broken = "sector 1: no answer from .*: (the request failed|the connection closed after 5000)"
    with pytest.raises(ServiceError, match=broken) as info:
        fetch(how, out)
    assert info.value.status_code is None
    assert len(service.log) == RETRIES + 1
    assert_clean(tmp_path, how, written=[])


# Bytes that are no prefix of GOOD_ZIP: what a broken first answer left must not stay
# in front of the good one (a zip reader would skip such a prefix without a word).
JUNK = bytes((7 * i + 3) % 251 for i in range(5000))


def _junk_then_hang_up(request):
    """A handler that promises the whole zip, sends other bytes, and hangs up."""
    headers = {"Content-Length": str(len(GOOD_ZIP)), "Connection": "close"}
    return Response(iter([JUNK]), headers=headers, content_type="application/zip")


class CountingProgress:
    """A progress bar that only sums what it is told."""

    def __init__(self):
        self.expected = self.received = 0

    def expect(self, nbytes):
        self.expected += nbytes

    def advance(self, nbytes):
        self.received += nbytes


def test_a_retry_starts_from_an_empty_sink_and_takes_back_the_progress(service):
    cutout_request(service, oneshot=True).respond_with_handler(_junk_then_hang_up)
    cutout_request(service).respond_with_data(GOOD_ZIP, content_type="application/zip")
    assert not GOOD_ZIP.startswith(JUNK)
    sink, progress = io.BytesIO(), CountingProgress()
    target = parse_target(coordinates=f"{RA} {DEC}")
    MastService().fetch_cutouts(target, parse_size(10), 1, sink, progress=progress)
    assert len(service.log) == 2
    assert sink.getvalue() == GOOD_ZIP  # the junk is gone, not merely skipped
    assert (progress.expected, progress.received) == (len(GOOD_ZIP), len(GOOD_ZIP))


def test_a_zip_kept_as_sent_after_a_broken_answer_is_the_good_answer_alone(service, out):
    cutout_request(service, oneshot=True).respond_with_handler(_junk_then_hang_up)
    cutout_request(service).respond_with_data(GOOD_ZIP, content_type="application/zip")
    paths = TessCutClass().download_cutouts(
        coordinates=f"{RA} {DEC}", size=10, sector=1, path=out, inflate=False
    )
    (path,) = paths["Local Path"]
    assert path.endswith("_s0001.zip")
    with open(path, "rb") as kept:
        assert kept.read() == GOOD_ZIP
    assert [p.name for p in out.iterdir()] == [path.split("/")[-1]]


@pytest.mark.parametrize("how", HOW)
def test_server_slower_than_the_timeout(service, tmp_path, out, how):
    def slow(request):
        time.sleep(0.6)
        return Response(GOOD_ZIP, content_type="application/zip")

    cutout_request(service).respond_with_handler(slow)
    with (
        conf.set_temp("timeout", 0.2),
        pytest.raises(ServiceError, match=r"no answer within 0.2 s") as info,
    ):
        fetch(how, out)
    assert info.value.attempts == RETRIES + 1
    assert_clean(tmp_path, how, written=[])
    # The server is still sleeping through the abandoned requests; let it finish
    # them here rather than in the next test.
    deadline = time.monotonic() + 10
    while len(service.log) < RETRIES + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(service.log) == RETRIES + 1


# answers that are not what was asked for


BAD_BODIES = {
    "truncated-zip": (GOOD_ZIP[: len(GOOD_ZIP) // 2], "neither a zip of cutouts"),
    "non-fits-member": (make_zip({TPF_NAME: b"<html>Error</html>" * 500}), "not a readable FITS"),
    "escaping-member": (make_zip({"../" + TPF_NAME: TPF_BYTES}), "not a plain file name"),
    "truncated-fits": (make_zip({TPF_NAME: TPF_BYTES[:-4000]}), "truncated"),
    "other-json": (json.dumps({"results": []}).encode(), "neither a zip of cutouts"),
    "html": (b"<html><body>Maintenance</body></html>", "neither a zip of cutouts"),
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("fault", BAD_BODIES)
def test_unusable_answer(service, tmp_path, out, how, fault):
    body, words = BAD_BODIES[fault]
    cutout_request(service).respond_with_data(body, content_type="application/zip")
    with pytest.raises(CorruptResponseError, match=words):
        fetch(how, out)
    assert len(service.log) == 1  # the same answer would come again: not retried
    assert_clean(tmp_path, how, written=[])
    assert not (tmp_path / TPF_NAME).exists()  # nothing escaped the output directory


@pytest.mark.parametrize("how", HOW)
def test_no_data_json_where_a_zip_was_expected(service, tmp_path, out, how):
    cutout_request(service).respond_with_json({"msg": "No data for this sector"})
    with pytest.warns(NoResultsWarning, match="No data for this sector"):
        assert fetch(how, out) == []
    assert_clean(tmp_path, how, written=[])


@pytest.mark.parametrize("how", HOW)
def test_absurd_inflated_size_is_refused(service, tmp_path, out, how):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(TPF_NAME, bytes(8 * 2**20))  # 8 MiB of zeros, a few kB zipped
    cutout_request(service).respond_with_data(buffer.getvalue(), content_type="application/zip")
    with (
        conf.set_temp("max_inflated_bytes", 2**20),
        pytest.raises(CorruptResponseError, match="would inflate to 8,388,608 bytes"),
    ):
        fetch(how, out)
    assert_clean(tmp_path, how, written=[])


def test_invalid_json_sector_list(service):
    service.expect_request(
        API + "sector", query_string={"ra": RA, "dec": DEC, "radius": "0.0"}
    ).respond_with_data('{"results": [', content_type="application/json")
    with pytest.raises(CorruptResponseError, match="not valid JSON"):
        TessCutClass().query_sectors(coordinates=f"{RA} {DEC}")
    assert len(service.log) == 1


def test_a_user_file_survives_every_failed_download(service, out):
    precious = out / TPF_NAME
    precious.write_bytes(b"the user's copy")
    cutout_request(service).respond_with_data(GOOD_ZIP[:-50], content_type="application/zip")
    for how in ("download-cached", "download-direct"):
        with pytest.raises(CorruptResponseError):
            fetch(how, out)
    assert precious.read_bytes() == b"the user's copy"
    assert list(out.iterdir()) == [precious]


# the TIC's cone search, through the same requests


def tic_columns_request(server):
    return server.expect_request(
        "/portal/Mashup/Mashup.asmx/columnsconfig",
        method="POST",
        data="colConfigId=Mast.Catalogs.Tic.Cone",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_tic_transient_error_then_success(service, instant_retries):
    from conftest import load_json

    tic_columns_request(service).respond_with_json(load_json("tic_columns_config.json"))
    invoke = "/api/v0/invoke"
    service.expect_oneshot_request(invoke, method="POST").respond_with_data("busy", status=502)
    service.expect_request(invoke, method="POST").respond_with_json(
        load_json("tic_cone_pi_men.json")
    )
    stars = TessCutClass().query_tic(coordinates=f"{RA} {DEC}")
    assert len(stars) == 5
    assert [request.path for request, _ in service.log] == [
        "/portal/Mashup/Mashup.asmx/columnsconfig",
        invoke,
        invoke,
    ]
    assert len(instant_retries) == 1


@pytest.mark.parametrize("status", [503, 500])
def test_tic_persistent_error_is_one_line(service, status):
    tic_columns_request(service).respond_with_json(
        {"msg": "overloaded\n\x1b[2J right now"}, status=status
    )
    with pytest.raises(ServiceError) as info:
        TessCutClass().query_tic(coordinates=f"{RA} {DEC}")
    assert str(info.value) == (
        f"HTTP {status} from {service.url_for('/portal/Mashup/Mashup.asmx/columnsconfig')}: "
        f"the TIC query failed: overloaded [2J right now (gave up after {RETRIES + 1} attempts)"
    )
    assert info.value.status_code == status
    assert len(service.log) == RETRIES + 1
