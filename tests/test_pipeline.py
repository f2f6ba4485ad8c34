"""Cutouts made a few at a time: in order, ahead on threads, within a budget of memory."""

import threading
import time

from astro_tesscut.archive import pipeline


def test_results_come_in_order_with_work_ahead_on_threads():
    threads = set()

    def work(item):
        threads.add(threading.current_thread().name)
        time.sleep(0.001 * (item % 3))  # finishing out of order
        return item * 2

    assert list(pipeline.ahead(work, range(40), remote=True)) == [i * 2 for i in range(40)]
    assert len(threads) > 1


def test_work_in_flight_stays_within_the_memory_budget(monkeypatch):
    monkeypatch.setattr(pipeline, "MEMORY", 10 * pipeline.HELD_PER_PIXEL_BYTE)
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

    sizes = [4, 4, 4, 30, 3, 3, 3, 3]  # one alone is over the budget: it runs, alone
    assert list(pipeline.ahead(work, sizes, remote=True)) == sizes
    assert most[0] == 30
    assert pipeline._HELD[0] == 0
    monkeypatch.setattr(pipeline, "MEMORY", 9 * pipeline.HELD_PER_PIXEL_BYTE)
    most[0] = 0
    list(pipeline.ahead(work, [3] * 12, remote=True))
    assert most[0] == 9  # three at a time of the eight threads


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
