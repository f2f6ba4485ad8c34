"""A time window's cutout against the whole sector's, from a cube on S3: bytes and wall time.

``TessCutClass(archive=...).get_cutouts(..., time=(start, stop))`` reads only
the window's cadences: per pixel one run of them, runs of a cube row merged
where they lie at most ``astro_tesscut.cube.cutout.MERGE_GAP`` bytes apart.
This measures what that saves for a 35 x 45 cutout of a 1-day window
(``--window-days``) against the same cutout of every cadence, in the same
run, on three synthetic cubes of sector 1, camera 4, CCD 2:

- 200 cadences of 30 minutes (the FFIs of sectors 1-26): 4.2 days;
- 3,000 cadences of 200 s (the FFIs of sectors 56 onwards): 6.9 days;
- 12,000 cadences of 200 s: 27.8 days, as long as a real 200-second sector.

What sets the bytes a window reads is the gap between one pixel's run and
the next pixel's: ``(frames - window) * 8`` bytes. Where it is at most
``MERGE_GAP`` (a cube at most about 4,096 cadences longer than the window:
the first two), a row's runs merge into one request and the window reads
nearly what the whole sector does; on the third they stay apart. A cutout's
rows are always apart: a cube row is ``columns * frames * 8`` bytes,
megabytes at any width. So the cubes are not whole FFIs (a 3,000-frame one
would be 100 GB) but regions from the CCD's first row and column, whose
width changes nothing a cutout reads:

- the first two: the CCD's full width (2136 columns) and 70 rows (the
  cutout's 45, the 3-pixel margin of a cold cutout's guessed rows, and the
  pointing model's error), the target 38 rows up, at column 1067.7;
- the third: 200 columns and 90 rows (1.7 GB; the full width would make it
  18.5 GB), the target at column 120.7 and 58.3 rows up. Near column 120 the
  edge of camera 3's CCD 3, below row 0, lies closer than near column 1067: a
  target below row 51 there has that CCD's cube tried too.

Starting at the CCD's first row and column keeps a cube's pixels numbered as
the FFI's, so that a cold cutout guesses its rows from the pointing model as
it does on MAST's cubes; each target sits in the science columns, off the
half-pixel ties where a window's edge could round either way, where no other
CCD's cube is tried.

The server is nginx (``s3_standin.py``) serving the cubes path-style as a
public bucket, every answer held ``--latency`` seconds; bytes and requests
are counted from its access log. Each measurement runs in a fresh process,
its imports (astropy.coordinates and astropy.table included) and TESS's
pointing model loaded before the clock starts:

- cold: the process's first cutout (the cube's headers, its table and the
  pixels);
- warm: ``--warm-repeat`` cutouts after it, the headers and table already
  read.

Each figure is the median of ``--repeat`` processes (warm: of all their
cutouts); whole sector and window take turns. The cubes are built once
under ``$ASTRO_TESSCUT_BENCH`` (default /tmp/astro_tesscut_bench) with
`astro_tesscut.simulate.write_ffis` and `astro_tesscut.cube.build.build_cube`
and reused (their FFIs are removed once they are built; the third's 12,000
take 2 GB and about 3 minutes).

Run by hand (needs nginx, libnginx-mod-http-echo and the cloud extra)::

    apt-get install nginx libnginx-mod-http-echo
    python -m pip install ".[cloud]"
    python benchmarks/bench_time_window.py --latency 0.02
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import results
import sector_data
from s3_standin import Standin, measure_ceiling

from astro_tesscut.cube.cutout import MERGE_GAP
from astro_tesscut.ffi import COLUMNS
from astro_tesscut.targets import TimeWindow

BUCKET_KEY = "stpubdata/tess-time-window"
CUBE = "tess-s0001-4-2-cube.fits"
SIZE = (45, 35)  # (ny, nx): 35 x 45 pixels
START_TJD = 1325.3  # sector 1's first cadence


@dataclass(frozen=True)
class Geometry:
    """A cube to measure: its cadences, the region of the CCD it holds (from the FFI's
    pixel (0, 0)) and the target's 0-based FFI pixel (column, row) on it."""

    frames: int
    cadence_s: float
    rows: int
    columns: int
    target: tuple

    @property
    def name(self):
        """The cube's directory under `sector_data.ROOT` (full-width ones: as first named)."""
        width = "" if self.columns == COLUMNS else f"x{self.columns}"
        return f"time-window-{self.frames}x{self.rows}{width}"


# Each target lies far enough from row 0 that the cutout's circle reaches no other CCD's
# cube (camera 3's CCD 3 lies below, nearer near column 0 than mid-CCD), in the science
# columns (0-based 44 on), off the half-pixel ties where a window's edge could round
# either way.
CUBES = (
    Geometry(200, 1800.0, rows=70, columns=COLUMNS, target=(1067.7, 38.3)),
    Geometry(3000, 200.0, rows=70, columns=COLUMNS, target=(1067.7, 38.3)),
    # A real 200-second sector's length, narrow: the width changes nothing a cutout reads.
    Geometry(12000, 200.0, rows=90, columns=200, target=(120.7, 58.3)),
)
# Stars drawn in a full-width cube of 70 rows; other regions get as many per pixel.
STARS = 400

# One process: imports and the pointing model first, then a cutout at each line on stdin,
# its seconds and cadences printed, so that the parent tallies each from nginx's log.
CHILD = """
import sys, time, warnings
warnings.simplefilter("ignore")
import astropy.coordinates, astropy.io.fits, astropy.table
from astro_tesscut import TessCutClass
from astro_tesscut.sky.pointing import pointing_model
pointing_model()
archive, position, window = sys.argv[1], sys.argv[2], sys.argv[3]
window = None if window == "-" else tuple(map(float, window.split(",")))
client = TessCutClass(archive=archive, storage_options={"anon": True})
print("ready", flush=True)
while sys.stdin.readline().strip() == "go":
    start = time.perf_counter()
    (hdul,) = client.get_cutouts(coordinates=position, size=(45, 35), sector=1, time=window)
    seconds = time.perf_counter() - start
    print(seconds, len(hdul["PIXELS"].data), flush=True)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--latency", type=float, default=0.02, help="seconds nginx holds each answer (S3: ~0.02)"
    )
    parser.add_argument("--window-days", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per case")
    parser.add_argument(
        "--warm-repeat", type=int, default=3, help="warm cutouts per process, after the cold one"
    )
    results.add_argument(parser, "bench_time_window")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for geometry in CUBES:
        check_region(geometry)

    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x"
    )
    cubes = [describe(region_cube(geometry), geometry, args.window_days) for geometry in CUBES]
    root = s3_root(cubes)

    full_width = CUBES[0]
    figures = {
        "cutout": "35 x 45",
        # The full-width cubes' region and target, as before the narrow cube; every cube's
        # own are in its entry of "cubes".
        "target_ffi_pixel": list(full_width.target),
        "rows": full_width.rows,
        "columns": full_width.columns,
        "window_days": args.window_days,
        "merge_gap_bytes": MERGE_GAP,
        "latency_s": args.latency,
        "repeat": args.repeat,
        "warm_repeat": args.warm_repeat,
    }
    for cube in cubes:
        print(
            f"cube: {cube['frames']:,} cadences of {cube['cadence_s']:g} s "
            f"({cube['days']:.1f} days), {cube['rows']} x {cube['columns']} pixels, "
            f"{cube['cube_gb']:.2f} GB; the {args.window_days:g}-day window holds "
            f"{cube['window_cadences']} cadences, {cube['window_fraction']:.0%} of the cube's "
            f"(of a 27-day sector's at that cadence: {args.window_days / 27:.0%})"
        )

    with Standin(root, latency=args.latency) as standin:
        os.environ["AWS_ENDPOINT_URL"] = standin.url
        ceiling = measure_ceiling(standin.url, f"{BUCKET_KEY}/c{CUBES[0].frames}/{CUBE}")
        print(
            f"stand-in: nginx, {args.latency * 1e3:.0f} ms per answer; answers "
            f"{ceiling:,.0f} range GETs/s to a client with 64 connections"
        )
        figures["ceiling_gets_per_s"] = ceiling
        for cube in cubes:
            archive = f"s3://{BUCKET_KEY}/c{cube['frames']}/"
            position = "{:.8f} {:.8f}".format(*cube["target_position"])
            cases = {"whole": "-", "window": ",".join(map(repr, cube["window"]))}
            for code in cases.values():  # untimed: nginx's page cache holds the rows
                run_process(archive, position, code, args.warm_repeat, standin)
            runs = {name: [] for name in cases}
            for _ in range(args.repeat):
                for name, code in cases.items():
                    runs[name].append(
                        run_process(archive, position, code, args.warm_repeat, standin)
                    )
            cube["cases"] = {
                name: summarise(measured, cube, name) for name, measured in runs.items()
            }
            cube["ratios"] = {
                state: {
                    "bytes": cube["cases"]["window"][state]["bytes"]
                    / cube["cases"]["whole"][state]["bytes"],
                    "seconds": cube["cases"]["window"][state]["seconds"]
                    / cube["cases"]["whole"][state]["seconds"],
                }
                for state in ("cold", "warm")
            }
    print_table(cubes, args)
    for cube in cubes:
        del cube["path"]
    figures["cubes"] = cubes
    # No peer: obstore, which reads s3:// URLs, is named apart from the packages compared.
    figures["reader"] = {"obstore": version("obstore")}
    results.write(args.results, "bench_time_window", figures)


def check_region(geometry):
    """Refuse a cube whose region lacks room for the cutout, the margin of a cold cutout's
    guessed window and the pointing model's error around its target."""
    column, row = geometry.target
    for axis, centre, half, size in (
        ("columns", column, SIZE[1] / 2, geometry.columns),
        ("rows", row, SIZE[0] / 2, geometry.rows),
    ):
        if centre - half - 4 < 0 or centre + half + 4 > size:
            raise SystemExit(
                f"cube of {geometry.frames} frames: its {size} {axis} leave no room for the "
                f"cutout and its guessed margin around {centre}"
            )


def target_position(pixel):
    """ICRS degrees of a 0-based FFI pixel (column, row) by sector 1, camera 4, CCD 2's
    WCS (the FFIs')."""
    from astro_tesscut.simulate import ffi_wcs

    ((ra, dec),) = ffi_wcs(1, 4, 2).all_pix2world([pixel], 0)
    return float(ra), float(dec)


def region_cube(geometry):
    """The cube of ``geometry.frames`` synthetic FFIs of CCD rows and columns from 0, built
    the first time it is asked for (its FFIs removed once it is)."""
    from astro_tesscut.cube.build import build_cube
    from astro_tesscut.simulate import ffi_wcs, write_ffis

    frames, rows, columns = geometry.frames, geometry.rows, geometry.columns
    path = sector_data.ROOT / geometry.name / CUBE
    if path.exists():
        return path
    directory = sector_data.ROOT / geometry.name.replace("time-window-", "time-window-ffis-")
    print(
        f"writing {frames} FFIs of {rows} x {columns} pixels to {directory} and building "
        f"{path} (once) ...",
        flush=True,
    )
    start = time.perf_counter()
    rng = np.random.default_rng(frames)
    count = round(STARS * rows * columns / (70 * COLUMNS))
    x = rng.uniform(0, columns, count)
    y = rng.uniform(0, rows, count)
    world = ffi_wcs(1, 4, 2).all_pix2world(np.stack([x, y], axis=1), 0)
    ra, dec = target_position(geometry.target)
    stars = [(ra, dec, 3e5)] + [
        (float(a), float(d), float(f))
        for (a, d), f in zip(world, 10 ** rng.uniform(2, 5, len(x)), strict=True)
    ]
    ffis = write_ffis(
        directory,
        n_frames=frames,
        shape=(rows, columns),
        stars=stars,
        start_tjd=START_TJD,
        cadence_minutes=geometry.cadence_s / 60,
        seed=frames,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    build_cube(ffis, path, sector=1)
    shutil.rmtree(directory)
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def describe(path, geometry, days):
    """A cube's figures, and the window: ``days`` around the middle of its cadences."""
    from astro_tesscut.cube.ffi_cube import open_cube

    cube = open_cube(path)
    frames = geometry.frames
    if (cube.frames, cube.rows, cube.columns, cube.ccd_origin) != (
        frames,
        geometry.rows,
        geometry.columns,
        (0, 0),
    ):
        raise SystemExit(
            f"{path} is not a cube of {frames} frames of CCD rows 0-{geometry.rows - 1} and "
            f"columns 0-{geometry.columns - 1}"
        )
    times = cube.times
    middle = (times[0] + times[-1]) / 2
    window = (round(float(middle) - days / 2, 6), round(float(middle) + days / 2, 6))
    first, stop = TimeWindow(*window).frames(times)
    span = (cube.column("TSTOP")[-1] - cube.column("TSTART")[0]).item()
    return {
        "path": path,
        "frames": frames,
        "cadence_s": geometry.cadence_s,
        "rows": geometry.rows,
        "columns": geometry.columns,
        "target_ffi_pixel": list(geometry.target),
        "target_position": target_position(geometry.target),
        "days": span,
        "cube_gb": path.stat().st_size / 1e9,
        "window": window,
        "window_cadences": stop - first,
        "window_fraction": (stop - first) / frames,
        # The bytes of the cutout's own pixels (flux and uncertainty), without gaps.
        "whole_pixel_mb": SIZE[0] * SIZE[1] * frames * 8 / 1e6,
        "window_pixel_mb": SIZE[0] * SIZE[1] * (stop - first) * 8 / 1e6,
    }


def s3_root(cubes):
    """A directory laid out ``bucket/key`` holding each cube (a link) under its own prefix,
    ``c<frames>/``, for the S3 stand-in."""
    root = sector_data.ROOT / "s3-time-window"
    for cube in cubes:
        folder = root / BUCKET_KEY / f"c{cube['frames']}"
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / CUBE
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(Path(cube["path"]).resolve())
    return root


def run_process(archive, position, window, warm, standin):
    """One fresh process: its cold cutout, then ``warm`` more; for each, (seconds,
    cadences, nginx's tally of it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, archive, position, window],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    measured = []
    try:
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("the measuring process failed before its first cutout")
        for _ in range(1 + warm):
            standin.counts()
            child.stdin.write("go\n")
            child.stdin.flush()
            answer = child.stdout.readline().split()
            if len(answer) != 2:
                raise SystemExit("the measuring process failed during a cutout")
            time.sleep(0.05)  # nginx writes its log line after the answer
            measured.append((float(answer[0]), int(answer[1]), standin.counts()))
        child.stdin.write("stop\n")
        child.stdin.flush()
    finally:
        child.stdin.close()
        if child.wait(timeout=60) != 0:
            raise SystemExit(f"the measuring process exited with {child.returncode}")
    return measured


def summarise(runs, cube, case):
    """Medians of the cold cutouts (each process's first) and of the warm ones (the rest)."""
    expected = cube["frames"] if case == "whole" else cube["window_cadences"]
    summary = {}
    cold = [run[0] for run in runs]
    warm = [cutout for run in runs for cutout in run[1:]]
    for state, picked in (("cold", cold), ("warm", warm)):
        cadences = {run[1] for run in picked}
        if cadences != {expected}:
            raise SystemExit(f"{case}: the files hold {cadences} cadences, not {expected}")
        summary[state] = {
            "seconds": statistics.median(run[0] for run in picked),
            "spread_s": [min(run[0] for run in picked), max(run[0] for run in picked)],
            "bytes": statistics.median(run[2]["bytes"] for run in picked),
            "gets": statistics.median(run[2]["GET"] for run in picked),
            "heads": statistics.median(run[2]["HEAD"] for run in picked),
            "cutouts": len(picked),
        }
    summary["cadences"] = expected
    return summary


def print_table(cubes, args):
    print(
        f"\n35 x 45 cutout, whole sector against a {args.window_days:g}-day window "
        f"(median of {args.repeat} fresh processes; warm: {args.warm_repeat} cutouts each)"
    )
    print(
        f"{'cube':<22}{'case':<18}{'state':<6}{'cadences':>9}{'seconds':>9}{'GETs':>6}"
        f"{'MB read':>9}"
    )
    for cube in cubes:
        label = f"{cube['frames']:,} x {cube['cadence_s']:g} s"
        for case, name in (("whole", "whole sector"), ("window", "window")):
            for state in ("cold", "warm"):
                figures = cube["cases"][case][state]
                print(
                    f"{label:<22}{name:<18}{state:<6}{cube['cases'][case]['cadences']:>9}"
                    f"{figures['seconds']:>8.3f}s{figures['gets']:>6.0f}"
                    f"{figures['bytes'] / 1e6:>9.2f}"
                )
    print("\nwindow over whole sector (bytes read from nginx's log; wall time):")
    for cube in cubes:
        ratios = cube["ratios"]
        print(
            f"  {cube['frames']:,} cadences ({cube['window_cadences']} in the window, "
            f"{cube['window_fraction']:.0%}): cold bytes {ratios['cold']['bytes']:.3f}, "
            f"time {ratios['cold']['seconds']:.2f}; warm bytes {ratios['warm']['bytes']:.3f}, "
            f"time {ratios['warm']['seconds']:.2f}  (the window's own pixels: "
            f"{cube['window_pixel_mb'] / cube['whole_pixel_mb']:.3f} of the whole's)"
        )


if __name__ == "__main__":
    main()
