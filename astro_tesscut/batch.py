"""Cutouts of many targets from FFI cubes, on one machine or a Dask cluster.

Every target's sectors come from TESS's pointing model in one vectorised
call; the work is grouped by cube, so that a worker reads each cube's
headers once, and each file is written under a temporary name and renamed.
A finished file that is whole is not made again, so a killed run resumes
where it stopped; a missing cube or a failed read fails only its own rows.
"""

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .exceptions import InvalidQueryError, TessCutError

__all__ = ["batch_cutouts"]

_COLUMNS = ("target", "sector", "camera", "ccd", "path", "status", "error")


def batch_cutouts(
    targets,
    size,
    archive,
    *,
    sectors=None,
    out_dir,
    client=None,
    storage_options=None,
    overwrite=False,
    show_progress=True,
):
    """Write TESScut-format target pixel files for many targets, from FFI cubes.

    Parameters
    ----------
    targets : `~astropy.table.Table` or `~astropy.coordinates.SkyCoord`
        The positions: a Table with ``ra`` and ``dec`` in degrees (and an
        ``id``, ``ID`` or ``name`` column to name them), or a SkyCoord array
        (named by index).
    size : int, (ny, nx), or `~astropy.units.Quantity`
        The cutouts' size, as for `~astro_tesscut.TessCutClass.get_cutouts`.
    archive : str or path-like
        Where the cubes are: a URL prefix (``s3://stpubdata/tess/public/mast/``)
        or a directory of cubes and/or FFIs.
    sectors : iterable of int, optional
        Only these sectors; every released sector by default.
    out_dir : path-like
        Where the files go (made if missing), under TESScut's names.
    client : `distributed.Client`, optional
        Run on this Dask cluster (one task per cube); local threads without.
    storage_options : dict, optional
        fsspec options for a URL ``archive``, passed on unchanged.
    overwrite : bool, optional
        Make files again even when a whole one is already there.
    show_progress : bool, optional
        A progress bar (Dask's own on a cluster).

    Returns
    -------
    `~astropy.table.Table`
        One row per (target, sector, camera, CCD): ``target``, ``sector``,
        ``camera``, ``ccd``, ``path``, ``status`` (``written``, ``skipped``
        for a whole file already there, or ``error``) and ``error``.
    """
    from astropy.table import Table

    from .sizes import parse_size

    coords, names = _targets(targets)
    size = parse_size(size)
    if not isinstance(overwrite, bool):
        raise InvalidQueryError(f"overwrite: must be True or False, got {overwrite!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidQueryError(f"out_dir: {str(out_dir)!r} exists and is not a directory")
    store = _store(archive, storage_options)
    wanted = _sectors(sectors)
    out_dir.mkdir(parents=True, exist_ok=True)

    groups = [
        (key, indices)
        for key, indices in store.candidates(coords).items()
        if wanted is None or key[0] in wanted
    ]
    jobs = [
        (
            key,
            _location(store, key),
            store.storage_options,
            coords.ra.deg[indices],
            coords.dec.deg[indices],
            [names[i] for i in indices],
            size,
            str(out_dir),
            overwrite,
        )
        for key, indices in groups
    ]
    rows = _run(jobs, client, show_progress, sum(len(i) for _, i in groups))
    order = {name: i for i, name in enumerate(names)}
    rows.sort(key=lambda row: (order[row["target"]], row["sector"], row["camera"], row["ccd"]))
    return Table(
        rows=[[row[c] for c in _COLUMNS] for row in rows] or None,
        names=_COLUMNS,
        dtype=[str, int, int, int, str, str, str],
    )


def _targets(targets):
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    if isinstance(targets, SkyCoord):
        coords = targets.icrs.reshape(-1)
        return coords, [str(i) for i in range(len(coords))]
    if isinstance(targets, Table):
        missing = [c for c in ("ra", "dec") if c not in targets.colnames]
        if missing:
            raise InvalidQueryError(f"targets: the table has no {' or '.join(missing)} column")
        coords = SkyCoord(
            np.asarray(targets["ra"], float), np.asarray(targets["dec"], float), unit="deg"
        )
        column = next((c for c in ("id", "ID", "name") if c in targets.colnames), None)
        names = (
            [str(v) for v in targets[column]] if column else [str(i) for i in range(len(targets))]
        )
        if len(set(names)) != len(names):
            raise InvalidQueryError(f"targets: the {column} column repeats names")
        return coords, names
    raise InvalidQueryError(
        f"targets: must be a Table with ra and dec columns or a SkyCoord, got "
        f"{type(targets).__name__}"
    )


def _sectors(sectors):
    if sectors is None:
        return None
    try:
        return {int(s) for s in sectors}
    except (TypeError, ValueError) as exc:
        raise InvalidQueryError(f"sectors: must be sector numbers, got {sectors!r}") from exc


def _store(archive, storage_options):
    from .archive.source import is_url

    if is_url(archive):
        from .archive.remote import RemoteArchive

        return RemoteArchive(str(archive), storage_options=storage_options)
    from .archive.local import LocalArchive

    return LocalArchive(str(archive).removeprefix("file://"))


def _location(store, key):
    """Where the cube of ``key`` is, as workers open it (FFIs built into a cube first)."""
    return str(store.location(key))


def _run(jobs, client, show_progress, total):
    if client is not None:
        futures = client.map(_cut_group, jobs, pure=False)
        if show_progress:
            from distributed import progress

            progress(futures)
        return [row for rows in client.gather(futures) for row in rows]

    from tqdm.auto import tqdm

    rows = []
    with (
        tqdm(
            total=total, desc="cutouts", unit="file", disable=None if show_progress else True
        ) as bar,
        ThreadPoolExecutor(max(1, min(len(jobs), 4))) as pool,
    ):
        for group in pool.map(_cut_group, jobs):
            rows.extend(group)
            bar.update(len(group))
    return rows


def _cut_group(job):
    """Cut one cube's targets (runs on a worker): one row per target."""
    key, location, storage_options, ras, decs, names, size, out_dir, overwrite = job
    from astropy.coordinates import SkyCoord

    from .archive.cube import open_cube

    sector, camera, ccd = key

    def row(name, path="", status="written", error=""):
        return {
            "target": name,
            "sector": sector,
            "camera": camera,
            "ccd": ccd,
            "path": str(path),
            "status": status,
            "error": error,
        }

    try:
        cube = open_cube(location, storage_options)
    except (TessCutError, OSError) as exc:
        return [row(name, status="error", error=str(exc)) for name in names]

    coords = SkyCoord(ras, decs, unit="deg")
    return list(
        _threads().map(
            lambda i: _cut_one(cube, coords[i], names[i], size, out_dir, overwrite, row),
            range(len(names)),
        )
    )


def _cut_one(cube, coord, name, size, out_dir, overwrite, row):
    from .archive.cutout import cut, cutout_windows
    from .archive.tpf import tpf_name
    from .files import write_files
    from .fitslayout import FITSLayoutError, walk

    try:
        column, column_stop, row_start, row_stop = cutout_windows(cube, coord.reshape((1,)), size)[
            0
        ]
        path = Path(out_dir) / tpf_name(
            cube,
            float(coord.ra.deg),
            float(coord.dec.deg),
            column_stop - column,
            row_stop - row_start,
        )
        if not overwrite and path.exists():
            try:
                walk(path, name=path.name)  # whole: headers and data add up to the file
                return row(name, path, status="skipped")
            except (FITSLayoutError, OSError):
                pass  # broken: make it again
        made = list(cut(cube, coord.reshape((1,)), size))
        ((file_name, data),) = made
        (written,) = write_files([(file_name, data)], out_dir)
        return row(name, written)
    except (TessCutError, OSError, ValueError) as exc:
        return row(name, status="error", error=" ".join(str(exc).split()))


@functools.cache
def _threads():
    """Cutouts of one cube made a few at a time (reads and writes release the GIL)."""
    return ThreadPoolExecutor(3, thread_name_prefix="astro_tesscut-batch")
