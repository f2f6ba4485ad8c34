"""`TessCutClass`, the one API for TESS FFI cutouts, and its module-level instance `TessCut`."""

import contextlib
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .cache import CutoutCache
from .config import conf
from .exceptions import (
    InvalidQueryError,
    InvalidQueryTypeError,
    NoResultsWarning,
    PartialResultError,
    TessCutError,
)
from .files import (
    copy_cutouts,
    cutout_from_bytes,
    load_cutout,
    no_data_message,
    open_cutouts,
    save_archive,
    temporary_path,
    write_cutouts,
    write_files,
    write_zip,
)
from .progress import TransferProgress
from .service import MastService
from .sizes import parse_size
from .targets import parse_radius, parse_sector, parse_target

__all__ = ["TessCut", "TessCutClass"]


@dataclass(frozen=True)
class _NoData:
    """The service's "no data" answer for one request."""

    message: str


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
        self._archive = None
        if archive is not None:
            from .archive.source import is_url

            if is_url(archive):
                from .archive.remote import RemoteArchive

                self._archive = RemoteArchive(archive, storage_options=storage_options)
            else:
                from .archive.local import LocalArchive

                self._archive = LocalArchive(str(archive).removeprefix("file://"))

    def __repr__(self):
        if self._archive is not None:
            return f"<TessCutClass archive={self._archive!r}>"
        return f"<TessCutClass server={self._service.server!r}>"

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
        from astropy.table import Table

        target = parse_target(
            coordinates=coordinates,
            objectname=objectname,
            moving_target=moving_target,
            mt_type=mt_type,
        )
        if moving_target and radius is not None:
            raise InvalidQueryError("radius: not used with moving_target=True; leave it out")
        radius = parse_radius(radius)
        offline = _flag(offline, "offline") or self._archive is not None
        if offline:
            self._check_offline(target)
            return self._offline_sectors(self._resolved(target), radius)
        target = self._resolved(target)
        rows = self._sector_rows(target, radius)
        return Table(
            rows=rows or None,
            names=["sectorName", "sector", "camera", "ccd"],
            dtype=[str, int, int, int],
        )

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
        if self._archive is not None:
            self._check_offline(target)
            files = self._local_cutouts(self._resolved(target), size, sector, show_progress)
            return [cutout_from_bytes(name, data) for name, data in files]
        target = self._resolved(target)

        def fetch(sector, progress):
            if use_cache:
                files = self._cached_files(target, size, sector, progress)
                return files if isinstance(files, _NoData) else [load_cutout(p) for p in files]
            payload = io.BytesIO()
            self._service.fetch_cutouts(target, size, sector, payload, progress=progress)
            message = no_data_message(payload)
            return _NoData(message) if message is not None else open_cutouts(payload)

        return self._per_sector(target, sector, fetch, show_progress)

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
        use_cache = _flag(cache, "cache", default=conf.cache) and inflate
        _flag(show_progress, "show_progress")
        directory = _output_directory(path)
        if self._archive is not None:
            self._check_offline(target)
        target = self._resolved(target)
        directory.mkdir(parents=True, exist_ok=True)
        zip_name = f"tesscut_{target.label}_{size.label}"
        if self._archive is not None:
            files = self._local_cutouts(target, size, sector, show_progress)
            if not files:
                paths = []
            elif inflate:
                paths = write_files(files, directory)
            else:
                suffix = f"_s{sector:04d}.zip" if sector is not None else ".zip"
                paths = [write_zip(files, directory / (zip_name + suffix))]
            return Table([[str(p) for p in paths]], names=["Local Path"], dtype=[str])

        def fetch(sector, progress):
            if use_cache:
                files = self._cached_files(target, size, sector, progress)
                return files if isinstance(files, _NoData) else copy_cutouts(files, directory)
            with self._fetch_archive(target, size, sector, directory, progress) as archive:
                if isinstance(archive, _NoData):
                    return archive
                if inflate:
                    return write_cutouts(archive, directory)
                suffix = f"_s{sector:04d}.zip" if sector is not None else ".zip"
                return [save_archive(archive, directory / (zip_name + suffix))]

        paths = self._per_sector(target, sector, fetch, show_progress)
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

    def _check_offline(self, target):
        if target.moving:
            raise InvalidQueryError(
                "moving_target: offline, sectors and cutouts are for fixed positions only; a "
                "moving target's path needs the TESScut service"
            )

    def _offline_sectors(self, target, radius):
        if self._archive is not None:
            table = self._archive.sectors(target.coord, radius)
        else:
            from .archive.geometry import locate

            table = locate(target.coord, radius=radius)
            table.remove_column("target")
        if not len(table):
            warnings.warn(
                f"no TESS sector observed {_describe(target)}", NoResultsWarning, stacklevel=3
            )
        return table

    def _local_cutouts(self, target, size, sector, show_progress):
        files, missing = self._archive.cutouts(
            target.coord, size, sector, show_progress=show_progress
        )
        if missing:
            warnings.warn(
                f"{len(missing)} cube(s) that could hold {_describe(target)} are missing: "
                + "; ".join(missing),
                NoResultsWarning,
                stacklevel=3,
            )
        if not files:
            where = f"sector {sector}" if sector is not None else "any sector"
            warnings.warn(
                f"no cutout data: {self._archive!r} holds no cube or FFIs of {where} covering "
                f"{_describe(target)}",
                NoResultsWarning,
                stacklevel=3,
            )
        return files

    def _sector_rows(self, target, radius):
        rows = sorted(self._service.sectors(target, radius), key=lambda row: row[1:])
        if not rows:
            warnings.warn(
                f"no TESS sector observed {_describe(target)}", NoResultsWarning, stacklevel=3
            )
        return rows

    def _per_sector(self, target, sector, fetch, show_progress):
        """Run ``fetch(sector, progress)`` for the requested sector(s) and gather the results.

        With no ``sector`` and more than one worker, the target's sectors are
        looked up and fetched one request each, concurrently; otherwise one
        request covers everything. ``fetch`` returns a list, or `_NoData`.
        """
        workers = int(conf.max_workers)
        if workers < 1:
            raise InvalidQueryError(f"conf.max_workers: must be 1 or more, got {workers}")
        if sector is not None or workers == 1:
            sectors = [sector]
        else:
            from astropy.coordinates import Angle

            sectors = sorted({row[1] for row in self._sector_rows(target, Angle(0, "deg"))})
            if not sectors:
                return []

        def guarded(sector):
            try:
                return fetch(sector, progress)
            except TessCutError as exc:  # one sector's failure must not cost the others
                return exc
            finally:
                progress.finished_one()

        with TransferProgress(show=show_progress, requests=len(sectors)) as progress:
            if len(sectors) == 1:
                outcomes = [guarded(sectors[0])]
            else:
                with ThreadPoolExecutor(min(workers, len(sectors))) as pool:
                    outcomes = list(pool.map(guarded, sectors))

        results, failures, messages = [], {}, []
        for number, outcome in zip(sectors, outcomes, strict=True):
            if isinstance(outcome, Exception):
                failures[number] = outcome
            elif isinstance(outcome, _NoData):
                messages.append(outcome.message)
            else:
                results.extend(outcome)
        if messages:
            warnings.warn(f"no cutout data: {'; '.join(messages)}", NoResultsWarning, stacklevel=3)
        if failures and len(sectors) == 1:
            raise failures[sectors[0]]
        if failures:
            raise PartialResultError(results, failures)
        return results

    def _cached_files(self, target, size, sector, progress):
        """The verified files of a request from the cache, fetched and stored on a miss."""
        key = self._cache.key(*self._service.cutout_request(target, size, sector))
        found = self._cache.lookup(key)
        if found is not None:
            return found
        with self._fetch_archive(target, size, sector, self._cache.incoming(), progress) as archive:
            if isinstance(archive, _NoData):
                return archive
            return self._cache.store(key, archive)

    @contextlib.contextmanager
    def _fetch_archive(self, target, size, sector, directory, progress):
        """Stream a cutout answer to a temporary file in ``directory``.

        Yields its path, or `_NoData`; the file is gone on leaving unless it
        was renamed away.
        """
        with temporary_path(directory, "tesscut.zip") as payload_path:
            with open(payload_path, "xb") as sink:
                self._service.fetch_cutouts(target, size, sector, sink, progress=progress)
            with open(payload_path, "rb") as payload:
                message = no_data_message(payload)
            yield payload_path if message is None else _NoData(message)


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


def _describe(target):
    if target.moving:
        return f"moving target {target.name!r}"
    if target.name:
        return f"{target.name!r} ({target.coord.to_string('decimal', precision=6)})"
    return f"RA, Dec = {target.coord.to_string('decimal', precision=6)}"


TessCut = TessCutClass()
"""The module-level `TessCutClass`, configured by `astro_tesscut.conf`."""
