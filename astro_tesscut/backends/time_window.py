"""Cutouts of a time window from a backend that cuts whole sectors: the service.

TESScut has no parameter for time: it answers with every cadence of a
sector. So for a request with a time window this wrapper asks only for the
sectors whose dates (in TESS's pointing model) may reach the window, and cuts
each answer to the window once it has arrived and been verified (the cache,
inside, keeps the answers whole). A sector with no cadence in the window is
one without data.
"""

from dataclasses import replace

from ..cube.tpf import trimmed_to
from ..files import cutout_from_bytes, write_files, write_zip
from ..sky.geometry import may_overlap
from ..writers import FileSet, Writer
from .base import Fetched, Wrapper

__all__ = ["TimeWindowed"]


class TimeWindowed(Wrapper):
    """``inner`` (the service), its answers cut to a request's time window."""

    def cutouts(self, request, writer):
        window = request.time
        if window is None:
            return self.inner.cutouts(request, writer)
        sectors = request.sectors
        if sectors is None:
            from astropy.coordinates import Angle

            table = self.inner.sector_table(request.target, Angle(request.size.radius_deg(), "deg"))
            sectors = sorted(set(table["sector"].tolist()))
        kept = [s for s, may in zip(sectors, may_overlap(sectors, window), strict=True) if may]
        no_data = [
            f"sector {sector} has no cadence within {window} (by its dates)"
            for sector in sectors
            if sector not in kept
        ]
        if not kept:
            if not sectors:
                no_data = [f"no TESS sector observed {request.target.description}"]
            return Fetched(no_data=no_data)
        trimming = _Trimming(writer, window)
        fetched = self.inner.cutouts(replace(request, sectors=tuple(kept)), trimming)
        return Fetched(fetched.results, no_data + fetched.no_data + trimming.emptied)


class _Trimming(Writer):
    """``writer``, handed each answer cut to ``window``; what a cut left empty is recorded
    in ``emptied``, as reasons for no data."""

    def __init__(self, writer, window):
        self.writer, self.window = writer, window
        self.cacheable = writer.cacheable
        self.emptied = []

    def take(self, files, *, sector=None):
        trimmed = _Trimmed(files, self.window)
        if not trimmed.files:
            where = "its answer" if sector is None else f"sector {sector}"
            self.emptied.append(f"{where} has no cadence within {self.window}")
            return []
        return self.writer.take(trimmed, sector=sector)

    def incoming(self, name):
        return self.writer.incoming(name)


class _Trimmed(FileSet):
    """The files of an answer (a verified `~astro_tesscut.writers.FileSet`), each cut to a
    time window; those left without a cadence are dropped."""

    def __init__(self, files, window):
        self.files = []
        for hdul in files.in_memory():
            with hdul:
                cut = trimmed_to(hdul, window)
            if cut is not None:
                self.files.append((hdul.filename(), cut))

    def in_memory(self):
        return [cutout_from_bytes(name, data) for name, data in self.files]

    def into_directory(self, directory):
        return write_files(self.files, directory)

    def as_zip(self, path):
        return write_zip(self.files, path)
