"""Offline sector geometry against tess-point's per-target entry point.

``locate`` maps N random positions (fixed seed) onto every sector, camera
and CCD at once; tess-point's ``tess_stars2px_function_entry`` loops over
targets, sectors and cameras in Python. tess-point is timed on a random
subset with one shared pointing model (``scInfo``), and its time per target
extrapolated to N; the ratio is tess-point's time over ours. On the subset,
every science-pixel hit of ours must be tess-point's at the same pixel
position; tess-point may find more only within a few pixels of an FFI's
edge, outside the FFI's footprint polygon, which is how MAST decides.

Run by hand (it needs tess-point, which ``locate`` uses)::

    python benchmarks/bench_geometry.py --targets 10000 --subset 300
"""

import argparse
import time
from importlib.metadata import version

import numpy as np
import results
import tess_stars2px
from astropy.coordinates import SkyCoord
from timing import timed

from astro_tesscut.sky.geometry import locate


def random_sky(n, rng):
    """``n`` positions spread evenly over the sky, as RA and Dec in degrees."""
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def science_hits_agree(table, ids, ras, decs, scinfo):
    """Compare our hits on science pixels with tess-point's; return its time and a summary."""
    start = time.perf_counter()
    found, _, _, sector, camera, ccd, column, row, _ = tess_stars2px.tess_stars2px_function_entry(
        ids, ras, decs, scInfo=scinfo
    )
    elapsed = time.perf_counter() - start
    theirs = {
        (int(i), int(s), int(cam), int(c)): (x, y)
        for i, s, cam, c, x, y in zip(found, sector, camera, ccd, column, row, strict=True)
        if i >= 0  # tess-point's placeholder when nothing is found
    }
    mine = table[np.isin(table["target"], ids)]
    ours = {
        (int(r["target"]), int(r["sector"]), int(r["camera"]), int(r["ccd"])): (
            r["column"],
            r["row"],
        )
        for r in mine
    }
    # tess-point's science area: columns 45-2092, rows 1-2048.
    science = {k for k, (x, y) in ours.items() if 44 < x < 2093 and 0 < y < 2049}
    assert science <= set(theirs), "a hit of ours on science pixels that tess-point misses"
    worst = max(
        (max(abs(ours[k][0] - x), abs(ours[k][1] - y)) for k in science for x, y in [theirs[k]]),
        default=0.0,
    )
    assert worst < 1e-6, f"pixel positions differ by up to {worst} px"
    # An FFI's footprint is MAST's: the great-circle polygon through its corner pixels, which
    # cuts off a sliver along each (slightly curved) edge; tess-point's hits there are ours
    # to miss, but only within a few pixels of an edge.
    sliver = {k: theirs[k] for k in set(theirs) - science}
    deepest = max(
        (min(x - 44.5, 2092.5 - x, y - 0.5, 2048.5 - y) for x, y in sliver.values()), default=0
    )
    assert deepest < 10, f"tess-point finds a hit {deepest:.1f} px inside an FFI that we miss"
    return elapsed, (
        f"{len(science)} science-pixel hits agree (largest difference {worst:.1e} px); "
        f"tess-point also finds {len(sliver)} within {deepest:.1f} px of an FFI's edge, outside "
        f"its footprint polygon (MAST's s_region); astro_tesscut also finds "
        f"{len(ours) - len(science)} on collateral pixels"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--subset", type=int, default=300, help="targets given to tess-point")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    results.add_argument(parser, "bench_geometry")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    ras, decs = random_sky(args.targets, rng)
    coords = SkyCoord(ras, decs, unit="deg")

    start = time.perf_counter()
    locate(coords[:1])  # warm-up: builds the pointing model, once per process
    cold = time.perf_counter() - start
    ours, table = timed(lambda: locate(coords), args.repeat)

    scinfo = tess_stars2px.TESS_Spacecraft_Pointing_Data()
    ids = np.sort(rng.choice(args.targets, size=min(args.subset, args.targets), replace=False))
    peer, agreement = science_hits_agree(table, ids, ras[ids], decs[ids], scinfo)
    per_target = peer / len(ids)
    extrapolated = per_target * args.targets

    print(
        f"{args.targets} random positions (seed {args.seed}), tess-point "
        f"{version('tess-point')}: {len(scinfo.sectors)} sectors x 4 cameras x 4 CCDs"
    )
    print(f"astro_tesscut warm-up call (tess-point set-up): {cold:.2f} s")
    print(
        f"astro_tesscut locate, all {args.targets}: {ours:.3f} s "
        f"(median of {args.repeat}), {len(table)} hits"
    )
    print(
        f"tess-point, {len(ids)} of them: {peer:.2f} s, {1e3 * per_target:.2f} ms per target; "
        f"extrapolated to {args.targets}: {extrapolated:.1f} s"
    )
    print(f"ratio: {extrapolated / ours:.0f}x (goal >= 50x)")
    print(f"check on the {len(ids)}: {agreement}")
    figures = {
        "targets": args.targets,
        "subset": len(ids),
        "seed": args.seed,
        "sectors": len(scinfo.sectors),
        "astro_tesscut_s": ours,
        "astro_tesscut_warmup_s": cold,
        "tess_point_s": extrapolated,
        "tess_point_per_target_ms": 1e3 * per_target,
        "ratio": extrapolated / ours,
        "check": agreement,
    }
    results.write(
        args.results, "bench_geometry", figures, packages=("astro_tesscut", "tess-point", "numpy")
    )


if __name__ == "__main__":
    main()
