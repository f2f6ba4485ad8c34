"""A request for every sector, made one request per sector, a few at a time.

TESScut answers a request for all of a target's sectors with one zip, built
in one go and slow to come; asking sector by sector, ``conf.max_workers`` at
a time, is faster and lets one sector fail without costing the others.
"""

from concurrent.futures import ThreadPoolExecutor

from ..config import conf
from ..exceptions import InvalidQueryError, PartialResultError, TessCutError
from ..interrupt import carrying
from ..progress import TransferProgress
from .base import Fetched, Wrapper

__all__ = ["PerSector"]


class PerSector(Wrapper):
    """``inner`` (the service) asked once per sector, ``conf.max_workers`` at a time.

    A sector that fails for good does not cost the others: the call raises
    `~astro_tesscut.PartialResultError` holding what arrived. One progress bar
    of bytes and requests covers the run.
    """

    def cutouts(
        self, target, size, sector, writer, *, cache=True, show_progress=False, progress=None
    ):
        workers = int(conf.max_workers)
        if workers < 1:
            raise InvalidQueryError(f"conf.max_workers: must be 1 or more, got {workers}")
        if sector is not None or workers == 1:
            sectors = [sector]
        else:
            from astropy.coordinates import Angle

            from ..sky.geometry import cutout_radius

            # Every sector the cutout reaches, as one request for them all would give:
            # also those whose FFIs hold only its edge.
            radius = Angle(cutout_radius(size), "deg")
            sectors = sorted(set(self.inner.sectors(target, radius)["sector"].tolist()))
            if not sectors:
                return Fetched(
                    no_data=[f"no TESS sector observed {target.description} or the cutout round it"]
                )

        def guarded(sector):
            try:
                return self.inner.cutouts(target, size, sector, writer, cache=cache, progress=bar)
            except TessCutError as exc:  # one sector's failure must not cost the others
                return exc
            finally:
                bar.finished_one()

        with TransferProgress(show=show_progress, requests=len(sectors)) as bar:
            if len(sectors) == 1:
                outcomes = [guarded(sectors[0])]
            else:
                pool = ThreadPoolExecutor(min(workers, len(sectors)))
                try:
                    outcomes = list(pool.map(carrying(guarded), sectors))
                finally:  # on an interrupt, no waiting for what runs, nothing new started
                    pool.shutdown(wait=False, cancel_futures=True)

        fetched, failures = Fetched(), {}
        for number, outcome in zip(sectors, outcomes, strict=True):
            if isinstance(outcome, Exception):
                failures[number] = outcome
            else:
                fetched = fetched.merged(outcome)
        if failures and len(sectors) == 1:
            raise failures[sectors[0]]
        if failures:
            raise PartialResultError(fetched.results, failures)
        return fetched
