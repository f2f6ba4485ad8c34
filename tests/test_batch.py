"""Batches: how the work is cut into tasks and groups, kept bounded, and read together.

The same batches on S3 and on a Dask cluster are in test_cloud.py.
"""

import itertools
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from astro_tesscut import InvalidQueryError, batch
from astro_tesscut.cube.cutout import cutout
from astro_tesscut.cube.ffi_cube import open_cube
from astro_tesscut.sky.pointing import ffi_pixels


def pairs(counts):
    """Candidate pairs as `CubeStore.candidates` sorts them: ``counts`` targets per cube."""
    keys = np.concatenate([np.tile([1, 4, ccd], (count, 1)) for ccd, count in counts.items()])
    return keys, np.arange(len(keys)) * 10  # target indices, distinct from pair indices


def test_tasks_are_small_interleave_a_few_cubes_and_cover_every_pair(monkeypatch):
    monkeypatch.setattr(batch, "TASK_TARGETS", 4)
    monkeypatch.setattr(batch, "OPEN_CUBES", 2)
    keys, order = pairs({1: 10, 2: 3, 3: 5})
    tasks = list(batch._tasks(keys, order))
    assert all(0 < len(rows) <= 4 for _, rows, _ in tasks)
    # Two cubes at a time, taking turns; the third starts when the second is done.
    assert [key[2] for key, _, _ in tasks] == [1, 2, 1, 3, 1, 3]
    rows = np.concatenate([rows for _, rows, _ in tasks])
    assert sorted(rows) == list(range(18))
    for key, rows, targets in tasks:
        assert (keys[rows] == key).all()
        assert list(targets) == list(order[rows])


def test_tasks_are_made_as_they_are_taken():
    keys, order = pairs({1: 10**6})
    tasks = batch._tasks(keys, order)
    first = next(tasks)
    assert len(first[1]) == batch.TASK_TARGETS


def test_a_bounded_number_of_tasks_is_in_flight():
    pulled, finished, most = [], [], []
    lock = threading.Lock()

    def tasks():
        for task in range(200):
            with lock:
                pulled.append(task)
                most.append(len(pulled) - len(finished))
            yield task

    def work(task):
        with lock:
            finished.append(task)
        return task

    results = list(batch._run(work, tasks(), client=None))
    assert sorted(results) == list(range(200))
    assert max(most) <= batch._LOCAL_THREADS * batch._TASKS_PER_THREAD


def neighbours(cube_file, count, seed=5):
    """Targets crowded on the small test cube, so that their cutouts overlap."""
    rng = np.random.default_rng(seed)
    ra, dec = open_cube(cube_file).projection.pixel_to_world(
        rng.uniform(5, 45, count), rng.uniform(5, 35, count)
    )
    return Table({"id": [f"t{i}" for i in range(count)], "ra": ra, "dec": dec})


def test_neighbours_read_together_give_the_files_of_single_cutouts(
    cube_archive, cube_file, tmp_path, monkeypatch
):
    from astro_tesscut.cube.source import FileSource

    reads = []
    real = FileSource.read_into

    def recording(self, ranges, buffers):
        reads.append(len(ranges))
        return real(self, ranges, buffers)

    monkeypatch.setattr(FileSource, "read_into", recording)
    targets = neighbours(cube_file, 30)
    result = batch.batch_cutouts(
        targets, 9, cube_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert list(result["status"]) == ["written"] * 30
    assert list(result["target"]) == list(targets["id"])  # in the order of the targets
    # Far fewer requests than one per row of each cutout: rows shared are read once.
    assert 1 <= sum(reads) < 30 * 9 / 2
    for row, path in zip(targets, result["path"], strict=True):
        alone = cutout(cube_file, (row["ra"], row["dec"]), size=9)
        with fits.open(path) as written:
            assert written.filename().endswith(alone.filename())
            for column in ("FLUX", "FLUX_ERR"):
                assert np.array_equal(
                    written[1].data[column], alone[1].data[column], equal_nan=True
                )


def test_targets_are_ordered_in_bands_of_rows_for_their_tasks(cube_archive, cube_file, tmp_path):
    seen = []
    real = batch._cut_task

    def recording(task, **kwargs):
        seen.append(task[4:6])  # the task's positions
        return real(task, **kwargs)

    targets = neighbours(cube_file, 12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch, "_cut_task", recording)
        patch.setattr(batch, "TASK_TARGETS", 4)
        batch.batch_cutouts(targets, 9, cube_archive, out_dir=tmp_path / "out", show_progress=False)
    # Ordered as the pointing model places them (a pixel or two off the cube's WCS).
    firsts = []
    for ra, dec in seen:
        column, row = (v.astype(np.float32) for v in ffi_pixels(ra, dec, 1, 4, 2))
        bands = np.floor(row / 9)
        # Within a task, by band, then along the columns.
        assert list(np.lexsort((column, bands))) == list(range(len(column)))
        firsts.append(bands[0])
    assert firsts == sorted(firsts)


def test_a_task_whose_cube_is_missing_fails_its_rows_only(cube_archive, cube_file, tmp_path):
    targets = neighbours(cube_file, 3)
    (link,) = cube_archive.rglob(cube_file.name)
    link.unlink()
    link.write_bytes(b"SIMPLE  = junk")
    result = batch.batch_cutouts(
        targets, 5, cube_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert list(result["status"]) == ["error"] * 3
    assert all("not a readable FITS" in error for error in result["error"])


def test_a_target_no_cube_could_hold_has_a_row_saying_why(cube_archive, cube_file, tmp_path):
    targets = grid(cube_file, 2)
    targets.add_row({"ra": 270.0, "dec": 66.56, "id": "pole"})  # never in sector 1
    result = batch.batch_cutouts(
        targets, 5, cube_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert result.colnames == list(batch._COLUMNS)
    assert list(result["target"]) == ["star0", "star1", "pole"]
    assert list(result["status"]) == ["written", "written", "no data"]
    pole = result[2]
    assert (pole["sector"], pole["camera"], pole["ccd"], pole["path"]) == (0, 0, 0, "")
    assert pole["error"].startswith(
        "the archive holds no cube or FFIs of the sectors that observed it: 56-60"
    )
    only = batch.batch_cutouts(
        targets[2:], 5, cube_archive, sectors=1, out_dir=tmp_path / "out", show_progress=False
    )
    assert list(only["status"]) == ["no data"]
    assert only["error"][0].startswith("sector 1 did not observe it (observed in sectors 56-60")


class Store:
    """A stand-in store that holds ``held`` (`None`: cannot tell, as a URL)."""

    def __init__(self, held):
        self._held = held

    def held(self):
        return self._held


@pytest.mark.parametrize(
    ("held", "sectors", "words"),
    [
        (None, None, "no released sector's cube could hold it"),
        ({(1, 4, 2)}, None, "the archive holds no cube or FFIs of the sectors that observed it: "),
        (None, [1, 2], "sectors 1-2 did not observe it (observed in sectors "),
        (None, [3000], "sector 3000 did not observe it"),
    ],
)
def test_why_no_cube_could_hold_a_target(held, sectors, words):
    (reason,) = batch._no_data_reasons(
        Store(held), np.array([270.0]), np.array([66.56]), sectors, 0.01
    )
    assert reason.startswith(words), reason


def test_a_window_off_a_cube_of_a_region_is_no_data_saying_where_the_region_is(
    cube_archive, cube_file, tmp_path
):
    from astro_tesscut.sky.pointing import ffi_sky

    cube = open_cube(cube_file)
    c0, r0 = cube.ccd_origin
    assert (c0, r0) != (0, 0)  # the test cube holds a region of the CCD
    ra, dec = ffi_sky(np.array([1000.0]), np.array([1000.0]), 1, 4, 2)  # on the CCD, not the cube
    targets = grid(cube_file, 1)
    targets.add_row({"ra": ra[0], "dec": dec[0], "id": "elsewhere"})
    result = batch.batch_cutouts(
        targets, 5, cube_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert list(result["status"]) == ["written", "no data"]  # not an error: nothing to cut
    assert (result["sector"][1], result["camera"][1], result["ccd"][1]) == (1, 4, 2)
    error = result["error"][1]
    assert f"lies outside the region of tess-s0001-4-2 the cube holds (columns {c0 + 1}.." in error
    assert f"..{c0 + cube.columns}, rows {r0 + 1}..{r0 + cube.rows} of the FFI" in error
    assert "lies off" not in error


def test_a_cube_of_a_whole_ccd_says_the_target_lies_off_it(corner_cube_file, monkeypatch):
    from astro_tesscut.cube import cutout as cutting
    from astro_tesscut.sizes import parse_size

    cube = open_cube(corner_cube_file)
    assert cube.ccd_origin == (0, 0)
    # As large as a whole FFI: a window beyond its pixels lies off the CCD itself.
    monkeypatch.setattr(cutting, "COLUMNS", cube.columns)
    monkeypatch.setattr(cutting, "ROWS", cube.rows)
    ra, dec = cube.projection.pixel_to_world(np.array([500.0]), np.array([500.0]))
    (outcome,) = cutting.cut_many(cube, ra, dec, parse_size(5))
    assert outcome.off_cube
    assert str(outcome.error).startswith(f"coordinates: ({ra[0]}, {dec[0]}) lies off tess-s0001")


def test_the_progress_bar_moves_on_with_each_cutout(cube_archive, cube_file, tmp_path, monkeypatch):
    import tqdm.auto

    steps = []
    real = tqdm.auto.tqdm

    class Recording(real):
        def update(self, n=1):
            steps.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    targets = neighbours(cube_file, 20)  # one task: one cube, fewer than TASK_TARGETS
    batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "out", show_progress=False)
    assert steps == [1] * 20


def test_the_progress_bar_counts_a_task_whose_cube_failed(
    cube_archive, cube_file, tmp_path, monkeypatch
):
    import tqdm.auto

    steps = []
    real = tqdm.auto.tqdm

    class Recording(real):
        def update(self, n=1):
            steps.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    (link,) = cube_archive.rglob(cube_file.name)
    link.unlink()
    link.write_bytes(b"SIMPLE  = junk")
    batch.batch_cutouts(
        neighbours(cube_file, 5), 5, cube_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert sum(steps) == 5


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_are_the_threads_of_a_local_batch(cube_archive, cube_file, tmp_path, workers):
    names = set()
    real = batch._cut_task

    def recording(task, **kwargs):
        names.add(threading.current_thread().name)
        return real(task, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch, "_cut_task", recording)
        patch.setattr(batch, "TASK_TARGETS", 1)
        result = batch.batch_cutouts(
            neighbours(cube_file, 12),
            5,
            cube_archive,
            out_dir=tmp_path / "out",
            show_progress=False,
            workers=workers,
        )
    assert set(result["status"]) == {"written"}
    assert 1 <= len(names) <= workers
    assert all(name.startswith("astro_tesscut-batch") for name in names)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer(cube_archive, cube_file, tmp_path, workers):
    with pytest.raises(InvalidQueryError, match="^workers: must be a positive integer"):
        batch.batch_cutouts(grid(cube_file), 5, cube_archive, out_dir=tmp_path, workers=workers)


def test_workers_are_not_a_clusters(cube_archive, cube_file, tmp_path):
    with pytest.raises(InvalidQueryError, match="^workers: the threads of this machine"):
        batch.batch_cutouts(
            grid(cube_file), 5, cube_archive, out_dir=tmp_path, workers=2, client=object()
        )


def test_pairs_helper_is_sorted_by_cube():
    keys, _ = pairs({1: 2, 2: 2})
    assert [tuple(k) for k in keys] == sorted(tuple(k) for k in keys)
    assert list(itertools.chain.from_iterable(keys[:, 2:])) == [1, 1, 2, 2]


def test_a_resumed_batch_removes_what_a_killed_run_left(cube_archive, cube_file, tmp_path):
    import os
    import subprocess
    import sys

    from astro_tesscut.files import owned_name

    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    name = owned_name("tess-s0001-4-2_1_2_5x5_astrocut.fits", ".part")
    leftover = out / name.replace(f".{os.getpid()}.", f".{pid}.")  # as a killed run leaves it
    leftover.write_bytes(b"half a file")
    mine = out / "notes.txt"
    mine.write_text("the user's")
    batch.batch_cutouts(neighbours(cube_file, 2), 5, cube_archive, out_dir=out, show_progress=False)
    assert not leftover.exists()
    assert mine.read_text() == "the user's"


def grid(cube_file, count=4):
    """Positions of ``count`` targets well inside the test cube."""
    x = np.linspace(10.0, 40.0, count)
    ra, dec = open_cube(cube_file).projection.pixel_to_world(x, np.full(count, 20.0))
    return Table({"ra": ra, "dec": dec, "id": [f"star{i}" for i in range(count)]})


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t["dec"].__setitem__(2, 95.0), "targets: row 2 ('star2') has a Dec outside"),
        (lambda t: t["ra"].__setitem__(1, 444.29), "targets: row 1 ('star1') has an RA outside"),
        (lambda t: t["ra"].__setitem__(3, -0.5), "targets: row 3 ('star3') has an RA outside"),
        (lambda t: t["dec"].__setitem__(0, np.nan), "targets: row 0 ('star0') is not finite"),
    ],
)
def test_batch_positions_are_checked_as_get_cutouts_checks_them(
    cube_archive, cube_file, tmp_path, change, words
):
    targets = grid(cube_file)
    change(targets)
    with pytest.raises(InvalidQueryError, match=re.escape(words)):
        batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_masked_positions_are_refused_naming_the_row(cube_archive, cube_file, tmp_path):
    targets = Table(grid(cube_file), masked=True)
    targets["ra"].mask[2] = True
    with pytest.raises(InvalidQueryError, match=re.escape("row 2 ('star2') is masked")):
        batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path)


def test_positions_in_other_angular_units_are_converted(cube_archive, cube_file, tmp_path):
    from astropy import units as u

    targets = grid(cube_file)
    in_radians = Table({"ra": targets["ra"] * u.deg.to(u.rad), "dec": targets["dec"]})
    in_radians["ra"].unit = u.rad
    in_degrees = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "a")
    converted = batch.batch_cutouts(in_radians, 5, cube_archive, out_dir=tmp_path / "b")
    assert [p.split("/")[-1] for p in converted["path"]] == [
        p.split("/")[-1] for p in in_degrees["path"]
    ]
    in_radians["ra"].unit = u.m
    with pytest.raises(InvalidQueryError, match="column ra is in m, not an angle"):
        batch.batch_cutouts(in_radians, 5, cube_archive, out_dir=tmp_path / "c")


@pytest.mark.parametrize(
    ("sectors", "words"),
    [
        ("12", "sectors: must be a positive integer"),
        ([1, "2"], "sectors: every sector of a list must be a positive integer, got '2'"),
        (0, "sectors: must be a positive integer, got 0"),
        ([], "sectors: a list of sectors must be flat and not empty"),
    ],
)
def test_batch_sectors_are_checked_as_get_cutouts_checks_them(
    cube_archive, cube_file, tmp_path, sectors, words
):
    with pytest.raises(InvalidQueryError, match=re.escape(words)):
        batch.batch_cutouts(grid(cube_file), 5, cube_archive, sectors=sectors, out_dir=tmp_path)


def test_one_sector_as_a_number(cube_archive, cube_file, tmp_path):
    result = batch.batch_cutouts(grid(cube_file), 5, cube_archive, sectors=1, out_dir=tmp_path)
    assert set(result["status"]) == {"written"}
    assert set(result["sector"]) == {1}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX's")
def test_what_is_not_a_regular_file_under_a_cutouts_name_is_made_again(
    cube_archive, cube_file, tmp_path
):
    targets = grid(cube_file)
    first = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "first")
    names = [path.split("/")[-1] for path in first["path"]]
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / names[0])  # opening it to see whether it is whole would wait forever
    (tmp_path / "elsewhere.fits").write_bytes((tmp_path / "first" / names[1]).read_bytes())
    (out / names[1]).symlink_to(tmp_path / "elsewhere.fits")  # whole, but not a file here
    (out / names[2]).mkdir()  # cannot be replaced: an error row
    code = (
        "import sys\n"
        "from astropy.table import Table\n"
        "from astro_tesscut import batch_cutouts\n"
        f"targets = Table.read({str(tmp_path / 'targets.ecsv')!r})\n"
        f"result = batch_cutouts(targets, 5, {str(cube_archive)!r}, out_dir={str(out)!r},\n"
        "                       show_progress=False)\n"
        "print(' '.join(result['status']))\n"
        "print(result['error'][2])\n"
    )
    targets.write(tmp_path / "targets.ecsv")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    statuses, error = done.stdout.splitlines()
    assert statuses.split() == ["written", "written", "error", "written"], done.stderr
    assert "directory" in error
    for name in (names[0], names[1]):
        assert (out / name).is_file()
        assert not (out / name).is_symlink()
        assert (out / name).read_bytes() == (tmp_path / "first" / name).read_bytes()
    assert (tmp_path / "elsewhere.fits").read_bytes() == (
        tmp_path / "first" / names[1]
    ).read_bytes()


# Time windows and FFI pixels (issue 22)


def frames_window(times, first, stop):
    """A BTJD window holding FFIs ``first`` to ``stop`` (excluded) by their mid-times."""
    return times[first] - 1e-4, times[stop - 1] + 1e-4


def api_files(cube_archive, out, **kwargs):
    """The bytes of the files ``download_cutouts`` writes from the archive, by name."""
    from pathlib import Path

    from astro_tesscut import TessCutClass

    paths = TessCutClass(archive=cube_archive).download_cutouts(
        path=out, show_progress=False, **kwargs
    )["Local Path"]
    return {Path(path).name: Path(path).read_bytes() for path in paths}


def written_bytes(path):
    from pathlib import Path

    return Path(path).name, Path(path).read_bytes()


def test_each_target_gets_the_cadences_of_its_own_window(cube_archive, cube_file, tmp_path):
    times = open_cube(cube_file).times
    targets = grid(cube_file, 3)
    targets["time_start"] = np.ma.masked_array([0.0, 0.0, 0.0], mask=[False, True, False])
    targets["time_stop"] = np.ma.masked_array([0.0, 0.0, 0.0], mask=[False, True, False])
    targets["time_start"][0], targets["time_stop"][0] = frames_window(times, 2, 5)
    targets["time_start"][2], targets["time_stop"][2] = frames_window(times, 0, 1)
    result = batch.batch_cutouts(targets, 7, cube_archive, out_dir=tmp_path / "out")
    assert list(result["status"]) == ["written"] * 3
    expected = [(2, 5), (0, 8), (0, 1)]  # the masked row: every cadence
    for row, path, (first, stop) in zip(targets, result["path"], expected, strict=True):
        with fits.open(path) as hdul:
            assert np.array_equal(hdul["PIXELS"].data["TIME"], times[first:stop])
            assert np.array_equal(hdul["PIXELS"].data["CADENCENO"], np.arange(first, stop) + 1)
        window = None if (first, stop) == (0, 8) else frames_window(times, first, stop)
        # The very file get_cutouts makes of that window.
        api = api_files(
            cube_archive,
            tmp_path / f"api-{row['id']}",
            coordinates=(row["ra"], row["dec"]),
            size=7,
            time=window,
        )
        name, data = written_bytes(path)
        assert api == {name: data}


def test_the_time_argument_is_every_targets_window_unless_it_has_its_own(
    cube_archive, cube_file, tmp_path
):
    from astropy.time import Time

    times = open_cube(cube_file).times
    targets = grid(cube_file, 2)
    own = Time(np.array(frames_window(times, 5, 7)) + 2457000, format="jd", scale="tdb")
    targets["time_start"] = Time([own[0], own[0]])
    targets["time_stop"] = Time([own[1], own[1]])
    targets["time_start"][1] = np.ma.masked  # masked Times: no window of its own
    targets["time_stop"][1] = np.ma.masked
    window = Time(np.array(frames_window(times, 1, 3)) + 2457000, format="jd", scale="tdb")
    result = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path, time=window)
    for path, (first, stop) in zip(result["path"], [(5, 7), (1, 3)], strict=True):
        with fits.open(path) as hdul:
            assert np.array_equal(hdul["PIXELS"].data["TIME"], times[first:stop])


def test_a_window_without_cadences_is_no_data_saying_why(
    cube_archive, cube_file, tmp_path, monkeypatch
):
    times = open_cube(cube_file).times
    targets = grid(cube_file, 3)
    targets["time_start"] = [times[0] - 1, times[-1] + 1, 1500.0]  # 1500: sector 5 or so
    targets["time_stop"] = [times[-1] + 2, times[-1] + 2, 1501.0]
    opened = []
    real = batch.prepare_cube
    monkeypatch.setattr(batch, "prepare_cube", lambda *a, **k: opened.append(a) or real(*a, **k))
    result = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path, show_progress=False)
    assert list(result["status"]) == ["written", "no data", "no data"]
    assert [tuple(r) for r in result["sector", "camera", "ccd"]] == [(1, 4, 2)] * 3
    assert list(result["path"][1:]) == ["", ""]
    # After the cube's last cadence, in its sector's days: the cube says which it has.
    assert result["error"][1].startswith("time: no cadence of tess-s0001-4-2 lies within BTJD ")
    assert "its FFIs' mid-times run from BTJD 1325.3104 to 1325.4562" in result["error"][1]
    # Weeks away from the sector: no cube opened for it.
    assert result["error"][2].startswith(
        "time: no cadence of sector 1 lies within BTJD 1500.0000 to 1501.0000 (the sector's "
        "FFIs were taken around BTJD 1326 to 1353"
    )
    assert len(opened) == 1  # one task: the first two targets


def test_a_window_outside_every_cube_writes_no_file(cube_archive, cube_file, tmp_path):
    result = batch.batch_cutouts(
        grid(cube_file, 2), 5, cube_archive, out_dir=tmp_path / "out", time=(2000, 2001)
    )
    assert list(result["status"]) == ["no data", "no data"]
    assert not list((tmp_path / "out").glob("*.fits"))


def test_a_resumed_run_with_another_window_keeps_its_files_unless_overwritten(
    cube_archive, cube_file, tmp_path
):
    times = open_cube(cube_file).times
    targets = grid(cube_file, 2)
    out = tmp_path / "out"
    first = batch.batch_cutouts(targets, 5, cube_archive, out_dir=out, time=(0, times[2]))
    assert set(first["status"]) == {"written"}
    again = batch.batch_cutouts(targets, 5, cube_archive, out_dir=out, time=(times[4], 2000))
    assert set(again["status"]) == {"skipped"}
    assert list(again["path"]) == list(first["path"])  # a file's name does not say its window
    with fits.open(again["path"][0]) as hdul:
        assert len(hdul["PIXELS"].data) == 3
    made = batch.batch_cutouts(
        targets, 5, cube_archive, out_dir=out, time=(times[4], 2000), overwrite=True
    )
    assert set(made["status"]) == {"written"}
    with fits.open(made["path"][0]) as hdul:
        assert np.array_equal(hdul["PIXELS"].data["TIME"], times[4:])


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        (
            {"time_start": [1325.0] * 4},
            "targets: the table has a time_start column but no time_stop",
        ),
        (
            {"time_start": [1325.0, 1326.0, 1325.0, 1325.0], "time_stop": [1326.0, 1325.5] * 2},
            "targets: row 1 ('star1'): time: the start must come before the stop, got BTJD 1326.0",
        ),
        (
            {"time_start": [1325.0] * 4, "time_stop": [1326.0, 1326.0, np.inf, 1326.0]},
            "targets: row 2 ('star2'): time: must be finite numbers",
        ),
        (
            {"time_start": ["a"] * 4, "time_stop": [1326.0] * 4},
            "targets: column time_start must hold BTJD numbers (BJD - 2457000) or times",
        ),
    ],
)
def test_bad_windows_are_refused_naming_the_row(cube_archive, cube_file, tmp_path, columns, words):
    targets = grid(cube_file)
    for name, values in columns.items():
        targets[name] = values
    with pytest.raises(InvalidQueryError, match="^" + re.escape(words)):
        batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_half_a_window_is_refused_naming_the_row(cube_archive, cube_file, tmp_path):
    targets = grid(cube_file)
    targets["time_start"] = np.ma.masked_array([1325.0] * 4, mask=[False, False, False, True])
    targets["time_stop"] = [1326.0] * 4
    with pytest.raises(InvalidQueryError, match=re.escape("row 3 ('star3') has a time_stop but")):
        batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path)
    with pytest.raises(InvalidQueryError, match="^time: the start must come before the stop"):
        batch.batch_cutouts(grid(cube_file), 5, cube_archive, out_dir=tmp_path, time=(2, 1))


PIXELS = [(1620, 260), (1630.4, 265.6), (1611, 251)]  # inside the test cube (1601.., 241..)


def pixel_targets(pixels=PIXELS, **columns):
    return Table(
        {
            "id": [f"p{i}" for i in range(len(pixels))],
            "column": [p[0] for p in pixels],
            "row": [p[1] for p in pixels],
            "sector": [1] * len(pixels),
            "camera": [4] * len(pixels),
            "ccd": [2] * len(pixels),
            **columns,
        }
    )


def test_pixel_targets_give_the_files_get_cutouts_gives_by_pixel(cube_archive, cube_file, tmp_path):
    result = batch.batch_cutouts(
        pixel_targets(), (7, 5), cube_archive, out_dir=tmp_path / "out", show_progress=False
    )
    assert list(result["status"]) == ["written"] * 3
    assert [tuple(r) for r in result["sector", "camera", "ccd"]] == [(1, 4, 2)] * 3
    for index, (pixel, path) in enumerate(zip(PIXELS, result["path"], strict=True)):
        api = api_files(
            cube_archive,
            tmp_path / f"api{index}",
            pixel=pixel,
            sector=1,
            camera=4,
            ccd=2,
            size=(7, 5),
        )
        name, data = written_bytes(path)
        assert api == {name: data}
        with fits.open(path) as hdul:  # centred on the pixel: 5 columns, 7 rows
            aperture = hdul["APERTURE"].header
            column, row = (int(np.floor(v + 0.5)) for v in pixel)
            assert (aperture["CRVAL1P"], aperture["CRVAL2P"]) == (column - 2, row - 3)


def test_pixel_targets_take_their_windows_and_sectors(cube_archive, cube_file, tmp_path):
    times = open_cube(cube_file).times
    start, stop = frames_window(times, 3, 6)
    targets = pixel_targets(PIXELS[:2], time_start=[start, start], time_stop=[stop, stop])
    del targets["sector"]  # the one sector asked, for every row
    result = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "out", sectors=1)
    for index, (pixel, path) in enumerate(zip(PIXELS[:2], result["path"], strict=True)):
        api = api_files(
            cube_archive,
            tmp_path / f"api{index}",
            pixel=pixel,
            sector=1,
            camera=4,
            ccd=2,
            size=5,
            time=(start, stop),
        )
        assert api == dict([written_bytes(path)])
        with fits.open(path) as hdul:
            assert np.array_equal(hdul["PIXELS"].data["TIME"], times[3:6])


def test_a_pixel_of_a_cube_the_archive_lacks_or_off_its_region_is_no_data(
    cube_archive, cube_file, tmp_path
):
    targets = pixel_targets([(1620, 260), (1620, 260), (1000, 1000)])
    targets["sector"][1] = 2
    result = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path, show_progress=False)
    assert list(result["status"]) == ["written", "no data", "no data"]
    assert [tuple(r) for r in result["sector", "camera", "ccd"]] == [
        (1, 4, 2),
        (2, 4, 2),
        (1, 4, 2),
    ]
    assert result["error"][1] == "the archive holds no cube or FFIs of sector 2, camera 4, CCD 2"
    assert "lies outside the region of tess-s0001-4-2 the cube holds" in result["error"][2]


def test_a_pixel_of_an_unreadable_cube_is_an_error_of_its_rows_only(
    cube_archive, cube_file, tmp_path
):
    (link,) = cube_archive.rglob(cube_file.name)
    link.unlink()
    link.write_bytes(b"SIMPLE  = junk")
    result = batch.batch_cutouts(
        pixel_targets(PIXELS[:2]), 5, cube_archive, out_dir=tmp_path, show_progress=False
    )
    assert list(result["status"]) == ["error", "error"]
    assert all("not a readable FITS" in error for error in result["error"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t["column"].__setitem__(1, 3000), "targets: row 1 ('p1'): pixel: (3000, "),
        (lambda t: t["camera"].__setitem__(2, 5), "targets: row 2 ('p2'): camera: must be 1,"),
        (lambda t: t["sector"].__setitem__(0, 0), "targets: row 0 ('p0'): sector: must be a"),
        (lambda t: t.remove_column("ccd"), "targets: a table of FFI pixels needs column, row,"),
        (lambda t: t.remove_column("sector"), "targets: a table of FFI pixels needs column, row,"),
    ],
)
def test_pixel_targets_are_checked_as_get_cutouts_checks_a_pixel(
    cube_archive, tmp_path, change, words
):
    targets = pixel_targets()
    change(targets)
    with pytest.raises(InvalidQueryError, match="^" + re.escape(words)):
        batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_masked_pixel_and_a_second_sector_are_refused(cube_archive, tmp_path):
    targets = Table(pixel_targets(), masked=True)
    targets["ccd"].mask[1] = True
    with pytest.raises(InvalidQueryError, match=re.escape("targets: row 1 ('p1') is masked: ccd")):
        batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path)
    with pytest.raises(InvalidQueryError, match="^sectors: a pixel is on the FFI of its row's"):
        batch.batch_cutouts(pixel_targets(), 5, cube_archive, out_dir=tmp_path, sectors=1)
    no_sector = pixel_targets()
    del no_sector["sector"]
    with pytest.raises(InvalidQueryError, match=re.escape("it has no sector (or ask for one")):
        batch.batch_cutouts(no_sector, 5, cube_archive, out_dir=tmp_path, sectors=[1, 2])


def test_a_task_is_plain_numbers_a_worker_unpickles(cube_archive, cube_file, tmp_path):
    import pickle

    tasks = []
    real = batch._cut_task

    def recording(task, **kwargs):
        tasks.append(task)
        return real(pickle.loads(pickle.dumps(task)), **kwargs)

    targets = pixel_targets(time_start=[1325.0] * 3, time_stop=[1326.0] * 3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch, "_cut_task", recording)
        result = batch.batch_cutouts(targets, 5, cube_archive, out_dir=tmp_path)
    assert set(result["status"]) == {"written"}
    (task,) = tasks
    key, location, options, rows, ra, dec, spans, pixels = task
    assert key == (1, 4, 2)
    assert isinstance(location, str)
    assert options is None
    for array in (rows, ra, dec, spans, pixels):
        assert isinstance(array, np.ndarray)
        assert array.dtype.kind in "if"
    assert spans.tolist() == [[1325.0, 1326.0]] * 3
