"""Cutouts of many targets from FFI cubes, on one machine or a Dask cluster.

Every target's cubes come from TESS's pointing model, computed in bounded
chunks into small integer arrays (a million targets over every sector take
tens of megabytes). Each cube's targets are ordered in bands of rows a
cutout high, then along the columns, and cut into tasks of at most
`TASK_TARGETS` neighbours, so that every worker shares a cube with many
targets; a few cubes at a time take turns, so that each worker reads a
cube's headers and table once (they are cached per process) and no cube
waits for another to finish. Only a bounded number of tasks is in flight,
on local threads or on the cluster, so memory does not grow with the
targets beyond the returned table. In a task, groups of neighbours are read
together: the runs of a cube row they share, or nearly, are one request.

Each file is written under a temporary name and renamed. A finished file
that is whole is not made again, so a killed run resumes where it stopped;
a missing cube or a failed read fails only its own rows.
"""

import collections
import functools
import itertools
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .exceptions import InvalidQueryError, TessCutError
from .interrupt import carrying, stopping_on_interrupt

__all__ = ["batch_cutouts"]

TASK_TARGETS = 64  # most targets in one task: small enough to spread a hot cube
OPEN_CUBES = 4  # cubes whose tasks are interleaved at any time
GROUP_TARGETS = 16  # most neighbouring targets whose pixels are read together
GROUP_BYTES = 64 * 2**20  # and most pixel bytes they hold
# Within a cube row, runs of pixels at most this far apart are one request:
# fetching a gap this small costs less than a request does.
MERGE_GAP = 32 * 1024
_TASKS_PER_THREAD = 2  # tasks in flight per worker thread (one running, one queued)
_LOCAL_THREADS = 4  # tasks at once without a cluster
_PIXEL_SCALE_ARCSEC = 21.0  # near enough to order targets in bands a cutout high
_COLUMNS = ("target", "sector", "camera", "ccd", "path", "status", "error")
_STATUSES = np.array(["written", "skipped", "error"])
WRITTEN, SKIPPED, ERROR = range(3)


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
    sectors : int or list of int, optional
        Only this sector, or these; every released sector by default.
    out_dir : path-like
        Where the files go (made if missing), under TESScut's names.
    client : `distributed.Client`, optional
        Run on this Dask cluster; local threads without.
    storage_options : dict, optional
        fsspec options for a URL ``archive``, passed on unchanged.
    overwrite : bool, optional
        Make files again even when a whole one is already there.
    show_progress : bool, optional
        A progress bar of files made.

    Returns
    -------
    `~astropy.table.Table`
        One row per (target, sector, camera, CCD), in the order of the
        targets: ``target``, ``sector``, ``camera``, ``ccd``, ``path``,
        ``status`` (``written``, ``skipped`` for a whole file already there,
        or ``error``) and ``error``.
    """
    with stopping_on_interrupt():
        return _batch(
            targets,
            size,
            archive,
            sectors,
            out_dir,
            client,
            storage_options,
            overwrite,
            show_progress,
        )


def _batch(
    targets, size, archive, sectors, out_dir, client, storage_options, overwrite, show_progress
):
    from .backends.base import open_archive
    from .cube.cutout import side_pixels
    from .files import sweep_stale
    from .sizes import parse_size
    from .sky.geometry import cutout_radius
    from .targets import parse_sectors

    ra, dec, names = _targets(targets)
    size, sectors = parse_size(size), parse_sectors(sectors, "sectors")
    if not isinstance(overwrite, bool):
        raise InvalidQueryError(f"overwrite: must be True or False, got {overwrite!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidQueryError(f"out_dir: {str(out_dir)!r} exists and is not a directory")
    store = open_archive(archive, storage_options)
    # Every cube a cutout reaches, not only those its centre falls on.
    keys, order, pixels = store.candidates(ra, dec, sectors, radius_deg=cutout_radius(size))
    # Each cube's targets in bands of rows a cutout high, along the columns in each: so
    # that a task's and a group's targets are neighbours, whose reads can merge.
    band = np.floor(pixels[:, 1] / side_pixels(size.y, size.units, _PIXEL_SCALE_ARCSEC))
    spatial = np.lexsort((pixels[:, 0], band, keys[:, 2], keys[:, 1], keys[:, 0]))
    keys, order = keys[spatial], order[spatial]
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir)  # what a killed run left: a resumed run starts clean

    from tqdm.auto import tqdm

    # What travels to a worker: where the cube is, and the task's own positions.
    tasks = (
        (key, str(store.location(key)), store.storage_options, rows, ra[targets], dec[targets])
        for key, rows, targets in _tasks(keys, order)
    )
    work = functools.partial(_cut_task, size=size, out_dir=str(out_dir), overwrite=overwrite)
    done = []
    with tqdm(
        total=len(order), desc="cutouts", unit="file", disable=None if show_progress else True
    ) as bar:
        for rows in _run(work, tasks, client):
            done.append(rows)
            bar.update(len(rows[0]))
    return _table(done, keys, order, names, out_dir)


def _targets(targets):
    """ICRS RA and Dec arrays (degrees) and a name for each target."""
    from astropy.table import Table

    from .targets import is_sky_coordinate, positions_of, table_positions

    if is_sky_coordinate(targets):
        ra, dec = positions_of(targets.reshape(-1) if not targets.isscalar else targets)
        return ra, dec, [str(i) for i in range(len(ra))]
    if isinstance(targets, Table):
        column = next((c for c in ("id", "ID", "name") if c in targets.colnames), None)
        names = (
            [str(v) for v in targets[column]] if column else [str(i) for i in range(len(targets))]
        )
        if len(set(names)) != len(names):
            raise InvalidQueryError(f"targets: the {column} column repeats names")
        ra, dec = table_positions(targets, names if column else None)
        return ra, dec, names
    raise InvalidQueryError(
        f"targets: must be a Table with ra and dec columns or a SkyCoord, got "
        f"{type(targets).__name__}"
    )


def _tasks(keys, order):
    """Tasks of at most TASK_TARGETS targets of one cube, OPEN_CUBES cubes interleaved.

    ``keys`` and ``order`` are `CubeStore.candidates`' (pairs grouped by cube).
    Yields ``(key, rows, targets)``: ``rows`` index the pairs, ``targets`` the targets.
    """
    starts = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
    cubes = zip(np.concatenate([[0], starts]), np.concatenate([starts, [len(keys)]]), strict=True)
    active = collections.deque()  # per open cube: (key, the spans of rows of its tasks left)
    while True:
        while len(active) < OPEN_CUBES and (group := next(cubes, None)) is not None:
            start, stop = (int(value) for value in group)
            if start < stop:
                spans = collections.deque(
                    (first, min(first + TASK_TARGETS, stop))
                    for first in range(start, stop, TASK_TARGETS)
                )
                active.append((tuple(int(value) for value in keys[start]), spans))
        if not active:
            return
        key, spans = active.popleft()
        rows = np.arange(*spans.popleft())
        if spans:
            active.append((key, spans))  # its turn again after the others'
        yield key, rows, order[rows]


def _run(function, tasks, client):
    """``function(task)`` for each task, a bounded number in flight; results as they finish."""
    if client is None:
        from concurrent.futures import wait

        pool = ThreadPoolExecutor(_LOCAL_THREADS, thread_name_prefix="astro_tesscut-batch")
        limit = _LOCAL_THREADS * _TASKS_PER_THREAD

        def submit(function, task):
            return pool.submit(carrying(function), task)
    else:
        from distributed import wait

        def submit(*args):
            return client.submit(*args, pure=False)

        limit = max(1, sum(client.nthreads().values())) * _TASKS_PER_THREAD
    pending = set()
    try:
        for task in itertools.chain(tasks, [None]):
            if task is not None:
                pending.add(submit(function, task))
            while pending and (len(pending) >= limit or task is None):
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
    finally:
        for future in pending:
            future.cancel()
        if client is None:
            pool.shutdown(wait=False, cancel_futures=True)


def _cut_task(task, *, size, out_dir, overwrite):
    """Cut one task's targets from its cube (runs on a worker).

    Targets come in groups of neighbours whose pixels are read together
    (`~astro_tesscut.cube.ffi_cube.FFICube.read_rectangles`: rows they share,
    or nearly, are one request), several groups at once.

    Returns the task's rows (indices into the batch's pairs), and for each
    its status code, its file name ("" when none) and its error ("" when none).
    """
    from .cube.cutout import cut_name, cutout_windows, off_cube, prepare_cube
    from .cube.pipeline import ahead, check_room, holding

    key, location, storage_options, rows, ra, dec = task
    count = len(rows)
    statuses = np.full(count, ERROR, np.uint8)
    files, errors = [""] * count, [""] * count
    try:
        cube = prepare_cube(location, storage_options, key=key)
        windows = cutout_windows(cube, ra, dec, size).tolist()
    except (TessCutError, OSError, ValueError) as exc:
        return rows, statuses, files, [" ".join(str(exc).split())] * count

    wanted = []
    for i, window in enumerate(windows):
        column, column_stop, row, row_stop = window
        try:
            check_room(column_stop - column, row_stop - row, cube.frames, cube.sector_name)
        except InvalidQueryError as exc:
            errors[i] = str(exc)
            continue
        if off_cube(cube, window):
            errors[i] = f"({ra[i]}, {dec[i]}) lies off {cube.sector_name}"
        elif not overwrite and _whole(Path(out_dir) / cut_name(cube, ra[i], dec[i], window)):
            statuses[i], files[i] = SKIPPED, cut_name(cube, ra[i], dec[i], window)
        else:
            wanted.append(i)

    def cut_group(group):
        rectangles = [(w[2], w[3], w[0], w[1]) for w in (windows[i] for i in group)]
        with holding(_pixel_bytes(rectangles, cube.frames)):
            try:
                blocks = cube.read_rectangles(rectangles, gap=MERGE_GAP)
            except (TessCutError, OSError, ValueError) as exc:
                return [(ERROR, "", " ".join(str(exc).split()))] * len(group)
            return [
                _write_one(cube, ra[i], dec[i], windows[i], block, out_dir)
                for i, block in zip(group, blocks, strict=True)
            ]

    groups = _groups(wanted, windows, cube.frames)
    for group, results in zip(
        groups, ahead(cut_group, groups, remote=cube.source.remote), strict=True
    ):
        for i, (status, name, error) in zip(group, results, strict=True):
            statuses[i], files[i], errors[i] = status, name, error
    return rows, statuses, files, errors


def _groups(indices, windows, frames):
    """Consecutive targets (neighbours, as the batch orders them) read together: at most
    GROUP_TARGETS of them and GROUP_BYTES of pixels."""
    groups, size = [], 0
    for i in indices:
        column, column_stop, row, row_stop = windows[i]
        nbytes = _pixel_bytes([(row, row_stop, column, column_stop)], frames)
        if not groups or len(groups[-1]) == GROUP_TARGETS or size + nbytes > GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += nbytes
    return groups


def _pixel_bytes(rectangles, frames):
    """Bytes of the pixels (and uncertainties) of rectangles of a cube of ``frames``."""
    return sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in rectangles) * frames * 8


def _whole(path):
    """A regular file already there whose headers and data add up to its length (anything
    else, a FIFO or a link included, is not opened and is made again)."""
    from .files import open_regular
    from .fitslayout import FITSLayoutError, walk

    try:
        with open_regular(path) as file:
            walk(file, name=path.name)
        return True
    except (FITSLayoutError, OSError):
        return False  # missing, broken or not a file: make it again


def _write_one(cube, ra, dec, window, pixels, out_dir):
    """Write one target's file from its pixels: (status, file name, error)."""
    from .cube.cutout import cut_one
    from .writers import IntoDirectory, MadeFiles

    try:
        name, data = cut_one(cube, float(ra), float(dec), window, pixels)
        IntoDirectory(out_dir).take(MadeFiles([(name, data)]))
    except (TessCutError, OSError, ValueError) as exc:
        return ERROR, "", " ".join(str(exc).split())
    return WRITTEN, name, ""


def _table(done, keys, order, names, out_dir):
    """The result table from the tasks' rows, in the order of the targets, then cubes."""
    from astropy.table import Table

    rows = np.concatenate([part[0] for part in done]) if done else np.empty(0, np.int64)
    status = np.concatenate([part[1] for part in done]) if done else np.empty(0, np.uint8)
    files = np.array([name for part in done for name in part[2]], dtype=object)
    errors = np.array([error for part in done for error in part[3]], dtype=object)
    target, key = order[rows], keys[rows]
    sort = np.lexsort((key[:, 2], key[:, 1], key[:, 0], target))
    target, key, status, files, errors = (a[sort] for a in (target, key, status, files, errors))
    return Table(
        {
            "target": np.array(names, dtype=str)[target],
            "sector": key[:, 0].astype(int),
            "camera": key[:, 1].astype(int),
            "ccd": key[:, 2].astype(int),
            "path": np.array([str(out_dir / name) if name else "" for name in files], dtype=str),
            "status": _STATUSES[status],
            "error": np.array(errors.tolist(), dtype=str),
        },
        names=_COLUMNS,
    )
