"""Requests for several sectors, made one request per sector, a few at a time.

TESScut answers a request for all of a target's sectors with one zip, built
in one go and slow to come; asking sector by sector, ``conf.max_workers`` at
a time, is faster and lets one sector fail without costing the others. This
is the one place a request's sectors are split.
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

    A request for every sector asks ``inner`` which sectors the cutout reaches
    first. A sector that fails for good does not cost the others: the call
    raises `~astro_tesscut.PartialResultError` holding what arrived (a request
    of one sector raises its own failure; an argument refused, its
    `~astro_tesscut.InvalidQueryError`). One progress bar of bytes and
    requests covers the run.
    """

    def cutouts(self, request, writer):
        workers = int(conf.max_workers)
        if workers < 1:
            raise InvalidQueryError(f"conf.max_workers: must be 1 or more, got {workers}")
        if request.sectors is not None:
            sectors = list(request.sectors)
        elif workers == 1:
            sectors = [None]  # one request for them all
        else:
            from astropy.coordinates import Angle

            # Every sector the cutout reaches, as one request for them all would give:
            # also those whose FFIs hold only its edge.
            radius = Angle(request.size.radius_deg(), "deg")
            table = self.inner.sector_table(request.target, radius)
            sectors = sorted(set(table["sector"].tolist()))
            if not sectors:
                observed = f"no TESS sector observed {request.target.description}"
                return Fetched(no_data=[f"{observed} or the cutout round it"])

        def guarded(sector):
            try:
                return self.inner.cutouts(request.of(sector, progress=bar), writer)
            except TessCutError as exc:  # one sector's failure must not cost the others
                return exc
            finally:
                bar.finished_one()

        with TransferProgress(show=request.show_progress, requests=len(sectors)) as bar:
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
        refused = [exc for exc in failures.values() if isinstance(exc, InvalidQueryError)]
        if refused or (failures and len(sectors) == 1):
            raise (refused or list(failures.values()))[0]
        if failures:
            raise PartialResultError(fetched.results, failures)
        return fetched
