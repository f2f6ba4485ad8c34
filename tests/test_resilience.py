"""Per-sector concurrency, retries and the cutout cache, against mocked HTTP."""

import io

import pytest
from conftest import load_json
from responses.matchers import query_param_matcher
from synthetic import make_cutout_zip, make_tpf, make_zip, tpf_name

from astro_tesscut import (
    NoResultsWarning,
    PartialResultError,
    ServiceError,
    TessCutClass,
    conf,
)
from astro_tesscut.retries import RetryPolicy, parse_retry_after
from astro_tesscut.sizes import parse_size

SERVER = "https://mast.stsci.edu/tesscut/api/v0.1/"
RA, DEC = "84.2911879979852", "-80.4691197969941"
COORDS = f"{RA} {DEC}"
CUTOUT = {"ra": RA, "dec": DEC, "x": "10", "y": "10", "units": "px"}
# sector_unpadded.json lists sectors 13, 1, 4.
SECTORS = {1: (4, 2), 4: (4, 3), 13: (3, 3)}


def sector_zip(sector):
    camera, ccd = SECTORS[sector]
    return make_cutout_zip(
        {"sector": sector, "camera": camera, "ccd": ccd, "shape": (10, 10), "seed": sector}
    )


# A cutout without a sector looks its sectors up within its half-diagonal (10 x 10 px).
CUTOUT_RADIUS = str(parse_size(10).radius_deg())


def mock_sector_list(rsps):
    rsps.get(
        SERVER + "sector",
        json=load_json("sector_unpadded.json"),
        match=[query_param_matcher({"ra": RA, "dec": DEC, "radius": CUTOUT_RADIUS})],
    )


def mock_sector_cutout(rsps, sector, *, status=200, body=None, headers=None):
    return rsps.get(
        SERVER + "astrocut",
        status=status,
        body=sector_zip(sector) if body is None else body,
        headers=headers or {},
        content_type="application/zip",
        match=[query_param_matcher({**CUTOUT, "sector": str(sector)})],
    )


def cutout_calls(rsps):
    return [c for c in rsps.calls if "/astrocut?" in c.request.url]


def summary(hduls):
    return [(h.filename(), h["PIXELS"].data["FLUX"].sum()) for h in hduls]


# per-sector concurrency


def test_per_sector_requests_equal_the_single_request(mock_http, client):
    mock_sector_list(mock_http)
    for sector in SECTORS:
        mock_sector_cutout(mock_http, sector)
    mock_http.get(
        SERVER + "astrocut",
        body=make_cutout_zip(
            *(
                {"sector": s, "camera": c, "ccd": d, "shape": (10, 10), "seed": s}
                for s, (c, d) in SECTORS.items()
            )
        ),
        content_type="application/zip",
        match=[query_param_matcher(CUTOUT)],
    )
    concurrent = client.get_cutouts(coordinates=COORDS, size=10, cache=False)
    with conf.set_temp("max_workers", 1):
        single = client.get_cutouts(coordinates=COORDS, size=10, cache=False)
    assert summary(concurrent) == summary(single)
    assert [h[0].header["SECTOR"] for h in concurrent] == [1, 4, 13]


def test_one_failed_sector_does_not_cost_the_others(mock_http, client, instant_retries):
    mock_sector_list(mock_http)
    for sector in (1, 13):
        mock_sector_cutout(mock_http, sector)
    mock_sector_cutout(mock_http, 4, status=503, body=b"Service Unavailable")
    with pytest.raises(PartialResultError) as info:
        client.get_cutouts(coordinates=COORDS, size=10)
    error = info.value
    assert [h[0].header["SECTOR"] for h in error.results] == [1, 13]
    assert list(error.failures) == [4]
    failure = error.failures[4]
    assert (failure.status_code, failure.sector, failure.attempts) == (503, 4, 5)
    assert "sector 4: HTTP 503" in str(failure)
    assert "gave up after 5 attempts" in str(failure)
    assert "sector 4" in str(error)
    assert len(instant_retries) == 4  # the failed sector alone was retried

    # The sectors that arrived are cached: asking again fetches sector 4 only.
    mock_http.reset()
    mock_sector_list(mock_http)
    mock_sector_cutout(mock_http, 4)
    cutouts = client.get_cutouts(coordinates=COORDS, size=10)
    assert [h[0].header["SECTOR"] for h in cutouts] == [1, 4, 13]
    assert [c.request.params["sector"] for c in cutout_calls(mock_http)] == ["4"]


def test_failed_sector_download_keeps_the_files_that_arrived(mock_http, client, tmp_path):
    mock_sector_list(mock_http)
    mock_sector_cutout(mock_http, 1)
    mock_sector_cutout(mock_http, 4)
    mock_sector_cutout(mock_http, 13, status=500, body=b"boom")
    with pytest.raises(PartialResultError, match="sector 13: HTTP 500") as info:
        client.download_cutouts(coordinates=COORDS, size=10, path=tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert [str(tmp_path / name) for name in written] == [str(p) for p in info.value.results]
    assert [name[:14] for name in written] == ["tess-s0001-4-2", "tess-s0004-4-3"]


def test_sector_without_data_warns_and_the_rest_arrive(mock_http, client):
    mock_sector_list(mock_http)
    mock_sector_cutout(mock_http, 1)
    mock_sector_cutout(mock_http, 4)
    mock_sector_cutout(mock_http, 13, body=b'{"msg": "sector 13 not released"}')
    with pytest.warns(NoResultsWarning, match="sector 13 not released"):
        cutouts = client.get_cutouts(coordinates=COORDS, size=10)
    assert len(cutouts) == 2


def test_target_in_no_sector(mock_http, client):
    mock_http.get(
        SERVER + "sector",
        json=load_json("sector_empty.json"),
        match=[query_param_matcher({"ra": RA, "dec": DEC, "radius": CUTOUT_RADIUS})],
    )
    with pytest.warns(NoResultsWarning, match="no TESS sector observed"):
        assert client.get_cutouts(coordinates=COORDS, size=10) == []


def test_bad_max_workers(mock_http, client):
    with conf.set_temp("max_workers", 0), pytest.raises(ValueError, match="max_workers"):
        client.get_cutouts(coordinates=COORDS, size=10)


# retries


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_then_success(mock_http, client, instant_retries, status):
    mock_sector_cutout(mock_http, 1, status=status, body=b"busy")
    mock_sector_cutout(mock_http, 1)
    (hdul,) = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert hdul[0].header["SECTOR"] == 1
    assert len(cutout_calls(mock_http)) == 2
    assert len(instant_retries) == 1
    assert 0 <= instant_retries[0] <= conf.retry_backoff


def test_retry_after_is_honoured(mock_http, client, instant_retries):
    mock_sector_cutout(mock_http, 1, status=429, body=b"slow down", headers={"Retry-After": "7"})
    mock_sector_cutout(mock_http, 1)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert instant_retries == [7.0]


def test_retries_stop_at_the_budget(mock_http, client, instant_retries):
    mock_sector_cutout(mock_http, 1, status=503, body=b"maintenance", headers={"Retry-After": "50"})
    with conf.set_temp("retry_budget", 120), pytest.raises(ServiceError) as info:
        client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert instant_retries == [50.0, 50.0]
    assert info.value.attempts == 3


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(mock_http, client, instant_retries, status):
    mock_sector_cutout(mock_http, 1, status=status, body=b'{"msg": "bad request"}')
    with pytest.raises(ServiceError, match="bad request") as info:
        client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert (info.value.status_code, info.value.attempts) == (status, 1)
    assert instant_retries == []


def test_backoff_grows_with_jitter():
    policy = RetryPolicy(retries=10, backoff=1.0, max_wait=5.0)
    waits = [policy.wait(n) for n in range(8) for _ in range(50)]
    assert all(0 <= w <= 5.0 for w in waits)
    assert max(waits[:50]) <= 1.0 < max(waits[100:150])  # retry 2 may wait up to 4 s
    assert len(set(waits)) > 300  # jittered, not fixed


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("12", 12.0), ("0", 0.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0)],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds


# the cutout cache


def test_cache_serves_repeated_requests(mock_http, client):
    mock_sector_cutout(mock_http, 1)
    first = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    second = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert summary(first) == summary(second)
    assert len(cutout_calls(mock_http)) == 1


def test_cache_can_be_bypassed_and_cleared(mock_http, client):
    mock_sector_cutout(mock_http, 1)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1, cache=False)
    with conf.set_temp("cache", False):
        client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    client.clear_cache()
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert len(cutout_calls(mock_http)) == 4


def test_cache_keys_on_the_whole_request(mock_http, client):
    mock_sector_cutout(mock_http, 1)
    mock_http.get(
        SERVER + "astrocut",
        body=make_cutout_zip({"sector": 1, "shape": (12, 10)}),
        content_type="application/zip",
        match=[query_param_matcher({**CUTOUT, "y": "12", "sector": "1"})],
    )
    a = client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    b = client.get_cutouts(coordinates=COORDS, size=(12, 10), sector=1)
    assert a[0]["APERTURE"].data.shape == (10, 10)
    assert b[0]["APERTURE"].data.shape == (12, 10)


def _flip_a_byte(cache_dir, where):
    from astropy.io import fits

    (path,) = sorted(cache_dir.rglob("*.fits"))
    with fits.open(path) as hdul:
        info = hdul.fileinfo(1)
    offset = info["datLoc"] - 100 if where == "header" else info["datLoc"] + 100
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x80  # one flipped bit: only the checks can tell
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["header", "data"])
def test_corrupt_cache_entry_is_discarded_and_fetched_again(mock_http, tmp_path, where):
    client = TessCutClass(cache_dir=tmp_path / "cache")
    buffer = io.BytesIO()
    make_tpf(sector=1, shape=(10, 10)).writeto(buffer, checksum=True)
    name = tpf_name(sector=1, camera=4, ccd=2, ra=float(RA), dec=float(DEC), nx=10, ny=10)
    mock_sector_cutout(mock_http, 1, body=make_zip({name: buffer.getvalue()}))
    first = summary(client.get_cutouts(coordinates=COORDS, size=10, sector=1))
    _flip_a_byte(tmp_path / "cache", where)
    again = summary(client.get_cutouts(coordinates=COORDS, size=10, sector=1))
    assert again == first
    assert len(cutout_calls(mock_http)) == 2
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]
    assert leftovers == [".incoming"]
    assert list((tmp_path / "cache" / ".incoming").iterdir()) == []


def test_download_from_cache_writes_verified_copies(mock_http, client, tmp_path):
    mock_sector_cutout(mock_http, 1)
    client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    paths = client.download_cutouts(coordinates=COORDS, size=10, sector=1, path=tmp_path)
    assert len(cutout_calls(mock_http)) == 1
    (path,) = paths["Local Path"]
    assert path.startswith(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [path.split("/")[-1]]


def test_conf_cache_dir(mock_http, client, tmp_path):
    mock_sector_cutout(mock_http, 1)
    with conf.set_temp("cache_dir", str(tmp_path / "elsewhere")):
        client.get_cutouts(coordinates=COORDS, size=10, sector=1)
    assert len(list((tmp_path / "elsewhere").rglob("*.fits"))) == 1


def test_progress_and_cache_flags_are_checked(client):
    with pytest.raises(TypeError, match="^show_progress: "):
        client.get_cutouts(coordinates=COORDS, show_progress="yes")
    with pytest.raises(TypeError, match="^cache: "):
        client.download_cutouts(coordinates=COORDS, cache=1)
