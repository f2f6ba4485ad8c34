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
targets beyond the returned table. A task is cut as one target is
(`~astro_tesscut.cube.cutout.cut_many`): groups of neighbours read together,
the runs of a cube row they share, or nearly, one request.

Each file is written under a temporary name and renamed. A finished file
that is whole is not made again, so a killed run resumes where it stopped;
a missing cube or a failed read fails only its own rows. Every target has a
row, one that no cube could hold too ("no data", saying why).
"""

import collections
import functools
import itertools
import numbers
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .backends.open import open_archive
from .cube.cutout import cut_many, prepare_cube
from .exceptions import InvalidQueryError, TessCutError
from .files import open_regular, sweep_stale
from .fitslayout import FITSLayoutError, walk
from .interrupt import carrying, stopping_on_interrupt
from .sizes import PIXEL_SCALE, parse_size
from .sky.geometry import cube_hits, sector_ranges
from .targets import is_sky_coordinate, parse_sectors, positions_of, table_positions
from .transport import one_line
from .writers import IntoDirectory, MadeFiles

__all__ = ["batch_cutouts"]

TASK_TARGETS = 64  # most targets in one task: small enough to spread a hot cube
OPEN_CUBES = 4  # cubes whose tasks are interleaved at any time
_TASKS_PER_THREAD = 2  # tasks in flight per worker thread (one running, one queued)
_LOCAL_THREADS = 4  # tasks at once without a cluster, unless told otherwise
_COLUMNS = ("target", "sector", "camera", "ccd", "path", "status", "error")
_STATUSES = np.array(["written", "skipped", "error", "no data"])
WRITTEN, SKIPPED, ERROR, NO_DATA = range(4)


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
    workers=None,
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
        A progress bar of cutouts done: it moves on with each cutout on local
        threads, with each task (of up to 64 cutouts) on a cluster.
    workers : int, optional
        Without a ``client``: how many tasks run at once, each on a thread of
        this process (default 4). A cluster has its own workers.

    Returns
    -------
    `~astropy.table.Table`
        One row per (target, sector, camera, CCD), in the order of the
        targets: ``target``, ``sector``, ``camera``, ``ccd``, ``path``,
        ``status`` and ``error``. ``status`` is ``written``, ``skipped`` (a
        whole file was there already), ``error`` (``error`` says what failed)
        or ``no data``: the cutout's window misses the cube (or the region of
        a CCD it holds), or, for a target no cube of the archive could hold, one
        row with sector, camera and CCD 0; ``error`` then says why (no
        released sector's cube could hold it, the archive holds none of the
        sectors that observed it, ...).
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
            workers,
        )


def _batch(
    targets,
    size,
    archive,
    sectors,
    out_dir,
    client,
    storage_options,
    overwrite,
    show_progress,
    workers,
):
    ra, dec, names = _targets(targets)
    size, sectors = parse_size(size), parse_sectors(sectors, "sectors")
    if not isinstance(overwrite, bool):
        raise InvalidQueryError(f"overwrite: must be True or False, got {overwrite!r}")
    workers = _workers(workers, client)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidQueryError(f"out_dir: {str(out_dir)!r} exists and is not a directory")
    store = open_archive(archive, storage_options)
    # Every cube a cutout reaches, not only those its centre falls on.
    keys, order, pixels = store.candidates(ra, dec, sectors, radius_deg=size.radius_deg())
    # Each cube's targets in bands of rows a cutout high, along the columns in each: so
    # that a task's and a group's targets are neighbours, whose reads can merge.
    band = np.floor(pixels[:, 1] / size.pixels_at(PIXEL_SCALE)[1])
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
        if client is None:  # a thread of this process moves the bar on with each cutout
            lock = threading.Lock()

            def advance(count):
                with lock:
                    bar.update(count)

            work = functools.partial(work, progress=advance)
        for rows in _run(work, tasks, client, workers):
            done.append(rows)
            if client is not None:  # a cluster's worker reports its task as a whole
                bar.update(len(rows[0]))
    nowhere = np.setdiff1d(np.arange(len(ra)), order)  # targets no cube could hold
    reasons = _no_data_reasons(store, ra[nowhere], dec[nowhere], sectors, size.radius_deg())
    return _table(done, keys, order, names, out_dir, nowhere, reasons)


def _workers(workers, client):
    """How many tasks run at once on local threads (`None` on a cluster)."""
    if workers is None:
        return None if client is not None else _LOCAL_THREADS
    if client is not None:
        raise InvalidQueryError(
            "workers: the threads of this machine; with a client, the cluster's workers run "
            "the tasks: leave workers out"
        )
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise InvalidQueryError(f"workers: must be a positive integer, got {workers!r}")
    return int(workers)


def _no_data_reasons(store, ra, dec, sectors, radius_deg):
    """Why no cube of ``store`` could hold each of these targets: one string each."""
    if not len(ra):
        return []
    target, sector = (a.tolist() for a in cube_hits(ra, dec, radius_deg=radius_deg)[:2])
    released = cube_hits(ra, dec, radius_deg=radius_deg, released_only=True)[:2]
    public = set(zip(*(a.tolist() for a in released), strict=True))
    observed = [[] for _ in range(len(ra))]  # sorted by target, then sector
    for index, number in zip(target, sector, strict=True):
        if not observed[index] or observed[index][-1] != number:
            observed[index].append(number)
    held = store.held()
    asked = None if sectors is None else sorted(set(sectors))
    return [
        _no_data_reason(index, seen, public, held, asked) for index, seen in enumerate(observed)
    ]


def _no_data_reason(index, seen, public, held, asked):
    """Why no cube could hold target ``index``, which the sectors ``seen`` observed."""
    if not seen:
        return "no TESS sector observed it or the cutout round it"
    if asked is not None:
        wanted = [sector for sector in seen if sector in asked]
        if not wanted:
            return (
                f"sector{'s' * (len(asked) > 1)} {sector_ranges(asked)} did not observe it "
                f"(observed in sectors {sector_ranges(seen)})"
            )
        seen = wanted
    released = [sector for sector in seen if (index, sector) in public]
    if held is not None:
        return (
            f"the archive holds no cube or FFIs of the sector{'s' * (len(seen) > 1)} that "
            f"observed it: {sector_ranges(seen)}"
        )
    if not released:
        return (
            f"no released sector's cube could hold it: sector{'s' * (len(seen) > 1)} "
            f"{sector_ranges(seen)} observed it, but their FFIs may not be public yet"
        )
    return "no released sector's cube could hold it"


def _targets(targets):
    """ICRS RA and Dec arrays (degrees) and a name for each target."""
    from astropy.table import Table

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


def _run(function, tasks, client, workers=None):
    """``function(task)`` for each task, a bounded number in flight; results as they finish.

    Without a ``client``, on ``workers`` threads of this process (default ``_LOCAL_THREADS``).
    """
    if client is None:
        from concurrent.futures import wait

        workers = workers or _LOCAL_THREADS
        pool = ThreadPoolExecutor(workers, thread_name_prefix="astro_tesscut-batch")
        limit = workers * _TASKS_PER_THREAD

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


def _cut_task(task, *, size, out_dir, overwrite, progress=None):
    """Cut one task's targets from its cube (runs on a worker), as one target is cut
    (`~astro_tesscut.cube.cutout.cut_many`).

    Returns the task's rows (indices into the batch's pairs), and for each
    its status code, its file name ("" when none) and its error, or why there is
    no data ("" when none). ``progress(count)``, when given, is told of each
    cutout done as it is done.
    """
    key, location, storage_options, rows, ra, dec = task
    count = len(rows)
    statuses = np.full(count, ERROR, np.uint8)
    files, errors = [""] * count, [""] * count
    out_dir = Path(out_dir)
    reported = 0

    def keep(name, data):
        IntoDirectory(out_dir).take(MadeFiles([(name, data)]))
        return name

    try:
        cube = prepare_cube(location, storage_options, key=key)
        outcomes = cut_many(
            cube,
            ra,
            dec,
            size,
            keep=keep,
            done=None if overwrite else (lambda name: _whole(out_dir / name)),
        )
        for outcome in outcomes:
            i = outcome.index
            if outcome.off_cube:  # the window misses the cube: nothing to cut, no failure
                statuses[i] = NO_DATA
                errors[i] = one_line(str(outcome.error))
            elif outcome.error is not None:
                errors[i] = one_line(str(outcome.error))
            else:
                statuses[i] = SKIPPED if outcome.skipped else WRITTEN
                files[i] = outcome.name
            if progress is not None:
                progress(1)
                reported += 1
    except (TessCutError, OSError, ValueError) as exc:  # the cube could not be used
        if progress is not None:
            progress(count - reported)
        return rows, np.full(count, ERROR, np.uint8), [""] * count, [one_line(str(exc))] * count
    return rows, statuses, files, errors


def _whole(path):
    """A regular file already there whose headers and data add up to its length (anything
    else, a FIFO or a link included, is not opened and is made again)."""
    try:
        with open_regular(path) as file:
            walk(file, name=path.name)
        return True
    except (FITSLayoutError, OSError):
        return False  # missing, broken or not a file: make it again


def _table(done, keys, order, names, out_dir, nowhere, reasons):
    """The result table from the tasks' rows and the targets no cube could hold (with
    ``reasons``), in the order of the targets, then cubes."""
    from astropy.table import Table

    rows = np.concatenate([part[0] for part in done]) if done else np.empty(0, np.int64)
    status = np.concatenate([part[1] for part in done]) if done else np.empty(0, np.uint8)
    status = np.concatenate([status, np.full(len(nowhere), NO_DATA, np.uint8)])
    files = np.array([name for part in done for name in part[2]] + [""] * len(nowhere), object)
    errors = np.array([error for part in done for error in part[3]] + list(reasons), object)
    target = np.concatenate([order[rows], nowhere]).astype(np.int64)
    key = np.concatenate([keys[rows].reshape(-1, 3), np.zeros((len(nowhere), 3), keys.dtype)])
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
