"""Building an FFI cube: astro_tesscut's `build_cube` against astrocut's `CubeFactory.make_cube`.

Both read the same real-size synthetic FFIs (2136 x 2078, float32 image and
uncertainty, a real TESS SIP WCS), cold from disk (evicted from the page
cache before each build), each in a fresh process so that its peak RSS is its
own. Printed: wall time, peak RSS, the ratio, and the data-movement floor
(the cube's bytes at this disk's measured write speed). Ours ends with an
fsync of the cube before renaming it into place; astrocut's does not.

Run by hand (needs astrocut, the peers extra; about 30 GB of disk
under $ASTRO_TESSCUT_BENCH for N = 200)::

    python benchmarks/bench_cube.py --frames 50 200
"""

import argparse
import json
import subprocess
import sys

import results
import sector_data

PACKAGES = ("astro_tesscut", "astrocut", "astropy", "numpy")

CHILD = """
import json, resource, sys, time
files, output = sys.argv[1].split(","), sys.argv[2]
start = time.perf_counter()
if sys.argv[3] == "astrocut":
    from astrocut import CubeFactory
    CubeFactory().make_cube(files, output, sector=1, verbose=False)
else:
    from astro_tesscut.cube.build import build_cube
    build_cube(files, output, sector=1, show_progress=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def build(tool, files, output):
    sector_data.evict(files)
    output.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(map(str, files)), str(output), tool],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[50, 200])
    results.add_argument(parser, "bench_cube")
    args = parser.parse_args()

    write_speed, read_speed = sector_data.bandwidth(sector_data.ROOT)
    print(f"disk: {write_speed / 1e6:.0f} MB/s write (fsync), {read_speed / 1e6:.0f} MB/s read")
    header = f"{'FFIs':>5} {'cube':>8} | {'astrocut':>16} | {'astro_tesscut':>16} | {'ratio':>6}"
    print(header + " | floor")
    cubes = []
    for count in args.frames:
        files = sector_data.ffis(count)
        cube_bytes = 2078 * 2136 * count * 8
        built = {}
        for tool in ("astrocut", "astro_tesscut"):
            output = sector_data.ROOT / f"bench-{tool}-{count}-cube.fits"
            built[tool] = build(tool, files, output)
            output.unlink()
        theirs, ours = built["astrocut"], built["astro_tesscut"]
        floor = max(cube_bytes / write_speed, cube_bytes / read_speed)
        print(
            f"{count:>5} {cube_bytes / 1e9:>6.1f}GB | "
            f"{theirs['seconds']:>6.1f}s {theirs['rss'] / 1e9:>5.2f}GB RSS | "
            f"{ours['seconds']:>6.1f}s {ours['rss'] / 1e9:>5.2f}GB RSS | "
            f"{theirs['seconds'] / ours['seconds']:>5.2f}x | "
            f"{floor:.1f}s (ours {ours['seconds'] / floor:.1f}x it)",
            flush=True,
        )
        cubes.append(
            {
                "ffis": count,
                "cube_gb": round(cube_bytes / 1e9, 2),
                "astrocut": {"seconds": theirs["seconds"], "rss_gb": theirs["rss"] / 1e9},
                "astro_tesscut": {"seconds": ours["seconds"], "rss_gb": ours["rss"] / 1e9},
                "ratio": theirs["seconds"] / ours["seconds"],
            }
        )
    disk = {"write_mb_s": write_speed / 1e6, "read_mb_s": read_speed / 1e6}
    results.write(args.results, "bench_cube", {"disk": disk, "cubes": cubes}, packages=PACKAGES)


if __name__ == "__main__":
    main()
