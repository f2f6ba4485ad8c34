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
        seen.append(task[4:])  # the task's positions
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
