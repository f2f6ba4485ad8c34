"""The interface every way of getting pixels implements. It imports no implementation.

A `Backend` answers two questions about a target, in one shape whichever it
is: which sectors, cameras and CCDs observed it (`Backend.sector_table`),
and its target pixel files in TESScut's format for a `Request`
(`Backend.cutouts`), handed to a `~astro_tesscut.writers.Writer` (memory, a
directory, a zip) together with the reasons for any sector without data
(`Fetched`). A `Wrapper` is a backend around another that changes how it
fetches: the verified cache, per-sector concurrency.

The implementations: MAST's TESScut service
(`~astro_tesscut.backends.service.MastService`, wrapped by
`~astro_tesscut.backends.cache.Cached` and
`~astro_tesscut.backends.per_sector.PerSector`), archives of FFI cubes on
disk or under a URL (`~astro_tesscut.backends.local.LocalArchive`,
`~astro_tesscut.backends.remote.RemoteArchive`), and TESS's pointing model,
for sectors alone (`~astro_tesscut.backends.pointing_model.PointingModel`).
Which one answers is decided once, in `astro_tesscut.backends.open`.
"""

import abc
from dataclasses import dataclass, field, replace

from ..exceptions import InvalidQueryError
from ..sky.pointing import ffi_sky, pointing_model

__all__ = ["SECTOR_COLUMNS", "Backend", "Fetched", "Request", "Wrapper"]

#: The columns every sector table starts with, in this order.
SECTOR_COLUMNS = ("sectorName", "sector", "camera", "ccd")


@dataclass(frozen=True)
class Request:
    """One request for cutouts, checked.

    Attributes
    ----------
    target : `~astro_tesscut.targets.Target`
        Resolved: a position, or a moving target where the backend follows them.
    size : `~astro_tesscut.sizes.CutoutSize`
        The cutouts' size.
    sectors : tuple of int or None
        These sectors, or (`None`) every sector that observed the target.
    time : `~astro_tesscut.targets.TimeWindow` or None
        Only the cadences within this window, or (`None`) every cadence.
    show_progress : bool
        Show progress bars (only ever on a terminal).
    progress : `~astro_tesscut.progress.TransferProgress` or None
        The bar a wrapper opened for a run of requests, which transfers count into.
    """

    target: object
    size: object
    sectors: tuple | None = None
    time: object = None
    show_progress: bool = False
    progress: object = None

    @property
    def sector(self):
        """The one sector asked for, or `None` for every sector; several are an error, for a
        backend that takes one at most (`~astro_tesscut.backends.per_sector.PerSector`
        splits them)."""
        if self.sectors is None:
            return None
        (sector,) = self.sectors
        return sector

    def of(self, sector, **changes):
        """This request for ``sector`` alone (`None`: every sector), with ``changes``."""
        return replace(self, sectors=None if sector is None else (sector,), **changes)


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
    def sector_table(self, target, radius):
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
    def cutouts(self, request, writer):
        """Cut the target pixel files of ``request`` and hand them to ``writer``.

        Parameters
        ----------
        request : `Request`
            What to cut.
        writer : `~astro_tesscut.writers.Writer`
            Where the files go; each answer is taken whole or not at all.

        Returns
        -------
        `Fetched`
        """

    def cache_identity(self, request):
        """What identifies the answer to ``request`` for the verified cache (a JSON-able
        dict), or `None`: the answers of this backend are not cached (the default:
        files made from cubes at hand cost less to make again than to keep)."""
        return None

    def sky_position(self, pixel):
        """ICRS RA and Dec (degrees) of ``pixel`` (a `~astro_tesscut.targets.FFIPixel`), for
        a cutout asked by pixel: by TESS's pointing model (a pixel or two off the FFIs'
        own WCS), unless the backend has the FFIs' own WCS.

        Raises
        ------
        InvalidQueryError
            The pointing model does not know the pixel's sector.
        """
        if pixel.sector not in pointing_model().sectors:
            raise InvalidQueryError(
                f"sector: TESS's pointing model does not know sector {pixel.sector}, so "
                "cannot place a pixel of it on the sky"
            )
        ra, dec = ffi_sky(pixel.column, pixel.row, pixel.sector, pixel.camera, pixel.ccd)
        return float(ra[0]), float(dec[0])

    def __repr__(self):
        return type(self).__name__


class Wrapper(Backend):
    """A backend around another (``inner``), changing how it fetches cutouts; what it does
    not change (the sectors, what it can do and cache), it asks ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def moving_targets(self):
        return self.inner.moving_targets

    def sector_table(self, target, radius):
        return self.inner.sector_table(target, radius)

    def cache_identity(self, request):
        return self.inner.cache_identity(request)

    def sky_position(self, pixel):
        return self.inner.sky_position(pixel)

    def __repr__(self):
        return f"{type(self).__name__}({self.inner!r})"
