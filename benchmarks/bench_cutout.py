"""Cutouts from a 200-frame real-size cube: astro_tesscut against astrocut's `TessCubeCutout`.

Both cut the same cube (2078 x 2136 pixels, 200 FFIs, astrocut's format) and
write TESScut-format target pixel files to disk:

- one 35 x 45 and one 100 x 100 pixel cutout, warm (cube in the page cache,
  median of 5 after a first call) and cold (cube evicted from the page cache
  and, for astro_tesscut, its in-process cube cache cleared: a first call);
- 100 targets on the cube: astro_tesscut's batch form against a loop of
  astrocut.

Each figure is printed with its data-movement floor: the bytes read and
written at this machine's measured speeds (memory for warm, disk for cold).

Run by hand (needs astrocut: the peers extra)::

    python benchmarks/bench_cutout.py
"""

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import results
import sector_data
from astropy.coordinates import SkyCoord
from timing import timed

from astro_tesscut.cube import ffi_cube as cube_module
from astro_tesscut.cube.cutout import cutouts

FRAMES = 200


def ours(cube, coords, size, out):
    return cutouts(cube, coords, size=size, output_dir=out)


def theirs(cube, coords, size, out):
    from astrocut import TessCubeCutout

    ny, nx = size
    paths = []
    for coord in coords:
        # astrocut's cube cutouts take the columns first, as TESScut passes them.
        cut = TessCubeCutout(str(cube), coord, cutout_size=[nx, ny])
        paths += cut.write_as_tpf(out, legacy_filenames=True)
    return paths


def emptied(out, then=None):
    """A set-up step that empties ``out`` (so neither tool pays for replacing the other's
    file), then runs ``then``."""

    def step():
        for path in Path(out).glob("*.fits"):
            path.unlink()
        if then is not None:
            then()

    return step


def memory_speed():
    """Bytes per second numpy copies through memory (warm data's floor)."""
    source = np.ones(1 << 27, dtype=np.uint8)
    target = np.empty_like(source)
    start = time.perf_counter()
    for _ in range(5):
        target[...] = source
    return 5 * source.nbytes / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=100)
    results.add_argument(parser, "bench_cutout")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # astrocut's FITS verification chatter

    cube = sector_data.cube(FRAMES)
    disk_write, disk_read = sector_data.bandwidth(sector_data.ROOT)
    memory = memory_speed()
    centre = SkyCoord(*sector_data.PI_MEN, unit="deg")
    print(
        f"cube {cube.stat().st_size / 1e9:.1f} GB, {FRAMES} frames; disk {disk_write / 1e6:.0f} "
        f"MB/s write, {disk_read / 1e6:.0f} MB/s cold read; memory {memory / 1e9:.1f} GB/s"
    )
    print(f"{'case':<26}{'astrocut':>11}{'astro_tesscut':>15}{'ratio':>8}   floor (ours / floor)")

    def cold():
        os.sync()  # earlier runs' writes flushed, so they do not land in this timing
        sector_data.evict([cube])
        cube_module.forget_cubes()

    file_bytes, cases = {}, []
    with tempfile.TemporaryDirectory(dir=sector_data.ROOT) as out:
        for size in ((45, 35), (100, 100)):
            (path,) = ours(cube, centre.reshape((1,)), size, out)
            written = file_bytes[size] = path.stat().st_size
            read = size[0] * size[1] * FRAMES * 8
            for state, before, repeat in (("warm", None, 5), ("cold", cold, 3)):
                ours(cube, centre.reshape((1,)), size, out)
                theirs(cube, [centre], size, out)
                setup = emptied(out, before)
                a, _ = timed(lambda s=size: theirs(cube, [centre], s, out), repeat, setup)
                b, _ = timed(lambda s=size: ours(cube, centre.reshape((1,)), s, out), repeat, setup)
                floor = (
                    (read + written) / memory
                    if state == "warm"
                    else read / disk_read + written / disk_write
                )
                label = f"{size[1]}x{size[0]} px, {state}"
                print(
                    f"{label:<26}{a * 1e3:>9.0f}ms{b * 1e3:>13.1f}ms{a / b:>7.1f}x   "
                    f"{floor * 1e3:.1f} ms ({b / floor:.0f}x)",
                    flush=True,
                )
                cases.append(
                    {
                        "size": list(size),
                        "state": state,
                        "astrocut_s": a,
                        "astro_tesscut_s": b,
                        "ratio": a / b,
                        "floor_s": floor,
                    }
                )

        # Targets spread over the science pixels, away from the edges.
        rng = np.random.default_rng(1)
        targets = cube_module.open_cube(cube).wcs.pixel_to_world(
            rng.uniform(100, 2000, args.targets), rng.uniform(100, 1950, args.targets)
        )
        size = (45, 35)
        # Each starts with the other's 640 MB of files flushed: their write-back would
        # land in its timing.
        a, _ = timed(lambda: theirs(cube, targets, size, out), 1, emptied(out, os.sync))
        b, _ = timed(lambda: ours(cube, targets, size, out), 1, emptied(out, os.sync))
        read = args.targets * size[0] * size[1] * FRAMES * 8
        floor = (read + args.targets * file_bytes[size]) / memory
        label = f"{args.targets} targets, 35x45 px"
        print(
            f"{label:<26}{a:>10.2f}s{b:>14.2f}s{a / b:>7.1f}x   {floor * 1e3:.0f} ms "
            f"({b / floor:.0f}x; {file_bytes[size] / 1e6:.1f} MB per file)"
        )
        cases.append(
            {
                "size": list(size),
                "targets": args.targets,
                "astrocut_s": a,
                "astro_tesscut_s": b,
                "ratio": a / b,
                "floor_s": floor,
            }
        )
        wcs_residuals(cube, centre, out)
    speeds = {
        "disk_write_mb_s": disk_write / 1e6,
        "disk_read_mb_s": disk_read / 1e6,
        "memory_gb_s": memory / 1e9,
    }
    results.write(
        args.results,
        "bench_cutout",
        {"frames": FRAMES, "speeds": speeds, "cases": cases},
        packages=("astro_tesscut", "astrocut", "astropy", "numpy"),
    )


def wcs_residuals(cube, centre, out):
    """How far each cutout WCS strays from the FFI's over a 100 x 100 cutout, in arcsec."""
    from astropy.io import fits
    from astropy.wcs import WCS

    ffi = cube_module.open_cube(cube).wcs
    (path,) = ours(cube, centre.reshape((1,)), (100, 100), Path(out) / "ours")
    (their_path,) = theirs(cube, [centre], (100, 100), Path(out) / "astrocut")
    with fits.open(path) as mine, fits.open(their_path) as their:
        column, row = mine[2].header["CRVAL1P"] - 1, mine[2].header["CRVAL2P"] - 1
        yy, xx = np.mgrid[:100, :100]
        truth = ffi.pixel_to_world(xx + column, yy + row)
        h = mine[1].header
        linear = WCS(naxis=2)
        linear.wcs.ctype = [h["1CTYP5"], h["2CTYP5"]]
        linear.wcs.crpix = [h["1CRPX5"], h["2CRPX5"]]
        linear.wcs.crval = [h["1CRVL5"], h["2CRVL5"]]
        linear.wcs.pc = [[h["11PC5"], h["12PC5"]], [h["21PC5"], h["22PC5"]]]
        for label, wcs in (
            ("ours, APERTURE (the FFI's TAN-SIP WCS, moved)", WCS(mine[2].header)),
            ("ours, table columns (TAN tangent at the centre)", linear),
            ("astrocut, APERTURE (linear fit)", WCS(their[2].header)),
        ):
            offset = wcs.pixel_to_world(xx, yy).separation(truth).arcsec
            print(f"WCS residual, {label}: max {offset.max():.2e} arcsec, rms {offset.std():.2e}")


if __name__ == "__main__":
    main()
