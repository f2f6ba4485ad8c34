"""One interface for every way of getting pixels, and the one place that picks which.

A `Backend` answers two questions about a target, in one shape whichever it
is: which sectors, cameras and CCDs observed it (a Table), and its target
pixel files, in TESScut's format, handed to a `~astro_tesscut.writers.Writer`
(memory, a directory, a zip) with the reasons for any sector without data.
Four implementations exist:

- MAST's TESScut service (`~astro_tesscut.backends.service.MastService`), wrapped by
  the verified cache (`~astro_tesscut.backends.cache.Cached`) and per-sector
  concurrency (`~astro_tesscut.backends.per_sector.PerSector`);
- a local archive of cubes and/or FFIs (`~astro_tesscut.backends.local.LocalArchive`);
- a remote archive of cubes under any fsspec URL
  (`~astro_tesscut.backends.remote.RemoteArchive`);
- TESS's pointing model alone, for sectors offline
  (`~astro_tesscut.backends.pointing_model.OfflineSectors`).

`open_backend` chooses among them from what the caller gave, once;
`~astro_tesscut.TessCutClass` and `~astro_tesscut.batch_cutouts` both go
through it.
"""

import abc
from dataclasses import dataclass, field

__all__ = ["Backend", "Fetched", "Wrapper", "open_archive", "open_backend"]

SECTOR_COLUMNS = ("sectorName", "sector", "camera", "ccd")


@dataclass
class Fetched:
    """What a request for cutouts gave: what the writer made, and why any sector gave nothing."""

    results: list = field(default_factory=list)
    no_data: list = field(default_factory=list)  # one message per sector or cube without data

    def merged(self, other):
        """This and ``other`` together."""
        return Fetched(self.results + other.results, self.no_data + other.no_data)


class Backend(abc.ABC):
    """A way of getting TESS FFI cutouts; see the module docstring."""

    #: Finds and cuts solar-system bodies along their path (only the service can).
    moving_targets = False

    @abc.abstractmethod
    def sectors(self, target, radius):
        """The sectors, cameras and CCDs whose FFIs hold ``target``.

        Parameters
        ----------
        target : `~astro_tesscut.targets.Target`
            Resolved: a position, or a moving target where supported.
        radius : `~astropy.coordinates.Angle`
            Also count FFIs within this angle of the position.

        Returns
        -------
        `~astropy.table.Table`
            Columns ``sectorName``, ``sector``, ``camera``, ``ccd`` first (str,
            int, int, int), sorted by sector, camera and CCD; a backend may add
            columns after them. Empty, with the same columns, when none.
        """

    @abc.abstractmethod
    def cutouts(
        self, target, size, sector, writer, *, cache=True, show_progress=False, progress=None
    ):
        """Cut ``target`` out of the FFIs of ``sector`` (every sector: `None`) and hand the
        target pixel files to ``writer``.

        Parameters
        ----------
        target : `~astro_tesscut.targets.Target`
            Resolved.
        size : `~astro_tesscut.sizes.CutoutSize`
            The cutouts' size.
        sector : int or None
            One sector, or every sector that observed the target.
        writer : `~astro_tesscut.writers.Writer`
            Where the files go; each answer is taken whole or not at all.
        cache : bool, optional
            Reuse and keep verified answers where the backend caches them.
        show_progress : bool, optional
            Show progress bars (only ever on a terminal).
        progress : `~astro_tesscut.progress.TransferProgress`, optional
            The bar of a run of requests a wrapper opened, to count bytes in.

        Returns
        -------
        `~astro_tesscut.backends.base.Fetched`
        """

    def __repr__(self):
        return f"<{type(self).__name__}>"


class Wrapper(Backend):
    """A backend around another (``inner``), changing how it fetches cutouts: what it
    does not change (the sectors, what it can do), it asks ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def moving_targets(self):
        return self.inner.moving_targets

    def __repr__(self):
        return repr(self.inner)

    def sectors(self, target, radius):
        return self.inner.sectors(target, radius)


def open_backend(archive=None, storage_options=None, *, offline=False, service=None, cache=None):
    """The backend for what a caller gave: an archive, the pointing model, or the service.

    Parameters
    ----------
    archive : str or path-like, optional
        A directory of FFI cubes and/or FFIs, or a URL prefix of cubes
        (``s3://stpubdata/tess/public/mast/``): `open_archive`.
    storage_options : dict, optional
        fsspec options for a URL ``archive``.
    offline : bool, optional
        Without an archive: TESS's pointing model alone (sectors, no pixels).
    service : `~astro_tesscut.backends.service.MastService`, optional
        The service client, when neither of the above.
    cache : `~astro_tesscut.backends.cache.CutoutCache`, optional
        Where the service's verified answers are kept.
    """
    if archive is not None:
        return open_archive(archive, storage_options)
    if offline:
        from .pointing_model import OfflineSectors

        return OfflineSectors()
    from .cache import Cached, CutoutCache
    from .per_sector import PerSector
    from .service import MastService

    return PerSector(Cached(service or MastService(), cache or CutoutCache()))


def open_archive(archive, storage_options=None):
    """The cube store at ``archive``: a URL prefix of cubes, or a local directory."""
    from ..cube.source import is_url

    if is_url(archive):
        from .remote import RemoteArchive

        return RemoteArchive(str(archive), storage_options=storage_options)
    from .local import LocalArchive

    return LocalArchive(str(archive).removeprefix("file://"))
