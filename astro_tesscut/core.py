"""`TessCutClass`, the one API for TESS FFI cutouts, and its module-level instance `TessCut`."""

import functools
import warnings
from pathlib import Path

from .backend import open_backend
from .cache import CutoutCache
from .config import conf
from .exceptions import InvalidQueryError, InvalidQueryTypeError, NoResultsWarning
from .files import sweep_stale
from .interrupt import stopping_on_interrupt
from .service import MastService
from .sizes import parse_size
from .targets import parse_radius, parse_sector, parse_target
from .writers import AsZip, InMemory, IntoDirectory

__all__ = ["TessCut", "TessCutClass"]


def _interruptible(method):
    """Run ``method`` so that an interrupt stops the package's threads working for it too."""

    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        with stopping_on_interrupt():
            return method(*args, **kwargs)

    return wrapped


class TessCutClass:
    """Cutouts of TESS full-frame images (FFIs), from MAST's TESScut service.

    Every method checks all its arguments before sending any request, and
    raises `~astro_tesscut.InvalidQueryError` (a `ValueError`) or
    `~astro_tesscut.InvalidQueryTypeError` (also a `TypeError`) naming the
    argument at fault.

    When no ``sector`` is given, cutouts are fetched one request per sector,
    ``conf.max_workers`` at a time; a sector that fails for good does not
    cost the others (see `~astro_tesscut.PartialResultError`). Transient
    failures (connection errors, timeouts, HTTP 429 and 5xx) are retried
    with exponential backoff. Verified cutouts are kept in an on-disk cache
    and reused for the same request.

    Parameters
    ----------
    server : str, optional
        Base URL of the TESScut API; ``conf.server`` by default.
    resolver_server : str, optional
        URL of MAST's name resolver; ``conf.resolver_server`` by default.
    timeout : float, optional
        Seconds to wait for an answer; ``conf.timeout`` by default.
    cache_dir : str or path-like, optional
        Directory of the cutout cache; ``conf.cache_dir`` by default.
    archive : str or path-like, optional
        Work from FFI cubes instead of the TESScut service: a directory of
        cubes and/or FFIs (`~astro_tesscut.archive.local.LocalArchive`), or a
        URL prefix of cubes named as MAST names them, such as
        ``"s3://stpubdata/tess/public/mast/"``
        (`~astro_tesscut.archive.remote.RemoteArchive`). Sectors come from
        TESS's pointing model, cutouts from the cubes, in TESScut's format.
    storage_options : dict, optional
        With a URL ``archive``: fsspec options, passed on unchanged (e.g.
        ``{"anon": True}``, or an endpoint URL and credentials).

    Examples
    --------
    >>> from astro_tesscut import TessCut
    >>> sectors = TessCut.query_sectors(objectname="TIC 261136679")  # doctest: +REMOTE_DATA
    >>> cutouts = TessCut.get_cutouts(coordinates="84.29119 -80.46912",
    ...                               size=(45, 35), sector=1)  # doctest: +REMOTE_DATA
    """

    def __init__(
        self,
        *,
        server=None,
        resolver_server=None,
        timeout=None,
        cache_dir=None,
        archive=None,
        storage_options=None,
    ):
        self._service = MastService(server=server, resolver_server=resolver_server, timeout=timeout)
        self._cache = CutoutCache(cache_dir)
        self._positions = {}  # object name -> resolved SkyCoord
        # The backends this client answers with, chosen once: for pixels, and for sector
        # queries made offline (the same one when an archive is given).
        self._backend, self._offline_backend = (
            open_backend(
                archive, storage_options, offline=offline, service=self._service, cache=self._cache
            )
            for offline in (False, True)
        )

    def __repr__(self):
        return f"<TessCutClass {self._backend!r}>"

    @_interruptible
    def query_sectors(
        self,
        *,
        coordinates=None,
        objectname=None,
        radius=None,
        moving_target=False,
        mt_type=None,
        offline=False,
    ):
        """List the TESS sectors, cameras and CCDs that observed a target.

        Parameters
        ----------
        coordinates : str, `~astropy.coordinates.SkyCoord` or (ra, dec), optional
            The position: ``"84.29119 -80.46912"`` (degrees), sexagesimal, a
            scalar `~astropy.coordinates.SkyCoord` in any frame, or a pair of
            degrees. Give this or ``objectname``.
        objectname : str, optional
            A name MAST's resolver knows (``"Pi Men"``, ``"TIC 261136679"``),
            or with ``moving_target`` the JPL Horizons name or id of a
            solar-system body.
        radius : float, str or `~astropy.units.Quantity`, optional
            Also list sectors that observed anything within this angle of
            the position (a number is in degrees). Zero by default. Not
            used with ``moving_target``.
        moving_target : bool, optional
            ``objectname`` names an asteroid, comet or planet; its sectors
            are found along its path.
        mt_type : {'majorbody', 'smallbody'}, optional
            The kind of moving target; by default the service tries both.
        offline : bool, optional
            Compute the sectors from TESS's pointing model (tess-point)
            instead of asking the service; always so with an ``archive``.
            Names are still resolved through MAST; moving targets need the
            service.

        Returns
        -------
        `~astropy.table.Table`
            One row per sector, camera and CCD, sorted by sector, with
            columns ``sectorName`` (str), ``sector``, ``camera``, ``ccd``
            (int). Offline, also ``column`` and ``row`` (the target's 1-based
            FFI pixel, collateral pixels included) and ``released`` (False
            while the sector's data may not be public yet: planned sectors
            and those ended less than 60 days ago); with an archive,
            ``available`` (its cube or FFIs are in the archive). Empty, with a
            `~astro_tesscut.NoResultsWarning`, when nothing observed the
            target.
        """
        target = parse_target(
            coordinates=coordinates,
            objectname=objectname,
            moving_target=moving_target,
            mt_type=mt_type,
        )
        if moving_target and radius is not None:
            raise InvalidQueryError("radius: not used with moving_target=True; leave it out")
        radius = parse_radius(radius)
        backend = self._offline_backend if _flag(offline, "offline") else self._backend
        target = self._ready(target, backend)
        table = backend.sectors(target, radius)
        if not len(table):
            warnings.warn(
                f"no TESS sector observed {target.description}", NoResultsWarning, stacklevel=2
            )
        return table

    @_interruptible
    def query_tic(self, *, coordinates=None, objectname=None, radius=None):
        """Find a target's neighbours in the TESS Input Catalog (TIC).

        Parameters
        ----------
        coordinates, objectname
            The target, as for `query_sectors` (``objectname="TIC
            261136679"`` for a TIC ID).
        radius : float, str or `~astropy.units.Quantity`, optional
            The search radius (a number is in degrees); 5 arcmin by default.

        Returns
        -------
        `~astropy.table.Table`
            The TIC entries in the cone, nearest first, with every column
            MAST serves (``ID``, ``Tmag``, ``Jmag``, ``ra``, ``dec``,
            ``objType``, ...) and ``distance`` from the target in arcsec.
            Empty, with a `~astro_tesscut.NoResultsWarning`, when the cone
            holds no entry.
        """
        from .catalog import query_tic

        target = parse_target(coordinates=coordinates, objectname=objectname)
        radius = parse_radius("5 arcmin" if radius is None else radius)
        if radius.deg == 0:
            raise InvalidQueryError("radius: must be larger than zero for a cone search")
        return query_tic(self._resolved(target).coord, radius)

    @_interruptible
    def get_cutouts(
        self,
        *,
        coordinates=None,
        objectname=None,
        size=5,
        sector=None,
        moving_target=False,
        mt_type=None,
        cache=None,
        show_progress=True,
    ):
        """Cut target pixel files out of the FFIs and return them in memory.

        Parameters
        ----------
        coordinates, objectname, moving_target, mt_type
            The target, as for `query_sectors`.
        size : int, (ny, nx), or `~astropy.units.Quantity`, optional
            A square side, or ``(ny, nx)`` rows and columns, in pixels when
            plain numbers; a `~astropy.units.Quantity` in pixels or any
            angle. 5 pixels by default.
        sector : int, optional
            Only this sector; every sector that observed the target by
            default.
        cache : bool, optional
            Reuse and keep verified cutouts in the on-disk cache;
            ``conf.cache`` by default.
        show_progress : bool, optional
            Show a progress bar (only ever on a terminal).

        Returns
        -------
        list of `~astropy.io.fits.HDUList`
            One target pixel file per sector, camera and CCD, sorted by
            sector; ``hdul.filename()`` is the name the service gave it.
            Empty, with a `~astro_tesscut.NoResultsWarning`, when there is
            no data.

        Raises
        ------
        `~astro_tesscut.ServiceError`
            The request failed for good (after retries).
        `~astro_tesscut.PartialResultError`
            Some sectors failed for good; those that arrived are in its
            ``results``.
        """
        target, size, sector = self._check_cutout_request(
            coordinates, objectname, size, sector, moving_target, mt_type
        )
        use_cache = _flag(cache, "cache", default=conf.cache)
        _flag(show_progress, "show_progress")
        target = self._ready(target, self._backend)
        return self._cutouts(target, size, sector, InMemory(), use_cache, show_progress)

    @_interruptible
    def download_cutouts(
        self,
        *,
        coordinates=None,
        objectname=None,
        size=5,
        sector=None,
        path=".",
        inflate=True,
        moving_target=False,
        mt_type=None,
        cache=None,
        show_progress=True,
    ):
        """Cut target pixel files out of the FFIs and write them to disk.

        Files appear under their final names only once they are complete and
        read back as FITS; a failed download leaves no partial file and does
        not touch files already there. Answers stream to disk, never whole
        into memory.

        Parameters
        ----------
        coordinates, objectname, moving_target, mt_type
            The target, as for `query_sectors`.
        size, sector, cache, show_progress
            As for `get_cutouts`.
        path : str or path-like, optional
            Directory to write into (made if missing); the current
            directory by default.
        inflate : bool, optional
            Write the target pixel files (the default), or keep each zip
            archive as the service sent it (never cached), named
            ``tesscut_<RA>_<Dec>_<x>x<y>[_s<sector>].zip``.

        Returns
        -------
        `~astropy.table.Table`
            Column ``Local Path``: the files written, sorted by sector. Empty,
            with a `~astro_tesscut.NoResultsWarning`, when there is no data.

        Raises
        ------
        `~astro_tesscut.ServiceError`, `~astro_tesscut.PartialResultError`
            As for `get_cutouts`; the files of the sectors that arrived stay
            written.
        """
        from astropy.table import Table

        target, size, sector = self._check_cutout_request(
            coordinates, objectname, size, sector, moving_target, mt_type
        )
        inflate = _flag(inflate, "inflate")
        use_cache = _flag(cache, "cache", default=conf.cache)
        _flag(show_progress, "show_progress")
        directory = _output_directory(path)
        target = self._ready(target, self._backend)
        directory.mkdir(parents=True, exist_ok=True)
        sweep_stale(directory)  # what a killed run of ours left
        writer = (
            IntoDirectory(directory)
            if inflate
            else AsZip(directory, f"tesscut_{target.label}_{size.label}")
        )
        paths = self._cutouts(target, size, sector, writer, use_cache, show_progress)
        return Table([[str(p) for p in paths]], names=["Local Path"], dtype=[str])

    def clear_cache(self):
        """Remove every cutout from this client's on-disk cache."""
        self._cache.clear()

    def _check_cutout_request(self, coordinates, objectname, size, sector, moving_target, mt_type):
        target = parse_target(
            coordinates=coordinates,
            objectname=objectname,
            moving_target=moving_target,
            mt_type=mt_type,
        )
        return target, parse_size(size), parse_sector(sector)

    def _resolved(self, target):
        """``target`` with its position, asking the name resolver once per name."""
        if not target.needs_resolving:
            return target
        if target.name not in self._positions:
            self._positions[target.name] = self._service.resolve(target.name)
        return target.at(self._positions[target.name])

    def _ready(self, target, backend):
        """``target`` with its position, once ``backend`` is known to answer for it."""
        if target.moving and not backend.moving_targets:
            raise InvalidQueryError(
                "moving_target: offline, sectors and cutouts are for fixed positions only; a "
                "moving target's path needs the TESScut service"
            )
        return self._resolved(target)

    def _cutouts(self, target, size, sector, writer, use_cache, show_progress):
        """Ask the backend for the cutouts of a checked request; warn of sectors without data."""
        fetched = self._backend.cutouts(
            target, size, sector, writer, cache=use_cache, show_progress=show_progress
        )
        if fetched.no_data:
            warnings.warn(
                f"no cutout data: {'; '.join(fetched.no_data)}", NoResultsWarning, stacklevel=3
            )
        return fetched.results


def _flag(value, argument, *, default=None):
    if value is None and default is not None:
        return bool(default)
    if not isinstance(value, bool):
        raise InvalidQueryTypeError(f"{argument}: must be True or False, got {value!r}")
    return value


def _output_directory(path):
    try:
        directory = Path(path)
    except TypeError as exc:
        raise InvalidQueryTypeError(f"path: must be a directory path, got {path!r}") from exc
    if directory.exists() and not directory.is_dir():
        raise InvalidQueryError(f"path: {str(directory)!r} exists and is not a directory")
    return directory


TessCut = TessCutClass()
"""The module-level `TessCutClass`, configured by `astro_tesscut.conf`."""
