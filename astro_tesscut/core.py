"""`TessCutClass`, the one API for TESS FFI cutouts, and its module-level instance `TessCut`."""

import functools
import warnings
from pathlib import Path

from astropy.utils.exceptions import AstropyDeprecationWarning

from .backends.base import Request
from .config import conf, seconds
from .exceptions import (
    InvalidQueryError,
    InvalidQueryTypeError,
    NoResultsWarning,
    TessCutWarning,
)
from .files import sweep_stale
from .interrupt import stopping_on_interrupt
from .resolver import parse_resolver
from .session import archive_session, offline_session, online_session
from .sizes import parse_size
from .targets import (
    FFIPixel,
    Target,
    parse_coordinates,
    parse_pixel,
    parse_radius,
    parse_sectors,
    parse_target,
    parse_time,
)
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

    The calls of astroquery's ``Tesscut`` (0.4.11 and 0.4.12) work here
    unchanged: `~astro_tesscut.TessCutClass.get_sectors`,
    `~astro_tesscut.TessCutClass.get_cutouts` and
    `~astro_tesscut.TessCutClass.download_cutouts` take its
    arguments (``object_name``, ``resolver``, ``product``, ``verbose``, lists
    of sectors) with the same meaning.

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
        cubes and/or FFIs, or a URL prefix of cubes named as MAST names
        them, such as ``"s3://stpubdata/tess/public/mast/"``. Sectors come from
        TESS's pointing model, cutouts from the cubes, in TESScut's format.
        Every call is then offline (as with ``offline=True``): no request
        goes to MAST, names included.
    storage_options : dict, optional
        With a URL ``archive``: fsspec options, passed on unchanged (e.g.
        ``{"anon": True}``, or an endpoint URL and credentials).

    Notes
    -----
    Offline (``offline=True``, or a client with an ``archive``), object
    names are looked up only in the few TIC rows bundled with the package
    (Pi Mensae and its neighbours: ``"Pi Men"``, ``"TIC 261136679"``, ...);
    any other name is an `~astro_tesscut.InvalidQueryError` at once, with no
    request sent: give its coordinates instead.

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
        # What this client works with, chosen once (see astro_tesscut.session).
        if timeout is not None:
            seconds(timeout, "timeout")
        if archive is None:
            self._session = online_session(
                server=server, resolver_server=resolver_server, timeout=timeout, cache_dir=cache_dir
            )
        else:
            self._session = archive_session(archive, storage_options)
        self._offline_session = None  # for calls with offline=True: made on the first

    def __repr__(self):
        return f"<TessCutClass {self._session.cutouts_cached or self._session.sectors!r}>"

    @_interruptible
    def query_sectors(
        self,
        *,
        coordinates=None,
        objectname=None,
        object_name=None,
        radius=None,
        moving_target=False,
        mt_type=None,
        resolver=None,
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
            solar-system body. Offline, only the names of the bundled TIC
            rows (see the class's notes).
        object_name : str, optional
            ``objectname`` as astroquery 0.4.12 spells it; give one of them.
        radius : float, str or `~astropy.units.Quantity`, optional
            Also list sectors that observed anything within this angle of
            the position (a number is in degrees). Zero by default. Not
            used with ``moving_target``.
        moving_target : bool, optional
            ``objectname`` names an asteroid, comet or planet; its sectors
            are found along its path.
        mt_type : {'majorbody', 'smallbody'}, optional
            The kind of moving target (``'major_body'`` and ``'small_body'``
            too); by default the service tries both.
        resolver : {'SIMBAD', 'NED'}, optional
            The resolver MAST's name resolver asks for ``objectname``; by
            default its own order (TIC IDs from the TIC). Only online; ignored,
            with a `~astro_tesscut.TessCutWarning`, for coordinates and
            moving targets.
        offline : bool, optional
            Send nothing anywhere: compute the sectors from TESS's pointing
            model (tess-point) instead of asking the service, and look names
            up in the bundled TIC rows only; always so with an ``archive``.
            Moving targets need the service.

        Returns
        -------
        `~astropy.table.Table`
            One row per sector, camera and CCD, sorted by sector, with
            columns ``sectorName`` (str), ``sector``, ``camera``, ``ccd``
            (int). Offline, also ``column`` and ``row`` (the target's 1-based
            FFI pixel, collateral pixels included) and ``released`` (False
            while the sector's data may not be public yet: planned sectors
            and those ended less than 45 days ago); with an archive,
            ``available`` (its cube or FFIs are in the archive). Empty, with a
            `~astro_tesscut.NoResultsWarning`, when nothing observed the
            target.
        """
        target, resolver = _check_target(
            coordinates, objectname, object_name, moving_target, mt_type, resolver
        )
        if moving_target and radius is not None:
            raise InvalidQueryError("radius: not used with moving_target=True; leave it out")
        return self._sectors(target, parse_radius(radius), resolver, offline)

    @_interruptible
    def get_sectors(
        self,
        *,
        coordinates=None,
        radius=None,
        product=None,
        objectname=None,
        object_name=None,
        moving_target=False,
        mt_type=None,
        resolver=None,
        offline=False,
    ):
        """`query_sectors` under astroquery's name, taking astroquery's arguments.

        The same table as `query_sectors` for the same target. As in
        astroquery, ``radius`` is ignored for a moving target (with a
        `~astro_tesscut.TessCutWarning` when it is not zero).

        Parameters
        ----------
        coordinates, radius, objectname, object_name, moving_target, mt_type, resolver, offline
            As for `query_sectors`.
        product : str, optional
            Deprecated (as in astroquery 0.4.11): only ``"SPOC"``, with an
            `~astropy.utils.exceptions.AstropyDeprecationWarning`; leave it
            out. TICA products were withdrawn from TESScut.

        Returns
        -------
        `~astropy.table.Table`
            As `query_sectors` returns.
        """
        _check_product(product)
        target, resolver = _check_target(
            coordinates, objectname, object_name, moving_target, mt_type, resolver
        )
        radius = parse_radius(radius)
        if moving_target and radius.deg:
            warnings.warn(
                f"radius: not used with moving_target=True; {radius.deg:g} deg ignored",
                TessCutWarning,
                stacklevel=3,
            )
        return self._sectors(target, radius, resolver, offline)

    @_interruptible
    def query_tic(
        self,
        *,
        coordinates=None,
        objectname=None,
        object_name=None,
        radius=None,
        resolver=None,
        offline=False,
    ):
        """Find a target's neighbours in the TESS Input Catalog (TIC).

        Parameters
        ----------
        coordinates, objectname, object_name, resolver
            The target, as for `query_sectors` (``objectname="TIC
            261136679"`` for a TIC ID).
        radius : float, str or `~astropy.units.Quantity`, optional
            The search radius (a number is in degrees); 5 arcmin by default.
        offline : bool, optional
            Send nothing anywhere: search only the few TIC rows bundled with
            the package (every entry within 5 arcmin of Pi Mensae), and look
            names up in them too; always so with an ``archive``. A cone that
            reaches beyond them comes with a `~astro_tesscut.TessCutWarning`
            (some rows) or a `~astro_tesscut.NoResultsWarning` (none) saying
            so.

        Returns
        -------
        `~astropy.table.Table`
            The TIC entries in the cone, nearest first, with every column
            MAST serves (``ID``, ``Tmag``, ``Jmag``, ``ra``, ``dec``,
            ``objType``, ...) and ``distance`` from the target in arcsec
            (offline: ``ID``, ``name``, ``ra``, ``dec``, ``Tmag``, ``Jmag``,
            ``objType``, ``distance``). Empty, with a
            `~astro_tesscut.NoResultsWarning`, when the cone holds no entry.
        """
        target, resolver = _check_target(
            coordinates, objectname, object_name, False, None, resolver
        )
        radius = parse_radius("5 arcmin" if radius is None else radius)
        if radius.deg == 0:
            raise InvalidQueryError("radius: must be larger than zero for a cone search")
        session = self._session_for(offline)
        return session.tic(self._resolved(target, session, resolver).coord, radius)

    @_interruptible
    def get_cutouts(
        self,
        *,
        coordinates=None,
        objectname=None,
        object_name=None,
        size=5,
        sector=None,
        pixel=None,
        camera=None,
        ccd=None,
        time=None,
        product=None,
        moving_target=False,
        mt_type=None,
        resolver=None,
        offline=False,
        cache=None,
        show_progress=True,
    ):
        """Cut target pixel files out of the FFIs and return them in memory.

        Parameters
        ----------
        coordinates, objectname, object_name, moving_target, mt_type, resolver
            The target, as for `query_sectors`.
        size : int, (ny, nx), or `~astropy.units.Quantity`, optional
            A square side, or ``(ny, nx)`` rows and columns, in pixels when
            plain numbers; a `~astropy.units.Quantity` in pixels or any
            angle. 5 pixels by default.
        sector : int or list of int, optional
            Only this sector, or these (``[28, 68]``: one request each, in
            order, duplicates dropped); every sector that observed the
            target by default.
        pixel : (column, row), optional
            Instead of a target, the centre of the cutout as a 1-based pixel
            of the FFI of ``sector`` (one), ``camera`` and ``ccd``, collateral
            pixels included, as a target pixel file's ``1CRV4P`` and
            ``2CRV4P`` count them. An archive places it by its cube's WCS;
            the service is sent its sky position by TESS's pointing model (a
            pixel or two off). The cutout is that of the pixel's position, as
            for ``coordinates``.
        camera, ccd : int, optional
            The camera and CCD (1 to 4) of ``pixel``.
        time : (start, stop), optional
            Only the cadences whose mid-time lies within this window: two
            `~astropy.time.Time` (taken as TDB), or two numbers in BTJD
            (BJD - 2457000, as the files' ``TIME`` counts). Archives read
            only those cadences; the service has no such parameter, so its
            answer is cut to the window once it arrives. A sector with no
            cadence in the window is one without data.
        product : str, optional
            Deprecated, as for `get_sectors`.
        offline : bool, optional
            Send nothing to MAST: cut from this client's ``archive``, or
            without one from ``conf.archive`` (an error when neither is
            set), and look names up in the bundled TIC rows only. Always so
            with an ``archive``.
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
        _check_product(product)
        size, sectors, window = parse_size(size), parse_sectors(sector), parse_time(time)
        target, resolver = _check_target(
            coordinates, objectname, object_name, moving_target, mt_type, resolver,
            pixel=(pixel, camera, ccd, sectors),
        )  # fmt: skip
        use_cache = _flag(cache, "cache", default=conf.cache)
        show_progress = _flag(show_progress, "show_progress")
        session = self._session_for(offline)
        backend = session.cutter(cache=use_cache)
        target = self._ready(target, backend, session, resolver)
        request = Request(target, size, sectors, window, show_progress=show_progress)
        return self._cutouts(backend, request, InMemory())

    @_interruptible
    def download_cutouts(
        self,
        *,
        coordinates=None,
        objectname=None,
        object_name=None,
        size=5,
        sector=None,
        pixel=None,
        camera=None,
        ccd=None,
        time=None,
        product=None,
        path=".",
        inflate=True,
        moving_target=False,
        mt_type=None,
        resolver=None,
        offline=False,
        cache=None,
        show_progress=True,
        verbose=False,
    ):
        """Cut target pixel files out of the FFIs and write them to disk.

        Files appear under their final names only once they are complete and
        read back as FITS; a failed download leaves no partial file and does
        not touch files already there. Answers stream to disk, never whole
        into memory.

        Parameters
        ----------
        coordinates, objectname, object_name, moving_target, mt_type, resolver
            The target, as for `query_sectors`.
        size, sector, pixel, camera, ccd, time, product, offline, cache, show_progress
            As for `get_cutouts`.
        path : str or path-like, optional
            Directory to write into (made if missing); the current
            directory by default.
        inflate : bool, optional
            Write the target pixel files (the default), or keep each zip
            archive as the service sent it (never cached), one per request,
            named ``tesscut_<RA>_<Dec>_<x>x<y>[_s<sector>].zip``.
        verbose : bool, optional
            Print the path of each file written, one a line.

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

        _check_product(product)
        size, sectors, window = parse_size(size), parse_sectors(sector), parse_time(time)
        target, resolver = _check_target(
            coordinates, objectname, object_name, moving_target, mt_type, resolver,
            pixel=(pixel, camera, ccd, sectors),
        )  # fmt: skip
        inflate = _flag(inflate, "inflate")
        use_cache = _flag(cache, "cache", default=conf.cache)
        show_progress = _flag(show_progress, "show_progress")
        verbose = _flag(verbose, "verbose")
        directory = _output_directory(path)
        session = self._session_for(offline)
        backend = session.cutter(cache=use_cache)
        target = self._ready(target, backend, session, resolver)
        directory.mkdir(parents=True, exist_ok=True)
        sweep_stale(directory)  # what a killed run of ours left
        writer = (
            IntoDirectory(directory)
            if inflate
            else AsZip(directory, f"tesscut_{target.label}_{size.label}")
        )
        request = Request(target, size, sectors, window, show_progress=show_progress)
        paths = [str(p) for p in self._cutouts(backend, request, writer)]
        if verbose:
            for written in paths:
                print(written)
        return Table([paths], names=["Local Path"], dtype=[str])

    def clear_cache(self):
        """Remove every cutout from this client's on-disk cache (a client of an archive has
        none)."""
        if self._session.cache is not None:
            self._session.cache.clear()

    def _session_for(self, offline):
        """The session a call with ``offline`` works in: this client's, or for an offline
        call of an online client the offline one (cutting from ``conf.archive``, read
        now)."""
        if not _flag(offline, "offline") or self._session.offline:
            return self._session
        archive = conf.archive or None
        if self._offline_session is None or self._offline_session.archive != archive:
            self._offline_session = offline_session(archive)
        return self._offline_session

    def _sectors(self, target, radius, resolver, offline):
        """The sector table of a checked target; warn when nothing observed it."""
        session = self._session_for(offline)
        target = self._ready(target, session.sectors, session, resolver)
        table = session.sectors.sector_table(target, radius)
        if not len(table):
            warnings.warn(
                f"no TESS sector observed {target.description}", NoResultsWarning, stacklevel=4
            )
        return table

    @staticmethod
    def _resolved(target, session, resolver, backend=None):
        """``target`` with its position: its name looked up where ``session`` looks names up,
        its FFI pixel placed by ``backend``."""
        if isinstance(target, FFIPixel):
            ra, dec = backend.sky_position(target)
            position = parse_coordinates((ra, dec))
            return Target(coord=position, name=target.description, pixel=target)
        if not target.needs_resolving:
            return target
        return target.at(session.names.position(target.name, resolver=resolver))

    def _ready(self, target, backend, session, resolver):
        """``target`` with its position, once ``backend`` is known to answer for it."""
        if getattr(target, "moving", False) and not backend.moving_targets:
            raise InvalidQueryError(
                "moving_target: offline, sectors and cutouts are for fixed positions only; a "
                "moving target's path needs the TESScut service"
            )
        return self._resolved(target, session, resolver, backend)

    @staticmethod
    def _cutouts(backend, request, writer):
        """Ask ``backend`` for the cutouts of a checked request; warn of sectors without
        data."""
        fetched = backend.cutouts(request, writer)
        if fetched.no_data:
            warnings.warn(
                f"no cutout data: {'; '.join(fetched.no_data)}", NoResultsWarning, stacklevel=4
            )
        return fetched.results


def _check_target(
    coordinates, objectname, object_name, moving_target, mt_type, resolver, *, pixel=None
):
    """The checked target and resolver of a call; a resolver with nothing to resolve is
    ignored, with a warning, as astroquery ignores it. ``pixel`` is (pixel, camera, ccd,
    sectors) of a cutout asked by FFI pixel, whose target is an
    `~astro_tesscut.targets.FFIPixel`."""
    if pixel is not None and any(value is not None for value in pixel[:3]):
        pixel, camera, ccd, sectors = pixel
        given = [
            name
            for name, value in (
                ("coordinates", coordinates),
                ("objectname", objectname),
                ("object_name", object_name),
                ("moving_target", moving_target or None),
                ("mt_type", mt_type),
                ("resolver", resolver),
            )
            if value is not None
        ]
        if pixel is None:
            missing = "camera" if camera is not None else "ccd"
            raise InvalidQueryError(f"{missing}: only with pixel=, for a cutout by FFI pixel")
        if given:
            raise InvalidQueryError(
                f"pixel, {given[0]}: a cutout is centred on a target or on a pixel; give one"
            )
        return parse_pixel(pixel, sectors=sectors, camera=camera, ccd=ccd), None
    target = parse_target(
        coordinates=coordinates,
        objectname=objectname,
        object_name=object_name,
        moving_target=moving_target,
        mt_type=mt_type,
    )
    resolver = parse_resolver(resolver)
    if resolver is not None and not target.needs_resolving:
        warnings.warn(
            "resolver: only used to resolve the name of a fixed target; ignored with "
            f"{'moving_target=True' if target.moving else 'coordinates'}",
            TessCutWarning,
            stacklevel=4,
        )
        return target, None
    return target, resolver


def _check_product(product):
    """astroquery 0.4.11's deprecated ``product``: only ``"SPOC"``, with a warning."""
    if product is None:
        return
    if not isinstance(product, str):
        raise InvalidQueryTypeError(
            f"product: only 'SPOC' (or leave it out), got {type(product).__name__}"
        )
    if product.strip().upper() != "SPOC":
        raise InvalidQueryError(
            f"product: only 'SPOC' (the default; leave it out), got {product!r}: TICA cutouts "
            "were withdrawn from TESScut"
        )
    warnings.warn(
        "product: deprecated (as in astroquery 0.4.11) and will be removed: TESScut cuts only "
        "SPOC FFIs; leave it out",
        AstropyDeprecationWarning,
        stacklevel=4,
    )


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
