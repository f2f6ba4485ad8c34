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

Targets are positions, or FFI pixels (each cut from its own sector, camera
and CCD's cube, centred on the pixel, as ``get_cutouts(pixel=...)`` cuts
it); each may have its own time window, whose cadences alone are read. A
sector whose dates cannot reach a target's window (by the pointing model) is
not opened for it.

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
from .cube.cutout import cut_many, pixel_window, prepare_cube
from .exceptions import InvalidQueryError, InvalidQueryTypeError, TessCutError
from .files import open_regular, sweep_stale
from .fitslayout import FITSLayoutError, walk
from .interrupt import carrying, stopping_on_interrupt
from .sizes import PIXEL_SCALE, parse_size
from .sky.geometry import cube_hits, may_overlap, sector_dates, sector_ranges
from .targets import (
    BTJD_ZERO,
    FFIPixel,
    TimeWindow,
    is_sky_coordinate,
    parse_pixel,
    parse_sector,
    parse_sectors,
    parse_time,
    positions_of,
    table_positions,
)
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
_UNSETTLED = 255  # a pair no task has cut yet
_PIXEL_COLUMNS = ("column", "row", "sector", "camera", "ccd")  # a table of FFI pixels
_TIME_COLUMNS = ("time_start", "time_stop")  # each target's own window, BTJD or Times


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
    time=None,
):
    """Write TESScut-format target pixel files for many targets, from FFI cubes.

    Parameters
    ----------
    targets : `~astropy.table.Table` or `~astropy.coordinates.SkyCoord`
        The targets, named by an ``id``, ``ID`` or ``name`` column (else by
        index), as one of:

        - positions: a Table with ``ra`` and ``dec`` in degrees, or a
          SkyCoord array;
        - FFI pixels: a Table with ``column`` and ``row`` (1-based, collateral
          pixels included, as for `~astro_tesscut.TessCutClass.get_cutouts`'
          ``pixel``), ``sector``, ``camera`` and ``ccd`` columns, and no ``ra``
          and ``dec``. Each target is cut from the cube of its own sector,
          camera and CCD, centred on its pixel, and named by the pixel's
          position on the sky by that cube's WCS, as ``get_cutouts(pixel=...)``
          cuts and names it; a table without a ``sector`` column takes the one
          sector of ``sectors`` for every row.

        A Table may also have ``time_start`` and ``time_stop`` columns: each
        row's own time window, as BTJD numbers (BJD - 2457000) or
        `~astropy.time.Time` columns (taken as TDB). A row whose two are
        masked (or NaN) has none: ``time``'s window, or every cadence.
    size : int, (ny, nx), or `~astropy.units.Quantity`
        The cutouts' size, as for `~astro_tesscut.TessCutClass.get_cutouts`.
    archive : str or path-like
        Where the cubes are: a URL prefix (``s3://stpubdata/tess/public/mast/``)
        or a directory of cubes and/or FFIs.
    sectors : int or list of int, optional
        Only this sector, or these; every released sector by default. For FFI
        pixels, the sector of every row of a table without a ``sector`` column
        (one sector; with one, leave ``sectors`` out).
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
    time : (start, stop), optional
        Only the cadences whose mid-time lies within this window, for every
        target without a window of its own (``time_start`` and ``time_stop``):
        two `~astropy.time.Time` (taken as TDB) or two BTJD numbers, as for
        `~astro_tesscut.TessCutClass.get_cutouts`. Only those cadences are
        read, and the files hold only them. A file's name does not say its
        window: a resumed run with another window keeps (``skipped``) the
        files already made, unless ``overwrite=True``.

    Returns
    -------
    `~astropy.table.Table`
        One row per (target, sector, camera, CCD), in the order of the
        targets: ``target``, ``sector``, ``camera``, ``ccd``, ``path``,
        ``status`` and ``error``. ``status`` is ``written``, ``skipped`` (a
        whole file was there already), ``error`` (``error`` says what failed)
        or ``no data``: the cutout's window misses the cube (or the region of
        a CCD it holds), no cadence of the cube lies within the target's time
        window, the archive lacks an FFI pixel's cube, or, for a position no
        cube of the archive could hold, one row with sector, camera and CCD 0;
        ``error`` then says why (no released sector's cube could hold it, the
        archive holds none of the sectors that observed it, ...).
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
            time,
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
    time,
):
    ra, dec, names, by_pixel = _targets(targets)
    size, sectors = parse_size(size), parse_sectors(sectors, "sectors")
    spans = _time_spans(targets, parse_time(time), names)
    if by_pixel:
        keys, ffi = _pixel_targets(targets, sectors, names)
    if not isinstance(overwrite, bool):
        raise InvalidQueryError(f"overwrite: must be True or False, got {overwrite!r}")
    workers = _workers(workers, client)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidQueryError(f"out_dir: {str(out_dir)!r} exists and is not a directory")
    store = open_archive(archive, storage_options)
    if by_pixel:  # one pair per target: its own cube, placed on the sky by the cube's WCS
        order = np.arange(len(keys))
        ra, dec, settled, why = _place_pixels(store, keys, ffi)
        pixels = ffi
    else:
        # Every cube a cutout reaches, not only those its centre falls on.
        keys, order, pixels = store.candidates(ra, dec, sectors, radius_deg=size.radius_deg())
        settled, why = np.full(len(order), _UNSETTLED, np.uint8), np.full(len(order), "", object)
    # Each cube's targets in bands of rows a cutout high, along the columns in each: so
    # that a task's and a group's targets are neighbours, whose reads can merge.
    band = np.floor(pixels[:, 1] / size.pixels_at(PIXEL_SCALE)[1])
    spatial = np.lexsort((pixels[:, 0], band, keys[:, 2], keys[:, 1], keys[:, 0]))
    keys, order, settled, why = keys[spatial], order[spatial], settled[spatial], why[spatial]
    _out_of_time(keys, order, spans, settled, why)  # no cube opened for a sector of other dates
    live = np.flatnonzero(settled == _UNSETTLED)  # the pairs the tasks cut
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir)  # what a killed run left: a resumed run starts clean

    from tqdm.auto import tqdm

    # What travels to a worker: where the cube is, and the task's own positions, windows
    # (BTJD, NaN for every cadence) and FFI pixels, as plain numbers.
    tasks = (
        (
            key,
            str(store.location(key)),
            store.storage_options,
            rows,
            ra[targets],
            dec[targets],
            None if spans is None else spans[targets],
            ffi[targets] if by_pixel else None,
        )
        for key, rows, targets in ((k, r, order[r]) for k, _, r in _tasks(keys[live], live))
    )
    work = functools.partial(_cut_task, size=size, out_dir=str(out_dir), overwrite=overwrite)
    decided = np.flatnonzero(settled != _UNSETTLED)
    done = [(decided, settled[decided], [""] * len(decided), why[decided].tolist())]
    with tqdm(
        total=len(live), desc="cutouts", unit="file", disable=None if show_progress else True
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
    """ICRS RA and Dec arrays (degrees) and a name for each target, and whether they are
    FFI pixels (then RA and Dec are `None`: the cubes place them)."""
    from astropy.table import Table

    if is_sky_coordinate(targets):
        ra, dec = positions_of(targets.reshape(-1) if not targets.isscalar else targets)
        return ra, dec, [str(i) for i in range(len(ra))], False
    if isinstance(targets, Table):
        column = next((c for c in ("id", "ID", "name") if c in targets.colnames), None)
        names = (
            [str(v) for v in targets[column]] if column else [str(i) for i in range(len(targets))]
        )
        if len(set(names)) != len(names):
            raise InvalidQueryError(f"targets: the {column} column repeats names")
        positioned = "ra" in targets.colnames or "dec" in targets.colnames
        if not positioned and ("column" in targets.colnames or "row" in targets.colnames):
            return None, None, names, True
        ra, dec = table_positions(targets, names if column else None)
        return ra, dec, names, False
    raise InvalidQueryError(
        f"targets: must be a Table with ra and dec columns (or column, row, sector, camera "
        f"and ccd columns of FFI pixels) or a SkyCoord, got {type(targets).__name__}"
    )


def _row(index, names):
    """How errors name a row of the targets."""
    return f"row {index} ({names[index]!r})"


def _pixel_targets(table, sectors, names):
    """The checked FFI pixels of a table, as `~astro_tesscut.targets.parse_pixel` checks
    one: their (sector, camera, ccd), integer (n, 3), and (column, row), float (n, 2)."""
    given = [name for name in _PIXEL_COLUMNS if name in table.colnames]
    missing = [name for name in _PIXEL_COLUMNS if name not in given]
    if missing and not (missing == ["sector"] and sectors is not None and len(sectors) == 1):
        raise InvalidQueryError(
            "targets: a table of FFI pixels needs column, row, sector, camera and ccd columns "
            f"(or ra and dec, for positions); it has no {' or '.join(missing)}"
            + (" (or ask for one sector, for every row)" if missing == ["sector"] else "")
        )
    if "sector" in given and sectors is not None:
        raise InvalidQueryError(
            "sectors: a pixel is on the FFI of its row's sector, in the table's sector column; "
            "leave it out"
        )
    values, masks = {}, {}
    for name in given:
        masks[name] = np.ma.getmaskarray(table[name])
        values[name] = np.ma.getdata(table[name]).tolist()
    if "sector" not in given:
        values["sector"] = [sectors[0]] * len(table)
        masks["sector"] = np.zeros(len(table), dtype=bool)
    keys = np.zeros((len(table), 3), np.int32)
    pixels = np.zeros((len(table), 2), np.float64)
    for index in range(len(table)):
        masked = [name for name in _PIXEL_COLUMNS if masks[name][index]]
        if masked:
            raise InvalidQueryError(
                f"targets: {_row(index, names)} is masked: {' and '.join(masked)}"
            )
        column, row, sector, camera, ccd = (
            _integral(values[name][index]) for name in _PIXEL_COLUMNS
        )
        try:
            sector = parse_sector(sector)
            pixel = parse_pixel((column, row), sectors=(sector,), camera=camera, ccd=ccd)
        except InvalidQueryError as exc:
            raise type(exc)(f"targets: {_row(index, names)}: {exc}") from None
        keys[index] = pixel.sector, pixel.camera, pixel.ccd
        pixels[index] = pixel.column, pixel.row
    return keys, pixels


def _integral(value):
    """An integral float (4.0, as a table of floats gives it) as an int; else as it is."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return value


def _place_pixels(store, keys, pixels):
    """Each FFI pixel's ICRS RA and Dec (degrees) by its cube's WCS (``store.sky_position``,
    as a cutout asked by pixel is placed), and the status and why of the targets it cannot
    place (`_UNSETTLED` for the others): no data where the store lacks the cube, an error
    where the cube cannot be read."""
    count = len(keys)
    ra, dec = np.full(count, np.nan), np.full(count, np.nan)
    settled, why = np.full(count, _UNSETTLED, np.uint8), np.full(count, "", object)
    held = store.held()
    cubes, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    by_cube = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[by_cube], np.arange(len(cubes) + 1))
    for number, key in enumerate(cubes.tolist()):
        members = by_cube[bounds[number] : bounds[number + 1]].tolist()
        if held is not None and tuple(key) not in held:
            settled[members] = NO_DATA
            why[members] = (
                f"the archive holds no cube or FFIs of sector {key[0]}, camera {key[1]}, "
                f"CCD {key[2]}"
            )
            continue
        for index in members:
            try:
                ra[index], dec[index] = store.sky_position(FFIPixel(*key, *pixels[index]))
            except (TessCutError, OSError, ValueError) as exc:  # the cube cannot be used
                failed = [i for i in members if np.isnan(ra[i])]
                settled[failed], why[failed] = ERROR, one_line(str(exc))
                break
            if not (np.isfinite(ra[index]) and np.isfinite(dec[index])):
                settled[index] = ERROR
                why[index] = (
                    f"the WCS of the cube of sector {key[0]}, camera {key[1]}, CCD {key[2]} "
                    f"places column {pixels[index][0]:g}, row {pixels[index][1]:g} nowhere "
                    "on the sky"
                )
    return ra, dec, settled, why


def _time_spans(targets, window, names):
    """Each target's time window as BTJD (start, stop): its own (``time_start`` and
    ``time_stop``), else ``window`` (a `~astro_tesscut.targets.TimeWindow`), else NaN
    (every cadence); `None` when no target has a window."""
    count = len(names)
    spans = np.full((count, 2), np.nan)
    if window is not None:
        spans[:] = window.start, window.stop
    columns = [name for name in _TIME_COLUMNS if name in getattr(targets, "colnames", ())]
    if not columns:
        return None if window is None else spans
    if len(columns) == 1:
        (other,) = set(_TIME_COLUMNS) - set(columns)
        raise InvalidQueryError(
            f"targets: the table has a {columns[0]} column but no {other}: give both (each "
            "row's time window), or neither"
        )
    (start, start_none), (stop, stop_none) = (_btjd(targets[name]) for name in _TIME_COLUMNS)
    half = start_none != stop_none
    if half.any():
        index = int(np.flatnonzero(half)[0])
        has, lacks = _TIME_COLUMNS if stop_none[index] else _TIME_COLUMNS[::-1]
        raise InvalidQueryError(
            f"targets: {_row(index, names)} has a {has} but no {lacks}: give both, or "
            "neither for every cadence"
        )
    own = ~start_none
    with np.errstate(invalid="ignore"):
        problems = [
            (~(np.isfinite(start) & np.isfinite(stop)), "time: must be finite numbers"),
            (~(start < stop), "time: the start must come before the stop"),
        ]
    for bad, what in problems:
        bad &= own
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise InvalidQueryError(
                f"targets: {_row(index, names)}: {what}, got BTJD {start[index]} to "
                f"{stop[index]} (time_start, time_stop)"
            )
    spans[own] = np.stack([start[own], stop[own]], axis=1)
    return None if np.isnan(spans).all() else spans


def _btjd(column):
    """A table's column of times as BTJD floats, and where it has none (masked or NaN)."""
    from astropy import units as u
    from astropy.time import Time

    name = column.info.name
    if isinstance(column, Time):
        none = np.zeros(len(column), dtype=bool) | np.asarray(column.mask, dtype=bool)
        tdb = column.tdb
        jd1, jd2 = (getattr(part, "unmasked", part) for part in (tdb.jd1, tdb.jd2))
        btjd = (np.asarray(jd1, dtype=float) - BTJD_ZERO) + np.asarray(jd2, dtype=float)
        return np.where(none, np.nan, btjd), none
    if column.ndim != 1 or column.dtype.kind not in "biuf":
        raise InvalidQueryTypeError(
            f"targets: column {name} must hold BTJD numbers (BJD - 2457000) or times "
            f"(an astropy Time column), got {column.dtype}"
        )
    values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    unit = getattr(column, "unit", None)
    if unit is not None and unit != u.dimensionless_unscaled:
        try:
            values = values * unit.to(u.day)
        except u.UnitConversionError:
            raise InvalidQueryError(
                f"targets: column {name} is in {unit}, not days of BTJD"
            ) from None
    return values, np.isnan(values)


def _out_of_time(keys, order, spans, settled, why):
    """Settle as no data the pairs not settled yet whose sector's dates (by the pointing
    model) cannot reach their target's time window: their cubes need not be opened."""
    if spans is None:
        return
    windows = spans[order]
    open_pairs = np.flatnonzero((settled == _UNSETTLED) & ~np.isnan(windows[:, 0]))
    if not len(open_pairs):
        return
    # Each distinct (window, sector) asked once; one window's sectors together.
    asked = np.column_stack([windows[open_pairs], keys[open_pairs, 0]])
    distinct, inverse = np.unique(asked, axis=0, return_inverse=True)
    reaches = np.zeros(len(distinct), dtype=bool)
    starts = np.flatnonzero(np.any(np.diff(distinct[:, :2], axis=0) != 0, axis=1)) + 1
    for first, stop in zip([0, *starts.tolist()], [*starts.tolist(), len(distinct)], strict=True):
        window = TimeWindow(*distinct[first, :2].tolist())
        reaches[first:stop] = may_overlap(distinct[first:stop, 2].astype(int).tolist(), window)
    for pair, reach in zip(open_pairs.tolist(), reaches[inverse.reshape(-1)].tolist(), strict=True):
        if reach:
            continue
        sector, window = int(keys[pair, 0]), TimeWindow(*windows[pair].tolist())
        ((start, stop),) = sector_dates([sector])  # may_overlap says no only to known sectors
        settled[pair] = NO_DATA
        why[pair] = (
            f"time: no cadence of sector {sector} lies within {window} (the sector's FFIs "
            f"were taken around BTJD {start:.0f} to {stop:.0f}, by TESS's pointing model)"
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
    (`~astro_tesscut.cube.cutout.cut_many`): each within its own time window, if any, and
    FFI pixels in windows placed on them (`~astro_tesscut.cube.cutout.pixel_window`).

    Returns the task's rows (indices into the batch's pairs), and for each
    its status code, its file name ("" when none) and its error, or why there is
    no data ("" when none). ``progress(count)``, when given, is told of each
    cutout done as it is done.
    """
    key, location, storage_options, rows, ra, dec, spans, pixels = task
    count = len(rows)
    statuses = np.full(count, ERROR, np.uint8)
    files, errors = [""] * count, [""] * count
    out_dir = Path(out_dir)
    reported = 0
    times = None
    if spans is not None:
        times = [
            None if np.isnan(start) else TimeWindow(start, stop) for start, stop in spans.tolist()
        ]

    def keep(name, data):
        IntoDirectory(out_dir).take(MadeFiles([(name, data)]))
        return name

    try:
        cube = prepare_cube(location, storage_options, key=key)
        windows = None
        if pixels is not None:
            windows = np.concatenate(
                [pixel_window(cube, FFIPixel(*key, *pixel), size) for pixel in pixels.tolist()]
            )
        outcomes = cut_many(
            cube,
            ra,
            dec,
            size,
            keep=keep,
            done=None if overwrite else (lambda name: _whole(out_dir / name)),
            windows=windows,
            time=times,
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
