"""Cutouts made a few at a time: in order, ahead on threads, within a budget of memory."""

import os
import threading
import time

import pytest

from astro_tesscut import InvalidQueryError, conf
from astro_tesscut.cube import pipeline


def test_results_come_in_order_with_work_ahead_on_threads():
    threads = set()

    def work(item):
        threads.add(threading.current_thread().name)
        time.sleep(0.001 * (item % 3))  # finishing out of order
        return item * 2

    assert list(pipeline.ahead(work, range(40), remote=True)) == [i * 2 for i in range(40)]
    assert len(threads) > 1


def test_work_in_flight_stays_within_the_memory_budget():
    held, most = [0], [0]
    lock = threading.Lock()

    def work(pixel_bytes):
        with pipeline.holding(pixel_bytes):
            with lock:
                held[0] += pixel_bytes
                most[0] = max(most[0], held[0])
            time.sleep(0.01)
            with lock:
                held[0] -= pixel_bytes
        return pixel_bytes

    sizes = [4, 4, 4, 10, 3, 3, 3, 3]  # one fills the budget: it runs alone
    with conf.set_temp("memory_budget", 10 * pipeline.HELD_PER_PIXEL_BYTE):
        assert list(pipeline.ahead(work, sizes, remote=True)) == sizes
    assert most[0] == 10
    assert pipeline._HELD[0] == 0
    most[0] = 0
    with conf.set_temp("memory_budget", 9 * pipeline.HELD_PER_PIXEL_BYTE):
        list(pipeline.ahead(work, [3] * 12, remote=True))
    assert most[0] == 9  # three at a time of the eight threads


def test_the_budget_is_a_quarter_of_the_machines_memory_unless_set():
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert pipeline.budget() == max(memory // 4, 2**30)
    with conf.set_temp("memory_budget", 12345):
        assert pipeline.budget() == 12345


def test_a_cutout_that_alone_exceeds_the_budget_is_refused_naming_what_fits():
    with conf.set_temp("memory_budget", 2**30):
        pipeline.check_room(100, 100, 3000, "a cutout of tess-s0001-4-2")  # 0.9 GiB: fits
        with pytest.raises(InvalidQueryError) as info:
            pipeline.check_room(120, 120, 12_000, "a cutout of tess-s0056-4-2")
    assert str(info.value) == (
        "size: a cutout of tess-s0056-4-2 of 120 x 120 pixels and 12,000 frames needs about "
        "5.1 GiB of memory, more than the 1.0 GiB cutouts may use (conf.memory_budget); ask "
        "for at most 52 x 52 pixels of this sector, or raise conf.memory_budget"
    )


def test_the_work_pulled_ahead_is_bounded_by_twice_the_workers(monkeypatch):
    monkeypatch.setattr(pipeline, "LOCAL_WORKERS", 2)
    items = 5 * 2 * pipeline.LOCAL_WORKERS  # many more than the lookahead
    pulled = []

    def targets():
        for item in range(items):
            pulled.append(item)
            yield item

    ahead_of_use = []
    for used, result in enumerate(pipeline.ahead(lambda item: item * 2, targets())):
        assert result == used * 2
        ahead_of_use.append(len(pulled) - (used + 1))
    # Twice the workers wait beside the one in use, however many items there are.
    assert max(ahead_of_use) == 2 * pipeline.LOCAL_WORKERS
    assert ahead_of_use[0] == 2 * pipeline.LOCAL_WORKERS
    assert len(pulled) == items
