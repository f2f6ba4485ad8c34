"""Ctrl-C: the command and a batch stop within seconds, whatever a server is doing.

Each case runs in a subprocess that gets a real SIGINT; servers are on
127.0.0.1 and never finish their answers.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from astro_tesscut import interrupt
from astro_tesscut.archive import pipeline


@pytest.fixture
def endless_tesscut():
    """A TESScut on 127.0.0.1 that lists three sectors and then trickles cutouts forever."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/sector"):
                body = json.dumps(
                    {
                        "results": [
                            {
                                "sectorName": f"tess-s000{s}-1-1",
                                "sector": str(s),
                                "camera": "1",
                                "ccd": "1",
                            }
                            for s in (1, 2, 3)
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(10**7))
            self.end_headers()
            while not stop.wait(0.2):  # a byte now and then, never the whole answer
                try:
                    self.wfile.write(b"P")
                    self.wfile.flush()
                except OSError:
                    return

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    stop.set()
    server.shutdown()
    server.server_close()


def interrupted(code, *, after="started"):
    """Run ``code`` in a subprocess, send it SIGINT once it printed ``after``; its exit
    code, the seconds it took to exit, and what it wrote to stderr."""
    # As from a terminal: a test runner started in the background ignores SIGINT, and its
    # children would inherit that.
    code = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n" + code
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        for line in child.stdout:
            if after in line:
                break
        time.sleep(0.5)  # well into the work
        child.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            _, stderr = child.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            _, stderr = child.communicate()
        return child.returncode, time.monotonic() - start, stderr


def test_the_command_stops_at_once_while_a_server_dawdles(endless_tesscut, tmp_path):
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "from astro_tesscut import conf\n"
        f"conf.server = {endless_tesscut!r}\n"
        f"conf.cache_dir = {str(tmp_path / 'cache')!r}\n"
        "from astro_tesscut.cli import run\n"
        f"sys.argv = ['tesscut', 'cutout', '10 20', '--size', '5', '--out', {str(out)!r}]\n"
        "print('started', flush=True)\n"
        "run()\n"
    )
    returncode, seconds, stderr = interrupted(code)
    assert returncode == 130, stderr[-2000:]
    assert seconds < 3
    assert "tesscut: interrupted" in stderr
    # No file under a final name: at most hidden temporaries the next run removes.
    visible = [p for p in out.rglob("*") if not p.name.startswith(".")] if out.exists() else []
    assert visible == []


def test_a_batch_stops_at_once(cube_file, cube_archive, tmp_path):
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from astropy.table import Table\n"
        "from astro_tesscut import batch_cutouts\n"
        "from astro_tesscut.archive.cube import open_cube\n"
        f"projection = open_cube({str(cube_file)!r}).projection\n"
        "rng = np.random.default_rng(1)\n"
        "x, y = rng.uniform(3, 47, 20000), rng.uniform(3, 37, 20000)\n"
        "ra, dec = projection.pixel_to_world(x, y)\n"
        "print('started', flush=True)\n"
        "try:\n"
        f"    batch_cutouts(Table({{'ra': ra, 'dec': dec}}), 5, {str(cube_archive)!r},\n"
        f"                  out_dir={str(out)!r}, show_progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(130)\n"
    )
    returncode, seconds, stderr = interrupted(code)
    assert returncode == 130, stderr[-2000:]
    assert seconds < 3
    written = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(written) < 20000  # stopped, not run to its end
    from astro_tesscut.fitslayout import walk

    for path in written:  # every file under a final name is whole
        walk(path, name=path.name)


def test_work_ahead_is_cancelled_when_its_consumer_stops():
    started = []

    def work(item):
        started.append(item)
        time.sleep(0.01)
        return item

    results = pipeline.ahead(work, range(1000))
    assert next(results) == 0
    results.close()  # the consumer stops (an error, an interrupt)
    time.sleep(0.2)
    assert len(started) < 100  # nothing queued ran after it stopped


def test_an_interrupt_reaches_the_work_of_its_call():
    with pytest.raises(KeyboardInterrupt), interrupt.stopping_on_interrupt():
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()  # worker threads of the interrupted call stop here
    with interrupt.stopping_on_interrupt():
        interrupt.check()  # a new call starts afresh


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a subprocess")
def test_waiting_for_memory_gives_way_to_an_interrupt(monkeypatch):
    monkeypatch.setattr(pipeline, "MEMORY", 1)
    with pipeline.holding(10):  # the budget is used up by this one
        interrupt.stop()
        with pytest.raises(KeyboardInterrupt), pipeline.holding(10):
            pass
    with interrupt.stopping_on_interrupt():
        pass  # clear the flag for the other tests
