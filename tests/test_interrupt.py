"""Ctrl-C: the command and a batch stop within seconds, whatever a server is doing.

Each case runs in a subprocess that gets a real SIGINT; servers are on
127.0.0.1 and never finish their answers.
"""

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from astro_tesscut import conf, interrupt
from astro_tesscut.cube import pipeline
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.sizes import parse_size


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
        "from astro_tesscut.cube.ffi_cube import open_cube\n"
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


def interrupt_a_call(during):
    """Run ``during()`` in a call of its own, then interrupt the call as Ctrl-C would."""
    with interrupt.stopping_on_interrupt():
        during()
        raise KeyboardInterrupt


def test_an_interrupt_reaches_the_threads_of_its_call_and_ends_with_it():
    pool = ThreadPoolExecutor(1)
    made = []

    def start_work():
        made.append(interrupt.carrying(interrupt.check))
        pool.submit(made[0]).result()  # not interrupted yet

    with pytest.raises(KeyboardInterrupt):
        interrupt_a_call(start_work)
    checking = made[0]
    with pytest.raises(KeyboardInterrupt):
        pool.submit(checking).result()  # the interrupted call's threads stop at their check
    interrupt.check()  # no flag outlives its call
    with interrupt.stopping_on_interrupt():
        interrupt.check()
        pool.submit(interrupt.carrying(interrupt.check)).result()  # a new call runs
    pool.shutdown()


def test_after_an_interrupted_call_the_next_cutouts_run(cube_file, cube_archive, monkeypatch):
    from astro_tesscut import TessCutClass
    from astro_tesscut.cube import cutout

    client = TessCutClass(archive=cube_archive)
    position = open_cube(cube_file).projection.pixel_to_world(np.array([25.0]), np.array([20.0]))
    coordinates = (float(position[0][0]), float(position[1][0]))
    real_cut_one = cutout.cut_one

    def interrupted_once(*args, **kwargs):
        monkeypatch.setattr(cutout, "cut_one", real_cut_one)
        raise KeyboardInterrupt  # as Ctrl-C arriving while a cutout is made

    monkeypatch.setattr(cutout, "cut_one", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        client.get_cutouts(coordinates=coordinates, size=5, sector=1)
    # Neither the next call nor work outside any call (several cutouts ahead on threads)
    # is stopped by the interrupt of the call before.
    assert len(client.get_cutouts(coordinates=coordinates, size=5, sector=1)) == 1
    ra, dec = np.full(8, coordinates[0]), np.full(8, coordinates[1])
    assert len(list(cutout.cut(open_cube(cube_file), ra, dec, parse_size(5)))) == 8


def test_a_batch_on_another_thread_survives_an_interrupt_of_the_main_thread(
    cube_file, cube_archive, tmp_path
):
    from astropy.table import Table

    from astro_tesscut import batch_cutouts

    x, y = np.tile(np.arange(5.0, 45.0, 5), 8), np.repeat(np.arange(5.0, 37.0, 4), 8)
    ra, dec = open_cube(cube_file).projection.pixel_to_world(x, y)
    targets = Table({"ra": ra, "dec": dec})
    result = {}

    def background():
        result["table"] = batch_cutouts(
            targets, 5, cube_archive, out_dir=tmp_path / "out", show_progress=False
        )

    started = threading.Event()
    worker = threading.Thread(target=lambda: (started.set(), background()))
    worker.start()
    started.wait()
    with pytest.raises(KeyboardInterrupt):
        interrupt_a_call(lambda: None)  # Ctrl-C reaches the main thread's call
    worker.join(60)
    assert set(result["table"]["status"]) == {"written"}
    assert len(result["table"]) == len(targets)


def test_waiting_for_memory_gives_way_to_an_interrupt():
    budget = conf.set_temp("memory_budget", 1)
    with budget, interrupt.stopping_on_interrupt() as call, pipeline.holding(10):
        call.stop()  # the budget is used up by this one
        with pytest.raises(KeyboardInterrupt), pipeline.holding(10):
            pass
