"""Hostile answers to a cube's range requests, for every remote reader: fsspec's HTTP,
obstore's S3 and s3fs's S3, on the first read (the headers) and on a later one (the table).

`RangeServer` on 127.0.0.1 serves cubes path-style, as S3 does (``/bucket/key``),
with ETags and ``If-Match``, until it is told to misbehave: a body without end, the
whole file for a range, another range than asked, or another version of the cube.
Each case checks the error (its class, and that it names the cube), how much the
server managed to send, and, for bodies without end, in a child process, the time
and the peak memory the reader took to refuse it.
"""

import contextlib
import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from conftest import PEAK_MIB

from astro_tesscut import CorruptResponseError, InvalidFileError
from astro_tesscut.cube.ffi_cube import forget_cubes, open_cube

HUGE = 256 << 20  # the whole file a server that ignores ranges sends: far more than is read
ENDLESS = 16 << 30  # the most a body without end sends (it would take minutes)
BOUND = 8 << 20  # what a reader may have been sent before refusing an answer, at most
PEAK_MB = 300  # a child's peak memory, at most (imports take about half)
SECONDS = 5  # for a test, at most

# The readers: how each is asked for a cube on the server (its URL and storage options).
READERS = ["http", "obstore", "s3fs"]


class RangeServer:
    """Files over HTTP on 127.0.0.1, path-style as an S3 bucket (``/bucket/key``), each
    with its ETag (the MD5 of its bytes, as S3's), ranges and ``If-Match`` honoured.

    ``misbehave(how, after=n)`` answers every ranged GET after the first ``n`` as
    ``how`` says: ``"endless"`` (206, no Content-Length, zeros without end),
    ``"claims-1tb"`` (206, a Content-Length of a terabyte, zeros without end),
    ``"whole"`` (200, the whole file padded with zeros to `HUGE` bytes) or
    ``"shifted"`` (206, the bytes and Content-Range of a range 2,880 bytes on).
    ``if_match = False`` makes it ignore ``If-Match``. ``sent`` counts the body bytes
    sent, once `idle` says that every answer has ended.
    """

    CHUNK = 1 << 16

    def __init__(self):
        self.files = {}  # path -> (bytes, ETag)
        self.how, self.after, self.if_match = None, 0, True
        self.sent, self.sending, self.requests = 0, 0, []  # (method, path, Range, If-Match)
        self._changed = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle(self):
                with contextlib.suppress(ConnectionResetError):  # a kept connection dropped
                    super().handle()

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body):
                path = self.path.split("?")[0]
                wanted, condition = self.headers.get("Range"), self.headers.get("If-Match")
                with server._changed:
                    server.requests.append((self.command, path, wanted, condition))
                    ranged = sum(1 for r in server.requests if r[0] == "GET" and r[2])
                if path not in server.files:
                    self._reply(404, {"Content-Length": "0"})
                    return
                data, tag = server.files[path]
                if condition and server.if_match and condition != tag:
                    self._reply(412, {"Content-Length": "0"})
                    return
                match = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted or "")
                if not (match and body):
                    self._reply(200, {"Content-Length": str(len(data)), "ETag": tag}, data, body)
                    return
                start, stop = int(match[1]), min(int(match[2]) + 1, len(data))
                how = server.how if ranged > server.after else None
                if how == "whole":
                    self._reply(200, {"Content-Length": str(HUGE), "ETag": tag}, data, total=HUGE)
                    return
                if how == "shifted":
                    start, stop = start + 2880, stop + 2880
                headers = {"Content-Range": f"bytes {start}-{stop - 1}/{len(data)}", "ETag": tag}
                if how == "endless":
                    self.close_connection = True  # the body ends when the connection does
                    self._reply(206, {**headers, "Connection": "close"}, total=ENDLESS)
                elif how == "claims-1tb":
                    self._reply(206, {**headers, "Content-Length": str(1 << 40)}, total=ENDLESS)
                else:
                    headers["Content-Length"] = str(stop - start)
                    self._reply(206, headers, data[start:stop])

            def _reply(self, status, headers, data=b"", body=True, total=None):
                """Send ``data``, padded with zeros to ``total`` bytes, a chunk at a time."""
                self.send_response(status)
                headers.setdefault("Last-Modified", "Tue, 24 Jul 2018 00:00:00 GMT")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not body:
                    return
                total = len(data) if total is None else total
                with server._changed:
                    server.sending += 1
                try:
                    for at in range(0, total, server.CHUNK):
                        piece = data[at : at + server.CHUNK]
                        piece += bytes(min(server.CHUNK, total - at) - len(piece))
                        self.wfile.write(piece)
                        with server._changed:
                            server.sent += len(piece)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client stopped reading
                finally:
                    with server._changed:
                        server.sending -= 1
                        server._changed.notify_all()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        serve.start()

    def put(self, path, data):
        """Serve ``data`` at ``path``: a new version, with a new ETag."""
        self.files[path] = (data, f'"{hashlib.md5(data).hexdigest()}"')

    def misbehave(self, how, *, after=0):
        self.how, self.after = how, after

    def idle(self, timeout=10):
        """True once no answer is being sent (within ``timeout`` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.sending == 0, timeout)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server(cube_file):
    """A `RangeServer` holding the test cube at /bucket/<its name>; no cube opened."""
    for module in ("aiohttp", "obstore", "s3fs"):
        pytest.importorskip(module, reason="the cloud extra is not installed")
    forget_cubes()
    served = RangeServer()
    served.put(f"/bucket/{cube_file.name}", cube_file.read_bytes())
    yield served
    forget_cubes()
    served.close()


def where(server, reader, name):
    """The URL and storage options that have ``reader`` read ``name`` from ``server``."""
    if reader == "http":
        return f"{server.url}/bucket/{name}", {}
    options = {"anon": True, "client_kwargs": {"endpoint_url": server.url, "region_name": "x"}}
    if reader == "s3fs":
        options["use_ssl"] = False  # an option obstore has no word for: s3fs reads
    return f"s3://bucket/{name}", options


def read(url, options, when):
    """Open the cube (its first read) and, ``"later"``, read its table (a later one)."""
    cube = open_cube(url, options)
    if when == "later":
        cube.load()
    return cube


# What a child process runs: `read`, then its error, time and peak memory as JSON.
CHILD = (
    PEAK_MIB
    + """
import json, sys, time
from astro_tesscut.cube.ffi_cube import open_cube

url, options, when = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
start = time.monotonic()
try:
    cube = open_cube(url, options)
    if when == "later":
        cube.load()
    report = {"error": None}
except Exception as exc:
    report = {"error": type(exc).__name__, "message": str(exc)}
report["seconds"] = time.monotonic() - start
report["peak_mb"] = peak_mib()
print(json.dumps(report))
"""
)


@pytest.mark.parametrize("when", ["first", "later"])
@pytest.mark.parametrize("how", ["endless", "claims-1tb"])
@pytest.mark.parametrize("reader", READERS)
def test_a_body_without_end_is_refused_in_bounded_memory_and_time(
    server, cube_file, reader, how, when
):
    server.misbehave(how, after=0 if when == "first" else 1)
    url, options = where(server, reader, cube_file.name)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, json.dumps(options), when],
        capture_output=True,
        text=True,
        timeout=30,  # a reader that reads on never ends: this fails it
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["error"] == "CorruptResponseError", report
    assert url in report["message"]
    words = "Content-Length" if (reader, how) == ("obstore", "endless") else "runs past them"
    assert words in report["message"]  # obstore refuses a body without a length unread
    assert report["seconds"] < SECONDS
    assert report["peak_mb"] < PEAK_MB
    assert server.idle()
    assert server.sent < BOUND


@pytest.mark.parametrize("when", ["first", "later"])
@pytest.mark.parametrize("reader", READERS)
def test_the_whole_file_for_a_range_is_refused_unread(server, cube_file, reader, when):
    server.misbehave("whole", after=0 if when == "first" else 1)
    url, options = where(server, reader, cube_file.name)
    began = time.monotonic()
    with pytest.raises(InvalidFileError, match=f"the server of {re.escape(url)} ignores range"):
        read(url, options, when)
    assert time.monotonic() - began < SECONDS
    assert server.idle()
    assert server.sent < BOUND


@pytest.mark.parametrize("when", ["first", "later"])
@pytest.mark.parametrize("reader", READERS)
def test_an_answer_naming_another_range_is_refused(server, cube_file, reader, when):
    server.misbehave("shifted", after=0 if when == "first" else 1)
    url, options = where(server, reader, cube_file.name)
    # obstore says it in its own words.
    words = r"Requested \d+\.\.\d+, got \d+\.\.\d+" if reader == "obstore" else "Content-Range"
    with pytest.raises(CorruptResponseError, match=f"{re.escape(url)}: cube: .*{words}") as caught:
        read(url, options, when)
    assert caught.value.url == url


@pytest.mark.parametrize("if_match", [True, False], ids=["412", "new-etag"])
@pytest.mark.parametrize("reader", READERS)
def test_a_cube_replaced_while_read_fails_then_reads_anew(
    server, cube_file, corner_cube_file, reader, if_match
):
    server.if_match = if_match  # whether the server refuses, or sends the new version
    name = f"/bucket/{cube_file.name}"
    url, options = where(server, reader, cube_file.name)
    old = open_cube(url, options)  # the old version's headers
    tag = server.files[name][1]
    server.put(name, corner_cube_file.read_bytes())  # another cube, the same shape
    with pytest.raises(InvalidFileError, match="changed while it was being read .*the next call"):
        old.load()  # its table, of the new version
    assert [r[3] for r in server.requests if r[0] == "GET"] == [None, tag]  # If-Match: the first

    new = open_cube(url, options)  # opened afresh: the new version throughout
    assert new is not old
    theirs, before = open_cube(corner_cube_file), open_cube(cube_file)
    assert new.table.tobytes() == theirs.table.tobytes() != before.table.tobytes()
    pixels = [cube.read_pixels(28, 34, 4, 11)[0] for cube in (new, theirs, before)]
    assert np.array_equal(pixels[0], pixels[1])
    assert not np.array_equal(pixels[1], pixels[2])
    with pytest.raises(InvalidFileError, match="changed while"):  # the old one stays refused
        old.read_pixels(28, 34, 4, 11)


@pytest.mark.parametrize("reader", READERS)
def test_later_reads_ask_for_the_first_version_and_one_request_a_range(server, cube_file, reader):
    url, options = where(server, reader, cube_file.name)
    cube = open_cube(url, options)
    tag = server.files[f"/bucket/{cube_file.name}"][1]
    server.requests.clear()
    # Rows 20 to 24, whole: they touch, one range; and two short runs of rows apart.
    rectangles = [(20, 25, 0, 50), (30, 31, 3, 6), (35, 36, 3, 6)]
    pieces = cube.read_rectangles(rectangles)
    local = open_cube(cube_file).read_rectangles(rectangles)
    for (ours, _), (theirs, _) in zip(pieces, local, strict=True):
        assert np.array_equal(ours, theirs)
    gets = [r for r in server.requests if r[0] == "GET"]
    assert len(gets) == 3
    assert {r[3] for r in gets} == {tag}
