"""Which client fetches a cube's byte ranges cheapest: s3fs (as is, and tuned) against obstore.

The cutouts of many targets on one cube are thousands of small range GETs
(a 35 x 45 cutout of a 50-frame cube: 45 ranges of 14 kB). Each candidate
fetches the same ranges of the same ``s3://`` object from the nginx
stand-in (`s3_standin.py`), anonymously, through ``AWS_ENDPOINT_URL``; the
wall time, the process's CPU time per request (all its threads) and the
requests nginx answered are printed, at no added latency and at a far
server's 20 ms.

    python benchmarks/bench_ranges.py --ranges 9000
"""

import argparse
import asyncio
import os
import time

import numpy as np
import results
import sector_data
from s3_standin import Standin

BUCKET, KEY = "stpubdata", "tess/public/mast/tess-s0001-4-2-cube.fits"


def ranges_of(cube, count, seed=1):
    """Byte ranges of 35-column cutout rows at random places on the cube, as (start, stop)."""
    from astro_tesscut.cube.ffi_cube import open_cube

    layout = open_cube(cube)
    rng = np.random.default_rng(seed)
    run = 35 * layout.frames * 8
    rows = rng.integers(0, layout.rows, count)
    columns = rng.integers(0, layout.columns - 35, count)
    starts = layout.data_start + (rows * layout.columns + columns) * layout.frames * 8
    return [(int(s), int(s) + run) for s in starts]


def s3fs_cat_ranges(ranges, **options):
    import fsspec

    fsspec.AbstractFileSystem.clear_instance_cache()
    fs = fsspec.filesystem("s3", anon=True, endpoint_url=os.environ["AWS_ENDPOINT_URL"], **options)
    pieces = fs.cat_ranges(
        [f"{BUCKET}/{KEY}"] * len(ranges), [a for a, _ in ranges], [b for _, b in ranges]
    )
    failed = [p for p in pieces if isinstance(p, Exception)]
    if failed:
        raise failed[0]
    return sum(len(p) for p in pieces)


def obstore_each(ranges, connections=64):
    import obstore

    store = _store()

    async def run():
        gate = asyncio.Semaphore(connections)

        async def one(start, stop):
            async with gate:
                return await obstore.get_range_async(store, KEY, start=start, end=stop)

        return await asyncio.gather(*(one(a, b) for a, b in ranges))

    return sum(len(p) for p in asyncio.run(run()))


def obstore_ranges(ranges, connections=64):
    """obstore's get_ranges (10 requests at a time each), in ``connections / 10`` calls at once."""
    import obstore

    store = _store()
    groups = max(1, connections // 10)

    async def run():
        parts = [ranges[i::groups] for i in range(groups)]
        return await asyncio.gather(
            *(
                obstore.get_ranges_async(
                    store, KEY, starts=[a for a, _ in p], ends=[b for _, b in p], coalesce=0
                )
                for p in parts
            )
        )

    return sum(len(b) for part in asyncio.run(run()) for b in part)


def _store():
    from obstore.store import S3Store

    return S3Store(
        BUCKET,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        skip_signature=True,
        client_options={"allow_http": True},
    )


def ours(ranges):
    """What astro_tesscut does: after the headers' read (which pins the object's ETag), a
    GET per range with If-Match, its body streamed and bounded, on threads."""
    from astro_tesscut.cube.s3_source import S3Source, obstore_config

    source = S3Source(f"s3://{BUCKET}/{KEY}", obstore_config({"anon": True}))
    source.head(2880)
    buffers = [bytearray(stop - start) for start, stop in ranges]
    source.read_into(
        [(start, stop - start) for start, stop in ranges], [memoryview(b) for b in buffers]
    )
    return sum(map(len, buffers))


CANDIDATES = {
    "s3fs, defaults (10 connections)": s3fs_cat_ranges,
    "s3fs, max_pool_connections=64": lambda r: s3fs_cat_ranges(
        r, config_kwargs={"max_pool_connections": 64}
    ),
    "obstore get_range_async x64": obstore_each,
    "obstore get_ranges_async, 6 calls": obstore_ranges,
    "astro_tesscut (bounded GETs, threads)": ours,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranges", type=int, default=9000)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 0.02])
    results.add_argument(parser, "bench_ranges")
    args = parser.parse_args()
    cube = sector_data.cube(50)
    root = sector_data.s3_root(cube)
    ranges = ranges_of(cube, args.ranges)
    expected = sum(b - a for a, b in ranges)
    runs = []
    for latency in args.latency:
        with Standin(root, latency=latency) as standin:
            os.environ.update({"AWS_ENDPOINT_URL": standin.url, "AWS_REGION": "us-east-1"})
            print(
                f"\n{len(ranges)} range GETs of {ranges[0][1] - ranges[0][0]} bytes, "
                f"{latency * 1e3:.0f} ms per answer"
            )
            print(f"{'client':<36}{'wall':>8}{'GET/s':>9}{'CPU/GET':>10}{'nginx GETs':>12}")
            clients = []
            runs.append({"latency_s": latency, "clients": clients})
            for name, fetch in CANDIDATES.items():
                fetch(ranges[:200])  # imports, first connections
                standin.counts()
                wall, cpu = time.perf_counter(), time.process_time()
                fetched = fetch(ranges)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert fetched == expected, (name, fetched, expected)
                gets = standin.counts()["GET"]
                print(
                    f"{name:<36}{wall:>7.2f}s{len(ranges) / wall:>9.0f}"
                    f"{cpu / len(ranges) * 1e3:>8.3f}ms{gets:>12}"
                )
                clients.append(
                    {
                        "client": name,
                        "wall_s": wall,
                        "gets_per_s": len(ranges) / wall,
                        "cpu_ms_per_get": cpu / len(ranges) * 1e3,
                        "nginx_gets": gets,
                    }
                )
    figures = {"ranges": len(ranges), "range_bytes": ranges[0][1] - ranges[0][0], "runs": runs}
    results.write(
        args.results, "bench_ranges", figures, packages=("astro_tesscut", "obstore", "s3fs")
    )


if __name__ == "__main__":
    main()
