"""Cutouts straight from an FFI cube on S3: astro_tesscut against astrocut, on a local moto S3.

A moto S3 server runs on 127.0.0.1 in its own process, behind a proxy that
counts every request and byte it answers; the 200-frame real-size cube of
`bench_cube.py` is uploaded to it as MAST's public bucket holds cubes. Both
clients read the same ``s3://`` URL anonymously (astrocut through fsspec,
pointed at the server by ``AWS_ENDPOINT_URL``):

- one 35 x 45 and one 100 x 100 cutout: wall time, requests and bytes fetched
  (goal: only the cutout rows' bytes plus the cube's headers and table);
- many targets on the cube: `batch_cutouts` on a 2-worker Dask LocalCluster
  against a loop of astrocut (astrocut timed on a subset and scaled, as said).

Run by hand (needs astrocut and the cloud extra; about 15 GB of free disk)::

    python benchmarks/bench_cloud.py --targets 1000 --astrocut-targets 20
"""

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import sector_data
from timing import timed

# The server process. moto copies a whole object out of its store for every range
# request (a second for each request on a 1.8 GB cube), which S3 does not, and takes
# tens of minutes to assemble a 7 GB multipart upload: so its key reads are patched to
# serve a range from the stored bytes, and the cube is put straight into its store.
SERVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3 import models
from moto.server import ThreadedMotoServer
from s3_server import CountingProxy


class Window:
    def __init__(self, key):
        self.key = key
    def __len__(self):
        return self.key.size
    def __bool__(self):
        return self.key.size > 0
    def __getitem__(self, item):
        start, stop, _ = item.indices(self.key.size)
        with self.key.lock:
            self.key._value_buffer.seek(start)
            return self.key._value_buffer.read(max(stop - start, 0))


models.FakeKey.value = property(lambda key: Window(key), models.FakeKey.value.fset)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
backend = models.s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
backend.create_bucket("stpubdata", "us-east-1")
with open(sys.argv[2], "rb") as cube:
    key = backend.put_object("stpubdata", sys.argv[3], cube.read())
key.set_acl(models.get_canned_acl("public-read"))
proxy = CountingProxy(server.get_host_and_port(), latency=float(sys.argv[4]))
print(proxy.url, flush=True)
while True:
    time.sleep(3600)
"""
PREFIX = "s3://stpubdata/tess/public/mast/"
KEY = "tess/public/mast/tess-s0001-4-2-cube.fits"


def start_server(cube, latency):
    tests = Path(__file__).resolve().parents[1] / "tests"
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tests), str(cube), KEY, str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip()
    size = cube.stat().st_size / 1e9
    print(f"moto holds the {size:.1f} GB cube ({time.perf_counter() - start:.0f} s to load)")
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    return process, url


def counts(url, reset=False):
    with urllib.request.urlopen(url + ("/__reset__" if reset else "/__counts__")) as answer:
        return json.loads(answer.read())


def ours(coords, size, out):
    from astro_tesscut.archive.cube import open_cube
    from astro_tesscut.archive.cutout import cutouts

    return cutouts(
        open_cube(PREFIX + KEY.rsplit("/", 1)[1], {"anon": True}), coords, size=size, output_dir=out
    )


def theirs(coords, size, out, threads=1):
    from astrocut import TessCubeCutout

    ny, nx = size
    for coord in coords:  # astrocut's cube cutouts take the columns first
        TessCubeCutout(
            f"{PREFIX}{KEY.rsplit('/', 1)[1]}", coord, cutout_size=[nx, ny], threads=8
        ).write_as_tpf(out, legacy_filenames=True)


def fresh():
    """New filesystem instances and no cached cube, as in a fresh process."""
    import fsspec

    from astro_tesscut.archive.cube import forget_cubes

    fsspec.AbstractFileSystem.clear_instance_cache()
    forget_cubes()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--astrocut-targets", type=int, default=20)
    parser.add_argument(
        "--frames", type=int, default=200, help="FFIs in the cube (moto holds objects in memory)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every answer (S3: ~0.02)"
    )
    parser.add_argument(
        "--astrocut-threads", type=int, default=1, help="astrocut's threads (its default is 1)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from astropy.coordinates import SkyCoord

    from astro_tesscut.archive.cube import open_cube

    cube = sector_data.ROOT / f"cube-{args.frames}" / "tess-s0001-4-2-cube.fits"
    if not cube.exists():
        from astro_tesscut.archive.build import build_cube

        cube.parent.mkdir(parents=True, exist_ok=True)
        build_cube(sector_data.ffis(args.frames), cube, sector=1)
    process, url = start_server(cube, args.latency)
    if args.latency:
        print(f"every answer delayed {args.latency * 1e3:.0f} ms, as a far server's round trip")
    try:
        centre = SkyCoord(*sector_data.PI_MEN, unit="deg").reshape((1,))
        frames = open_cube(cube).frames
        print(f"{'case':<22}{'astrocut':>26}{'astro_tesscut':>26}{'ratio':>8}")
        with tempfile.TemporaryDirectory(dir=sector_data.ROOT) as out:
            elsewhere = wcs_of(cube).pixel_to_world([500], [500])
            run_theirs = functools.partial(theirs, threads=args.astrocut_threads)
            for tool in (run_theirs, ours):  # imports and first connections, untimed
                tool(elsewhere, (3, 3), out)
            for size in ((45, 35), (100, 100)):
                rows_bytes = size[0] * size[1] * frames * 8
                results = {}
                for name, tool in (("astrocut", run_theirs), ("ours", ours)):
                    fresh()
                    counts(url, reset=True)
                    seconds, _ = timed(lambda t=tool, s=size: t(centre, s, out), 1)
                    tally = counts(url)
                    gets = sum(1 for r in tally["requests"] if r[0] == "GET")
                    heads = sum(1 for r in tally["requests"] if r[0] == "HEAD")
                    results[name] = (seconds, gets, heads, tally["sent"])
                label = f"{size[1]}x{size[0]} px, 1 cutout"
                (a, ag, ah, ab), (b, bg, bh, bb) = results["astrocut"], results["ours"]
                print(
                    f"{label:<22}{a:>8.2f}s {ag:>4}G {ah}H {ab / 1e6:>6.1f}MB"
                    f"{b:>8.2f}s {bg:>4}G {bh}H {bb / 1e6:>6.1f}MB{a / b:>7.1f}x"
                )
                print(
                    f"{'':<22}(the rows' own bytes: {rows_bytes / 1e6:.1f} MB; "
                    f"ours beyond them: {(bb - rows_bytes) / 1e6:.2f} MB of headers and table)"
                )

            if not args.targets:
                return
            rng = np.random.default_rng(7)
            wcs = wcs_of(cube)
            targets = wcs.pixel_to_world(
                rng.uniform(100, 2000, args.targets), rng.uniform(100, 1950, args.targets)
            )
            fresh()
            subset = targets[: args.astrocut_targets]
            a, _ = timed(lambda: run_theirs(subset, (45, 35), out), 1)
            per_target = a / len(subset)
            b = batch(targets, url, Path(out) / "batch")
            print(
                f"{args.targets} targets, 35x45: astrocut {per_target:.2f} s per target (timed on "
                f"{len(subset)}) = {per_target * args.targets:.0f} s; batch_cutouts on a 2-worker "
                f"LocalCluster {b:.1f} s; ratio {per_target * args.targets / b:.0f}x"
            )
    finally:
        process.kill()


def wcs_of(cube):
    from astro_tesscut.archive.cube import open_cube

    return open_cube(cube).wcs


def batch(targets, url, out):
    from astropy.table import Table
    from distributed import Client, LocalCluster

    from astro_tesscut import batch_cutouts

    table = Table({"ra": targets.ra.deg, "dec": targets.dec.deg})
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: None)  # workers up before the clock starts
        counts(url, reset=True)
        start = time.perf_counter()
        result = batch_cutouts(
            table,
            (45, 35),
            PREFIX,
            sectors=[1],
            out_dir=out,
            client=client,
            storage_options={"anon": True},
            show_progress=False,
        )
        seconds = time.perf_counter() - start
    written = int(np.sum(result["status"] == "written"))
    tally = counts(url)
    print(
        f"  batch: {written} written, {len(result) - written} not; "
        f"{len(tally['requests'])} requests, {tally['sent'] / 1e9:.2f} GB fetched"
    )
    return seconds


if __name__ == "__main__":
    main()
