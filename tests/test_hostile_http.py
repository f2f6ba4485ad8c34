"""Hostile and broken servers on 127.0.0.1: bombs, trickles, redirects, garbage headers.

Each test checks the error (its class and a word of its message), that the
output directory holds nothing but what it held before (a user's file,
byte-identical), and that the cache holds nothing half-made. Servers are
pytest-httpserver, or `RawServer` where the bytes on the wire (headers
included) and their pace matter. Every loop here is bounded.
"""

import contextlib
import gc
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
import zlib

import pytest
from conftest import PEAK_MIB
from synthetic import make_cutout_zip, make_tpf_file
from werkzeug import Response

from astro_tesscut import (
    CorruptResponseError,
    InvalidQueryError,
    PartialResultError,
    ServiceError,
    TessCutClass,
    conf,
    interrupt,
)
from astro_tesscut.retries import RetryPolicy, retry
from astro_tesscut.retries import _sleep as real_sleep  # before conftest makes it instant

API = "/tesscut/api/v0.1/"
RA, DEC = "84.2911879979852", "-80.4691197969941"
RETRIES = 2

GOOD_ZIP = make_cutout_zip({"sector": 1, "shape": (10, 10), "n_cadences": 40})
TPF_NAME, _ = make_tpf_file(sector=1, shape=(10, 10), n_cadences=40)
USERS_COPY = b"the user's own copy, which no failed download may replace"
BOMB_BYTES = 500 * 2**20

HOW = ["get", "get-cached", "download-cached", "download-direct"]


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@pytest.fixture(scope="session")
def bomb():
    """500 MB of zeros, gzipped: about 0.5 MB on the wire."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(2**20)
    body = b"".join(packer.compress(block) for _ in range(BOMB_BYTES // len(block)))
    return body + packer.flush()


@pytest.fixture
def out(tmp_path):
    """The output directory, holding a user's file under the name a download would take."""
    directory = tmp_path / "out"
    directory.mkdir()
    (directory / TPF_NAME).write_bytes(USERS_COPY)
    return directory


@pytest.fixture
def settings(tmp_path):
    """Few retries (instant: conftest), a short timeout, a private cache."""
    with (
        conf.set_temp("timeout", 5.0),
        conf.set_temp("max_retries", RETRIES),
        conf.set_temp("cache_dir", str(tmp_path / "cache")),
    ):
        yield


@pytest.fixture
def service(httpserver, settings):
    """The client pointed at pytest-httpserver."""
    with (
        conf.set_temp("server", httpserver.url_for(API)),
        conf.set_temp("resolver_server", httpserver.url_for("/resolver")),
    ):
        yield httpserver


def fetch(how, out):
    """Ask for a cutout of sector 1 one of the ways in `HOW`; the names of what arrived."""
    client = TessCutClass()
    kwargs = {"coordinates": f"{RA} {DEC}", "size": 10, "sector": 1}
    if how.startswith("get"):
        cutouts = client.get_cutouts(cache=how == "get-cached", **kwargs)
        return [hdul.filename() for hdul in cutouts]
    paths = client.download_cutouts(path=out, cache=how == "download-cached", **kwargs)
    return [path.split("/")[-1] for path in paths["Local Path"]]


def assert_clean(tmp_path, out, *, cached=()):
    """The user's file untouched and alone; the ``cached`` files in the cache, or nothing."""
    assert [p.name for p in out.iterdir()] == [TPF_NAME]
    assert (out / TPF_NAME).read_bytes() == USERS_COPY
    cache = tmp_path / "cache"
    files = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert sorted(p.name for p in files if p.suffix == ".fits") == sorted(cached)
    if not cached:
        assert files == []
    hidden = [p for p in cache.rglob(".*") if p.name != ".incoming"] if cache.exists() else []
    assert hidden == []


class RawServer:
    """An HTTP server on 127.0.0.1 that sends whatever bytes, as slowly as it likes.

    Each connection gets one request; ``answer(server, conn, target)`` writes
    the answer to ``target`` (the request's path and query) on the socket
    ``conn``, which is then closed.
    """

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self):
        host, port = self._listener.getsockname()
        return f"http://{host}:{port}"

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn):
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            target = head.split(b" ", 2)[1].decode()
            self.requests.append(target)
            self.answer(self, conn, target)

    def trickle(self, conn, data, every=0.05):
        """Send ``data`` a byte at a time, ``every`` seconds apart, until stopped."""
        for i in range(len(data)):
            if self.stopped.is_set():
                return
            conn.sendall(data[i : i + 1])
            time.sleep(every)

    def close(self):
        self.stopped.set()
        for thread in self._threads:
            thread.join(10)
        self._listener.close()


def head(status="200 OK", **headers):
    """The status line and headers of an answer (``Content_Length`` for Content-Length)."""
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.fixture
def raw_server(settings):
    """``raw_server(answer)``: a `RawServer` that the client is pointed at."""
    with contextlib.ExitStack() as stack:

        def start(answer):
            server = RawServer(answer)
            stack.callback(server.close)
            stack.enter_context(conf.set_temp("server", server.url + API))
            return server

        yield start


@pytest.fixture
def interrupter():
    """``interrupter(seconds)``: interrupt the test's call then, as Ctrl-C would."""
    timers = []
    with interrupt.stopping_on_interrupt() as call:

        def start(seconds):
            timer = threading.Timer(seconds, call.stop)
            timers.append(timer)
            timer.start()

        yield start
    for timer in timers:
        timer.cancel()
        timer.join()


# 2. decompression bombs


@pytest.mark.parametrize("how", HOW)
def test_gzip_bomb_cutout_stops_at_max_inflated_bytes(service, bomb, tmp_path, out, how):
    service.expect_request(API + "astrocut").respond_with_data(
        bomb, content_type="application/zip", headers={"Content-Encoding": "gzip"}
    )
    with (
        conf.set_temp("max_inflated_bytes", 8 * 2**20),
        pytest.raises(CorruptResponseError, match="larger than conf.max_inflated_bytes"),
    ):
        fetch(how, out)
    assert len(service.log) == 1  # the same bomb would come again: not retried
    assert_clean(tmp_path, out)


@pytest.mark.parametrize("what", ["sectors", "resolver"])
def test_gzip_bomb_json_is_refused(service, bomb, tmp_path, out, what):
    path = API + "sector" if what == "sectors" else "/resolver"
    service.expect_request(path).respond_with_data(
        bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    target = {"coordinates": f"{RA} {DEC}"} if what == "sectors" else {"objectname": "Pi Men"}
    with pytest.raises(
        CorruptResponseError, match="larger than 4,194,304 bytes, far more than any JSON"
    ):
        TessCutClass().query_sectors(**target)
    assert len(service.log) == 1
    assert_clean(tmp_path, out)


@pytest.mark.parametrize("how", HOW)
def test_gzip_bomb_error_body_is_read_only_in_part(service, bomb, tmp_path, out, how):
    service.expect_request(API + "astrocut").respond_with_data(
        bomb, status=404, headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(ServiceError, match=r"HTTP 404 .*: NOT FOUND$") as info:
        fetch(how, out)
    assert not isinstance(info.value, CorruptResponseError)  # the status is what matters
    assert len(service.log) == 1
    assert_clean(tmp_path, out)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "gzip-two-members"])
def test_compressed_answers_are_inflated(service, tmp_path, out, coding):
    half = len(GOOD_ZIP) // 2
    body = {
        "gzip": gzip.compress(GOOD_ZIP),
        "deflate": zlib.compress(GOOD_ZIP),
        "gzip-two-members": gzip.compress(GOOD_ZIP[:half]) + gzip.compress(GOOD_ZIP[half:]),
    }[coding]
    service.expect_request(API + "astrocut").respond_with_data(
        body, headers={"Content-Encoding": coding.split("-")[0]}
    )
    assert fetch("get-cached", out) == [TPF_NAME]
    assert_clean(tmp_path, out, cached=[TPF_NAME])


def test_resolver_position_off_the_sky_is_refused(service, tmp_path, out):
    service.expect_request("/resolver").respond_with_json(
        {"resolvedCoordinate": [{"searchString": "pi men", "ra": "nan", "decl": -80.5}]}
    )
    with pytest.raises(CorruptResponseError, match="not finite"):
        TessCutClass().query_sectors(objectname="Pi Men")
    assert_clean(tmp_path, out)


BOMBED_CHILD = (
    PEAK_MIB
    + """
import json, sys
from astro_tesscut import TessCutClass, conf

server, resolver, out, cache = sys.argv[1:]
conf.server, conf.resolver_server, conf.cache_dir = server, resolver, cache
conf.max_retries = 0
conf.max_inflated_bytes = 32 * 2**20
client = TessCutClass()
where = {"coordinates": "84.2911879979852 -80.4691197969941", "size": 10}
calls = {
    "get": lambda: client.get_cutouts(sector=1, cache=False, **where),
    "get-cached": lambda: client.get_cutouts(sector=1, **where),
    "download": lambda: client.download_cutouts(sector=1, path=out, cache=False, **where),
    "error": lambda: client.get_cutouts(sector=2, cache=False, **where),
    "redirect": lambda: client.get_cutouts(sector=3, cache=False, **where),
    "sectors": lambda: client.query_sectors(coordinates=where["coordinates"]),
    "resolver": lambda: client.query_sectors(objectname="Pi Men"),
}
errors = {}
for name, call in calls.items():
    try:
        call()
    except Exception as exc:
        errors[name] = [type(exc).__name__, str(exc)]
print(json.dumps({"errors": errors, "peak_mib": peak_mib()}))
"""
)


def test_bombs_stay_in_bounded_memory(httpserver, bomb, tmp_path, out):
    def answer(request):
        headers = {"Content-Encoding": "gzip"}
        status = {"2": 404, "3": 302}.get(request.args.get("sector"), 200)
        if status == 302:
            headers["Location"] = "http://localhost/elsewhere"
        return Response(bomb, status=status, headers=headers)

    for path in (API + "astrocut", API + "sector", "/resolver"):
        httpserver.expect_request(path).respond_with_handler(answer)
    args = [httpserver.url_for(API), httpserver.url_for("/resolver"), out, tmp_path / "cache"]
    run = subprocess.run(
        [sys.executable, "-c", BOMBED_CHILD, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    errors = {name: error[0] for name, error in report["errors"].items()}
    assert errors == {
        "get": "CorruptResponseError",
        "get-cached": "CorruptResponseError",
        "download": "CorruptResponseError",
        "error": "ServiceError",
        "redirect": "ServiceError",
        "sectors": "CorruptResponseError",
        "resolver": "CorruptResponseError",
    }
    assert "HTTP 404" in report["errors"]["error"][1]
    assert "not followed" in report["errors"]["redirect"][1]
    assert report["peak_mib"] < 300, report  # the bomb inflates to 500 MiB
    assert_clean(tmp_path, out)


# 4. a deadline for the whole exchange


def _trickled_body(framing):
    """An answer whose headers come at once and whose body comes a byte at a time."""
    headers = {
        "length": {"Content_Length": len(GOOD_ZIP)},
        "chunked": {"Transfer_Encoding": "chunked"},
        "close": {},
    }[framing]

    def answer(server, conn, target):
        conn.sendall(head(Content_Type="application/zip", **headers))
        if framing == "chunked":
            conn.sendall(b"%x\r\n" % len(GOOD_ZIP))
        server.trickle(conn, GOOD_ZIP)

    return answer


# Every way of asking, and every way of ending a body: its length, its last chunk, or
# the connection closing (which a shut socket looks like).
TRICKLES = [
    ("get", "length"),
    ("get-cached", "chunked"),
    ("download-cached", "close"),
    ("download-direct", "length"),
    ("download-direct", "close"),
]


@pytest.mark.parametrize(("how", "framing"), TRICKLES)
def test_trickled_body_stops_at_the_deadline(raw_server, tmp_path, out, how, framing):
    server = raw_server(_trickled_body(framing))
    start = time.monotonic()
    with (
        conf.set_temp("request_deadline", 0.5),
        conf.set_temp("max_retries", 1),
        pytest.raises(
            ServiceError, match=r"took longer than 0.5 s \(conf.request_deadline\)"
        ) as info,
    ):
        fetch(how, out)
    assert time.monotonic() - start < 15  # two tries of half a second, generously
    assert info.value.attempts == len(server.requests) == 2  # retried, like a timeout
    assert_clean(tmp_path, out)


@pytest.mark.parametrize("part", ["status line", "headers"])
def test_trickled_headers_stop_at_the_deadline(raw_server, tmp_path, out, part):
    def answer(server, conn, target):
        if part == "headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            server.trickle(conn, b"X-Slow: " + b"z" * 5000 + b"\r\n\r\n")
        else:
            server.trickle(conn, b"HTTP/1.1 200 " + b"O" * 5000 + b"\r\n\r\n")

    server = raw_server(answer)
    start = time.monotonic()
    with (
        conf.set_temp("request_deadline", 0.5),
        conf.set_temp("max_retries", 1),
        pytest.raises(ServiceError, match="took longer than 0.5 s") as info,
    ):
        fetch("download-direct", out)
    assert time.monotonic() - start < 15
    assert info.value.attempts == len(server.requests) == 2
    assert_clean(tmp_path, out)


def test_the_deadline_must_be_positive(service, tmp_path, out):
    with (
        conf.set_temp("request_deadline", 0),
        pytest.raises(
            InvalidQueryError, match=r"^conf.request_deadline: must be a positive number of seconds"
        ),
    ):
        fetch("download-direct", out)
    assert len(service.log) == 0
    assert_clean(tmp_path, out)


# 8. redirects


def _redirect_to(location, status=302):
    return Response(status=status, headers={"Location": location})


@pytest.mark.parametrize("how", HOW)
def test_redirect_to_another_origin_is_not_followed(service, tmp_path, out, how):
    elsewhere = service.url_for("/elsewhere/astrocut").replace("127.0.0.1", "localhost")
    service.expect_request(API + "astrocut").respond_with_response(_redirect_to(elsewhere))
    service.expect_request("/elsewhere/astrocut").respond_with_data(GOOD_ZIP)
    with pytest.raises(ServiceError, match=r"HTTP 302 .*redirects to .*localhost.*not followed"):
        fetch(how, out)
    assert [request.path for request, _ in service.log] == [API + "astrocut"]
    assert_clean(tmp_path, out)  # nothing cached under the request's key


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "https://127.0.0.1:1/", "//localhost/x"]
)
def test_redirect_off_origin_is_refused_at_once(service, tmp_path, out, location):
    service.expect_request(API + "astrocut").respond_with_response(_redirect_to(location, 307))
    with pytest.raises(ServiceError, match="HTTP 307 .*not followed") as info:
        fetch("download-cached", out)
    assert info.value.attempts == len(service.log) == 1  # it cannot succeed: not retried
    assert_clean(tmp_path, out)


def test_garbled_redirect_is_refused_at_once(raw_server, tmp_path, out):
    server = raw_server(_answer_with(head("302 Found", Location="http://[::1/x"), b""))
    with pytest.raises(ServiceError, match=r"HTTP 302 .*'http://\[::1/x'.*not followed") as info:
        fetch("get", out)
    assert info.value.attempts == len(server.requests) == 1
    assert_clean(tmp_path, out)


def test_redirect_loop_is_bounded(service, tmp_path, out):
    service.expect_request(API + "astrocut").respond_with_response(_redirect_to("astrocut?again"))
    with pytest.raises(ServiceError, match="more than 5 redirects") as info:
        fetch("download-cached", out)
    assert info.value.attempts == 1
    assert len(service.log) == 6  # the request and five redirects
    assert_clean(tmp_path, out)


def test_redirect_within_the_origin_is_followed(service, bomb, tmp_path, out):
    redirect = _redirect_to("../v0.2/cut")
    redirect.headers["Content-Encoding"] = "gzip"
    redirect.set_data(bomb)  # a redirect's body is not read at all
    service.expect_request(API + "astrocut").respond_with_response(redirect)
    service.expect_request("/tesscut/api/v0.2/cut").respond_with_data(GOOD_ZIP)
    assert fetch("get-cached", out) == [TPF_NAME]
    assert len(service.log) == 2
    assert_clean(tmp_path, out, cached=[TPF_NAME])


@pytest.mark.parametrize("server", ["htp://127.0.0.1:1/api/", "http://[::1/api/", "127.0.0.1/api/"])
def test_unusable_server_url_is_not_retried(settings, tmp_path, out, server):
    with conf.set_temp("server", server), pytest.raises(ServiceError) as info:
        fetch("download-direct", out)
    assert info.value.attempts == 1
    assert "request failed" in str(info.value)
    assert_clean(tmp_path, out)


# 10. garbage headers


def _answer_with(raw_head, body=GOOD_ZIP):
    def answer(server, conn, target):
        conn.sendall(raw_head + body)

    return answer


GARBAGE = {
    "length-abc": (head(Content_Length="abc"), GOOD_ZIP, "Content-Length header 'abc'"),
    "length-negative": (head(Content_Length="-1"), GOOD_ZIP, "Content-Length header '-1'"),
    "encoding-unasked": (head(Content_Encoding="br"), GOOD_ZIP, "encoded as 'br'"),
    "encoding-twice": (head(Content_Encoding="gzip, gzip"), GOOD_ZIP, "not asked for"),
    "encoding-false": (head(Content_Encoding="gzip"), GOOD_ZIP, "does not inflate"),
    "encoding-cut": (
        head(Content_Encoding="gzip"),
        gzip.compress(GOOD_ZIP)[:-100],
        "ends inside its compressed stream",
    ),
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_headers_are_a_corrupt_response(raw_server, tmp_path, out, how, garbage):
    raw_head, body, words = GARBAGE[garbage]
    server = raw_server(_answer_with(raw_head, body))
    with pytest.raises(CorruptResponseError, match=words):
        fetch(how, out)
    assert len(server.requests) == 1
    assert_clean(tmp_path, out)


# urllib3 refuses these itself, and leaves the answer's socket for the garbage collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_content_lengths_that_disagree_are_a_corrupt_response(raw_server, tmp_path, out):
    server = raw_server(_answer_with(head(Content_Length="5, 6")))
    with pytest.raises(CorruptResponseError, match="headers are unusable: Content-Length"):
        fetch("download-cached", out)
    gc.collect()  # here, where that socket's warning is expected
    assert len(server.requests) == 1
    assert_clean(tmp_path, out)


def test_garbage_header_costs_only_its_sector(raw_server, tmp_path, out):
    sectors = {
        "results": [
            {"sectorName": f"tess-s{s:04d}-4-2", "sector": s, "camera": 4, "ccd": 2} for s in (1, 4)
        ]
    }
    fine = make_cutout_zip({"sector": 4, "shape": (10, 10), "n_cadences": 5})

    def answer(server, conn, target):
        if "/sector?" in target:
            body = json.dumps(sectors).encode()
            conn.sendall(head(Content_Length=len(body)) + body)
        elif "sector=1" in target:
            conn.sendall(head(Content_Length="abc") + GOOD_ZIP)
        else:
            conn.sendall(head(Content_Length=len(fine)) + fine)

    raw_server(answer)
    client = TessCutClass()
    with pytest.raises(PartialResultError, match="sector 1: unusable answer") as info:
        client.download_cutouts(coordinates=f"{RA} {DEC}", size=10, path=out)
    assert isinstance(info.value.failures[1], CorruptResponseError)
    (arrived,) = info.value.results
    assert arrived.parent == out
    assert arrived.name.startswith("tess-s0004-4-2")
    assert sorted(p.name for p in out.iterdir()) == sorted([TPF_NAME, arrived.name])
    assert (out / TPF_NAME).read_bytes() == USERS_COPY


@pytest.mark.parametrize(
    "garbage",
    [b"[" * 2**16, b"{" * 2**16, b'{"msg": ' * 8000, b"\xff\xfe" + bytes(2**16), b"<html>"],
    ids=["brackets", "braces", "nested-msg", "binary", "html"],
)
def test_a_garbage_answer_costs_only_its_sector(raw_server, tmp_path, out, garbage):
    sectors = {
        "results": [
            {"sectorName": f"tess-s{s:04d}-4-2", "sector": s, "camera": 4, "ccd": 2} for s in (1, 4)
        ]
    }
    fine = make_cutout_zip({"sector": 4, "shape": (10, 10), "n_cadences": 5})

    def answer(server, conn, target):
        if "/sector?" in target:
            body = json.dumps(sectors).encode()
        else:
            body = garbage if "sector=1" in target else fine
        conn.sendall(head(Content_Length=len(body)) + body)

    raw_server(answer)
    with pytest.raises(PartialResultError, match="sector 1: unusable answer") as info:
        TessCutClass().download_cutouts(coordinates=f"{RA} {DEC}", size=10, path=out)
    assert isinstance(info.value.failures[1], CorruptResponseError)
    assert "neither a zip of cutouts nor TESScut's JSON message" in str(info.value.failures[1])
    (arrived,) = info.value.results
    assert arrived.name.startswith("tess-s0004-4-2")
    assert sorted(p.name for p in out.iterdir()) == sorted([TPF_NAME, arrived.name])


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\nsecond line\x9b1m"


def test_the_services_words_reach_the_terminal_as_one_printable_line(raw_server, tmp_path, capsys):
    from astro_tesscut.cli import main

    def answer(server, conn, target):
        body = json.dumps({"msg": "No data " + ESCAPES}).encode()
        conn.sendall(head(Content_Length=len(body)) + body)

    raw_server(answer)
    code = main(["cutout", f"{RA} {DEC}", "--sector", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 3
    (line,) = [line for line in err.splitlines() if "No data" in line]
    assert line.isprintable()
    assert "red second line" in line
    assert not set(err) & {"\x1b", "\x9b", "\x07"}


@pytest.mark.parametrize(
    "name",
    ["tess-s0001-4-2" + ESCAPES, "tess-s0001-4-2\n", "tess-s0001-4-3", "tess-s1-4-2", 7],
    ids=["escapes", "newline", "another-ccd", "unpadded", "number"],
)
def test_a_sector_name_must_be_the_rows_own(raw_server, capsys, name):
    from astro_tesscut.cli import main

    row = {"sectorName": name, "sector": "0001", "camera": "4", "ccd": "2"}

    def answer(server, conn, target):
        body = json.dumps({"results": [row]}).encode()
        conn.sendall(head(Content_Length=len(body)) + body)

    raw_server(answer)
    assert main(["sectors", f"{RA} {DEC}"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("tesscut: error: unusable answer")
    assert "sectorName" in line
    assert line.isprintable()


# interrupts


@pytest.mark.parametrize("how", ["get", "download-direct"])
def test_an_interrupt_stops_a_streaming_answer(raw_server, interrupter, tmp_path, out, how):
    def endless(server, conn, target):
        conn.sendall(head(Content_Type="application/zip"))
        block = bytes(2**16)
        for _ in range(2000):  # some 6 MB a second, for 20 s at most
            if server.stopped.is_set():
                return
            conn.sendall(block)
            time.sleep(0.01)

    raw_server(endless)
    interrupter(0.3)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        fetch(how, out)
    assert time.monotonic() - start < 10
    assert_clean(tmp_path, out)


def test_an_interrupt_ends_the_retries(instant_retries):
    def fails():
        call.stop()
        raise ServiceError("busy", status_code=503)

    with pytest.raises(KeyboardInterrupt), interrupt.stopping_on_interrupt() as call:
        retry(fails, RetryPolicy(retries=3), is_transient=lambda exc: True)
    assert instant_retries == []


def test_a_retry_wait_wakes_up_when_interrupted(interrupter):
    interrupter(0.2)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        real_sleep(60)
    assert time.monotonic() - start < 5


# The TIC's cone search: MAST's portal API, under the same rules as every request


TIC_COLUMNS = "/portal/Mashup/Mashup.asmx/columnsconfig"
TIC_INVOKE = "/api/v0/invoke"


def _json_file(name):
    from conftest import DATA

    return (DATA / name).read_bytes()


def _mashup(form):
    """The Mashup request in a form body."""
    from urllib.parse import parse_qs

    return json.loads(parse_qs(form)["request"][0])


def query_tic():
    return TessCutClass().query_tic(coordinates=f"{RA} {DEC}", radius="5 arcmin")


class KeepAliveServer(RawServer):
    """A `RawServer` that reads each request's body and answers any number of requests on
    a connection: ``answer(server, conn, target)`` writes one answer and returns whether
    the connection stays open. ``connections`` counts the connections accepted;
    ``bodies`` holds the request bodies."""

    def __init__(self, answer):
        self.connections = 0
        self.bodies = []
        super().__init__(answer)

    def _serve(self, conn):
        self.connections += 1
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            data = b""
            while not self.stopped.is_set():
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head_bytes, _, data = data.partition(b"\r\n\r\n")
                lines = head_bytes.decode("latin-1").split("\r\n")
                fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int({k.lower(): v for k, v in fields.items()}.get("content-length", 0))
                while len(data) < length:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                body, data = data[:length], data[length:]
                self.requests.append(lines[0].split(" ")[1])
                self.bodies.append(body.decode("latin-1"))
                if not self.answer(self, conn, lines[0].split(" ")[1]):
                    return


def keep_alive_head(body, status="200 OK"):
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1") + body


@pytest.fixture
def keep_alive_server(settings):
    """``keep_alive_server(answer)``: a `KeepAliveServer` the client (TESScut and the TIC)
    is pointed at."""
    with contextlib.ExitStack() as stack:

        def start(answer):
            server = KeepAliveServer(answer)
            stack.callback(server.close)
            stack.enter_context(conf.set_temp("server", server.url + API))
            return server

        yield start


def test_the_tic_query_stops_at_the_deadline(keep_alive_server):
    columns = _json_file("tic_columns_config.json")

    def answer(server, conn, target):
        if target == TIC_COLUMNS:
            conn.sendall(keep_alive_head(columns))
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        server.trickle(conn, b"X-Slow: " + b"z" * 5000 + b"\r\n\r\n")
        return False

    server = keep_alive_server(answer)
    start = time.monotonic()
    with (
        conf.set_temp("request_deadline", 0.5),
        conf.set_temp("max_retries", 1),
        pytest.raises(
            ServiceError,
            match=r"the TIC query failed: the answer took longer than 0.5 s \(conf.request_",
        ) as info,
    ):
        query_tic()
    assert time.monotonic() - start < 15
    assert info.value.attempts == 2  # retried, like a timeout
    assert server.requests == [TIC_COLUMNS, TIC_INVOKE, TIC_INVOKE]
    assert server.bodies[0] == "colConfigId=Mast.Catalogs.Tic.Cone"
    assert _mashup(server.bodies[1]) == _mashup(server.bodies[2])


def test_the_tic_query_retries_a_503_and_polls_while_executing(keep_alive_server):
    columns = _json_file("tic_columns_config.json")
    answers = [
        keep_alive_head(b"<html>busy</html>", "503 Service Unavailable"),
        keep_alive_head(_json_file("tic_cone_executing.json")),
        keep_alive_head(_json_file("tic_cone_pi_men.json")),
    ]

    def answer(server, conn, target):
        conn.sendall(keep_alive_head(columns) if target == TIC_COLUMNS else answers.pop(0))
        return True

    server = keep_alive_server(answer)
    stars = query_tic()
    assert list(stars["ID"][:2]) == ["261136679", "261139071"]
    assert server.requests == [TIC_COLUMNS, TIC_INVOKE, TIC_INVOKE, TIC_INVOKE]
    first, *again = map(_mashup, server.bodies[1:])
    assert first["service"] == "Mast.Catalogs.Tic.Cone"
    assert first["params"]["radius"] == pytest.approx(5 / 60)
    assert again == [first, first]
    assert server.connections == 1  # one keep-alive connection for all four


def test_a_tic_redirect_elsewhere_is_refused(service):
    elsewhere = service.url_for(TIC_INVOKE).replace("127.0.0.1", "localhost")
    service.expect_request(TIC_COLUMNS, method="POST").respond_with_data(
        _json_file("tic_columns_config.json"), content_type="application/json"
    )
    service.expect_request(TIC_INVOKE, method="POST").respond_with_response(
        _redirect_to(elsewhere, 307)
    )
    with pytest.raises(ServiceError, match=r"HTTP 307 .*TIC query failed.*localhost.*not followed"):
        query_tic()
    assert [request.path for request, _ in service.log] == [TIC_COLUMNS, TIC_INVOKE]


@pytest.mark.parametrize(("status", "method"), [(307, "POST"), (308, "POST"), (303, "GET")])
def test_a_tic_redirect_within_the_origin_is_followed(service, status, method):
    service.expect_request(TIC_COLUMNS, method="POST").respond_with_data(
        _json_file("tic_columns_config.json"), content_type="application/json"
    )
    service.expect_request(TIC_INVOKE, method="POST").respond_with_response(
        _redirect_to("/api/v0.1/invoke", status)
    )
    service.expect_request("/api/v0.1/invoke", method=method).respond_with_data(
        _json_file("tic_cone_pi_men.json"), content_type="application/json"
    )
    assert len(query_tic()) == 5
    (last, _) = service.log[-1]
    assert last.path == "/api/v0.1/invoke"
    if method == "POST":  # the form goes along
        assert _mashup(last.get_data(as_text=True))["service"] == "Mast.Catalogs.Tic.Cone"
    else:
        assert last.get_data() == b""


def test_an_oversized_tic_answer_is_refused(service, bomb):
    service.expect_request(TIC_COLUMNS, method="POST").respond_with_data(
        _json_file("tic_columns_config.json"), content_type="application/json"
    )
    service.expect_request(TIC_INVOKE, method="POST").respond_with_data(
        bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(
        CorruptResponseError, match=r"TIC query failed: the answer is larger than 67,108,864 bytes"
    ) as info:
        query_tic()
    assert info.value.attempts == 1  # the same bomb would come again: not retried
    assert [request.path for request, _ in service.log] == [TIC_COLUMNS, TIC_INVOKE]


# The deadline and connections that live on (keep-alive)


def test_a_reused_connection_is_watched_by_the_next_deadline(keep_alive_server):
    """The second request reuses the first's connection (never connecting it again) and
    trickles its headers: its deadline shuts that connection's socket all the same."""
    sectors = json.dumps(
        {"results": [{"sectorName": "tess-s0001-4-2", "sector": "1", "camera": "4", "ccd": "2"}]}
    ).encode()

    def answer(server, conn, target):
        if len(server.requests) == 1:
            conn.sendall(keep_alive_head(sectors))
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        server.trickle(conn, b"X-Slow: " + b"z" * 5000 + b"\r\n\r\n")
        return False

    server = keep_alive_server(answer)
    client = TessCutClass()
    with conf.set_temp("request_deadline", 2), conf.set_temp("max_retries", 0):
        assert len(client.query_sectors(coordinates=f"{RA} {DEC}")) == 1
        with conf.set_temp("request_deadline", 0.5):
            start = time.monotonic()
            with pytest.raises(ServiceError, match="took longer than 0.5 s"):
                client.query_sectors(coordinates=f"{RA} {DEC}")
            assert time.monotonic() - start < 5
    assert server.connections == 1
    assert len(server.requests) == 2


def test_an_earlier_deadline_leaves_a_connection_another_try_took_alone():
    """A connection goes back to its pool when its answer has been read, before the try
    that read it ends; once the next try sends on it, the earlier try's deadline, even
    expiring, does not shut its socket."""
    import urllib3

    from astro_tesscut.transport import Deadline, _watched_pool

    asked, go, results = threading.Event(), threading.Event(), []

    def answer(server, conn, target):
        if target == "/second":
            asked.set()
            go.wait(5)  # until the earlier deadline has expired
        conn.sendall(keep_alive_head(b"{}"))
        return True

    server = KeepAliveServer(answer)
    host, port = server.url.removeprefix("http://").split(":")
    pool = _watched_pool(urllib3.HTTPConnectionPool)(host, int(port), maxsize=1, block=True)

    def later_try():  # another try, on its own thread
        with Deadline(60, "second") as later:
            try:
                results.append(pool.urlopen("GET", "/second", retries=False).data)
            except Exception as exc:
                results.append(exc)
            results.append(later.expired)

    try:
        with Deadline(60, "first") as earlier:
            assert pool.urlopen("GET", "/first").data == b"{}"  # and back in the pool
            thread = threading.Thread(target=later_try)
            thread.start()
            assert asked.wait(5)  # the later try is waiting for its answer on it
            earlier._expire()  # the earlier try's timer, late
            go.set()
            thread.join(10)
            assert earlier.expired
        assert results == [b"{}", False]  # its socket was not shut
        assert server.connections == 1  # the same connection
    finally:
        go.set()
        pool.close()
        server.close()
