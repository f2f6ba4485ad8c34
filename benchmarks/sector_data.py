"""Real-size synthetic sectors on disk, shared by the benchmarks.

FFIs are 2136 x 2078 float32 image + uncertainty with the real SIP WCS of
sector 1, camera 4, CCD 2 (from tesswcs), written once under
``$ASTRO_TESSCUT_BENCH`` (default /tmp/astro_tesscut_bench) and reused.
"""

import os
import time
from pathlib import Path

import numpy as np

from astro_tesscut.simulate import write_ffis

ROOT = Path(os.environ.get("ASTRO_TESSCUT_BENCH", "/tmp/astro_tesscut_bench"))
PI_MEN = (84.2911879979852, -80.4691197969941)


def ffis(count):
    """Paths of ``count`` real-size FFIs, written the first time they are asked for."""
    directory = ROOT / f"ffis-{count}"
    paths = sorted(directory.glob("*_ffic.fits"))
    if len(paths) == count:
        return paths
    print(f"writing {count} real-size FFIs to {directory} (once) ...", flush=True)
    start = time.perf_counter()
    rng = np.random.default_rng(3)
    stars = [(*PI_MEN, 3e6)] + [
        (PI_MEN[0] + dx, PI_MEN[1] + dy, flux)
        for dx, dy, flux in zip(
            rng.uniform(-8, 8, 3000),
            rng.uniform(-5, 5, 3000),
            10 ** rng.uniform(2, 5, 3000),
            strict=True,
        )
    ]
    paths = write_ffis(directory, n_frames=count, stars=stars, seed=count)
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return paths


def cube(count):
    """The cube of ``count`` real-size FFIs (sector 1, camera 4, CCD 2), built the first
    time it is asked for."""
    from astro_tesscut.cube.build import build_cube

    path = ROOT / f"cube-{count}" / "tess-s0001-4-2-cube.fits"
    if not path.exists():
        print(f"building the {count}-frame cube (once) ...", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        build_cube(ffis(count), path, sector=1)
    return path


def evict(paths):
    """Drop ``paths`` from the page cache, so that the next read is cold (no root needed)."""
    for path in paths:
        with open(path, "rb") as file:
            os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def bandwidth(directory, size=1 << 30):
    """This disk's sequential write (with fsync) and cold read speed, bytes per second."""
    path = Path(directory) / "bandwidth.tmp"
    block = np.random.default_rng(0).bytes(1 << 24)
    start = time.perf_counter()
    with open(path, "wb") as file:
        for _ in range(size // len(block)):
            file.write(block)
        file.flush()
        os.fsync(file.fileno())
    write = size / (time.perf_counter() - start)
    evict([path])
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as file:
        while file.read(1 << 24):
            pass
    read = size / (time.perf_counter() - start)
    path.unlink()
    return write, read


def s3_root(cube, key="stpubdata/tess/public/mast"):
    """A directory laid out ``bucket/key`` holding ``cube`` (a link), for the S3 stand-in."""
    root = ROOT / "s3"
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / Path(cube).name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(cube).resolve())
    return root
