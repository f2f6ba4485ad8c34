"""The embedded default: the worked example, offline, on a synthetic sector.

The first time, a small local archive is made (kept in the astropy cache
directory): FFIs of a 200 x 150 pixel region of sector 1, camera 4, CCD 2
around Pi Mensae, with that CCD's real WCS, the bundled TIC stars and some
synthetic field stars (`demo_stars`) drawn with a realistic PSF, noise,
background and a little pointing jitter. The worked example then runs on it
through the offline API: TIC neighbours, the sector table, a 35 x 45 pixel
cutout of sector 1, and its plots.

The pixels are synthetic, and every file says so: the FFIs, their cube and
its cutouts carry ``SIMDATA = T``, ``SIMNOTE`` (a sentence saying they are not
TESS data) and ``SIMSCENE``, which names the demo (`is_demo_file`).
"""

import os
import shutil
import time
from pathlib import Path

from . import plotting
from .catalog import bundled_cone, bundled_position, bundled_stars
from .core import TessCutClass
from .files import load_cutout
from .simulate import ffi_wcs, write_ffis

__all__ = ["demo_archive", "demo_stars", "is_demo_file", "run_demo"]

SECTOR, CAMERA, CCD = 1, 4, 2
REGION_SHAPE = (150, 200)  # rows, columns
REGION_CORNER = (1530, 185)  # 0-based CCD column and row of the region's first pixel
FRAMES = 300
_VERSION = 2  # bump when what the demo draws changes, so old archives are not reused
_FIELD_STARS = 80
_SCENE = f"astro_tesscut demo v{_VERSION}"  # SIMSCENE of the demo's files


def demo_archive(*, frames=FRAMES, show_progress=True):
    """The demo's archive of FFIs, made the first time it is asked for.

    Returns
    -------
    `pathlib.Path`
        A directory of synthetic SPOC FFIs, for ``TessCutClass(archive=...)``.
    """
    from astropy.config import get_cache_dir

    directory = Path(get_cache_dir()) / "astro_tesscut" / "demo" / f"v{_VERSION}-{frames}"
    if directory.is_dir():
        return directory
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_sector(staging, frames, show_progress)
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, directory)
        except OSError:  # another process made it first
            if not directory.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def demo_stars():
    """The stars drawn into the demo sector: the bundled TIC rows and synthetic field stars.

    The field stars, made up so that the image looks like a sky, are not in any
    catalogue but this one; they are the same every time.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``ID`` (the TIC ID, or ``synthetic-NN`` for a made-up star),
        ``ra``, ``dec`` (degrees) and ``Tmag``.
    """
    import numpy as np
    from astropy import units as u
    from astropy.table import Table

    tic = bundled_stars()
    rng = np.random.default_rng(261136679)
    rows, columns = REGION_SHAPE
    wcs = ffi_wcs(SECTOR, CAMERA, CCD, corner=REGION_CORNER)
    field = wcs.pixel_to_world(
        rng.uniform(0, columns, _FIELD_STARS), rng.uniform(0, rows, _FIELD_STARS)
    )
    magnitudes = rng.uniform(10, 17, _FIELD_STARS)
    return Table(
        {
            "ID": [*tic["ID"], *(f"synthetic-{i:02d}" for i in range(1, _FIELD_STARS + 1))],
            "ra": np.concatenate([tic["ra"], field.ra.deg]) * u.deg,
            "dec": np.concatenate([tic["dec"], field.dec.deg]) * u.deg,
            "Tmag": np.concatenate([tic["Tmag"], magnitudes]) * u.mag,
        }
    )


def is_demo_file(header):
    """Whether a file is of the demo's sector: one of its FFIs, their cube or a cutout.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
        The file's primary header.

    Returns
    -------
    bool
        True when its ``SIMSCENE`` names this version of the demo, whose
        stars are `demo_stars`.
    """
    return header.get("SIMSCENE") == _SCENE


def _write_sector(directory, frames, show_progress):
    from tqdm.auto import tqdm

    stars = [(row["ra"], row["dec"], _flux(row["Tmag"])) for row in demo_stars()]
    with tqdm(total=frames, desc="demo FFIs", disable=None if show_progress else True) as bar:
        write_ffis(
            directory,
            sector=SECTOR,
            camera=CAMERA,
            ccd=CCD,
            n_frames=frames,
            shape=REGION_SHAPE,
            corner=REGION_CORNER,
            stars=stars,
            seed=1,
            primary_cards={"SIMSCENE": (_SCENE, "stars: astro_tesscut.demo.demo_stars()")},
            progress=lambda path: bar.update(),
        )


def _flux(tmag):
    """e-/s of a star of TESS magnitude ``tmag`` (about 15,000 e-/s at Tmag 10)."""
    return 15000 * 10 ** (-0.4 * (tmag - 10))


def run_demo(out, *, frames=FRAMES, show_progress=True, echo=print):
    """Run the worked example offline on the demo archive and write its products to ``out``.

    Parameters
    ----------
    out : path-like
        Directory for the target pixel file and the figures (made if missing).
    frames : int, optional
        Cadences in the demo sector (fewer make a quicker demo).
    show_progress : bool, optional
        Show progress bars while the archive is made.
    echo : callable, optional
        Where the report goes, a line at a time.

    Returns
    -------
    dict
        ``tpf``, ``cutout_png``, ``sky_png``, ``lightcurve_png``: the paths written.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: the demo must run without a screen
    import matplotlib.pyplot as plt
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    echo("astro_tesscut demo: the worked example, offline, on a synthetic sector")
    archive = demo_archive(frames=frames, show_progress=show_progress)
    echo(
        f"  archive: {archive}\n    ({frames} synthetic FFIs of sector {SECTOR}, camera {CAMERA},"
        f" CCD {CCD} around Pi Mensae, a {REGION_SHAPE[1]} x {REGION_SHAPE[0]} pixel region;"
        " made once)"
    )
    tesscut = TessCutClass(archive=archive)
    target = bundled_position("TIC 261136679")
    coordinates = SkyCoord(target.ra, target.dec)

    stars = bundled_cone(coordinates, 5 * u.arcmin)
    stars["distance"].info.format = ".1f"
    echo("\n1. TIC 261136679 (Pi Mensae) and its neighbours within 5 arcmin (bundled TIC rows):")
    _table(echo, stars["ID", "Tmag", "Jmag", "ra", "dec", "objType", "distance"])

    sectors = tesscut.query_sectors(coordinates=coordinates)
    echo("\n2. Sectors that observed it (TESS pointing model, no network):")
    _table(echo, sectors["sectorName", "sector", "camera", "ccd", "released", "available"])

    (path,) = tesscut.download_cutouts(
        coordinates=coordinates, size=(45, 35), sector=SECTOR, path=out, show_progress=show_progress
    )["Local Path"]
    echo(f"\n3. 35 x 45 pixel cutout of sector {SECTOR}, in TESScut's format:\n   {path}")

    tpf = load_cutout(path)
    figures = {
        "cutout_png": (plotting.plot_cutout(tpf, frame=0, percentiles=(5, 92)), "cutout.png"),
        "sky_png": (
            plotting.plot_cutout_sky(tpf, frame=0, stars=demo_stars(), max_mag=14),
            "cutout_sky.png",
        ),
        "lightcurve_png": (plotting.plot_lightcurve(tpf), "lightcurve.png"),
    }
    written = {"tpf": Path(path)}
    for key, (plot, name) in figures.items():
        written[key] = plotting.save_figure(plot.figure, out / name, replace=True)  # the demo's own
        plt.close(plot.figure)
    echo("\n4. Plots of the first image (CCD pixels; the sky: target red, orange the stars")
    echo("   brighter than Tmag 14 that the demo drew, TIC and synthetic) and the light curve:")
    for key in ("cutout_png", "sky_png", "lightcurve_png"):
        echo(f"   {written[key]}")
    echo(f"\ndone in {time.perf_counter() - start:.1f} s")
    return written


def _table(echo, table):
    for line in table.pformat(max_lines=-1, max_width=-1):
        echo("   " + line)
