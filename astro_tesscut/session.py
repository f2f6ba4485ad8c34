"""What a client works with, chosen once from what it was given.

A `Session` holds a client's backends (for cutouts, with and without the
cache, and for sector tables), where its object names come from and where
its TIC neighbours come from. `TessCutClass` builds one from its arguments
(`online_session` or `archive_session`) and, for calls with
``offline=True``, uses a second one (`offline_session`); nothing below it
asks again which backend answers.
"""

from dataclasses import dataclass

from .backends.cache import CutoutCache
from .backends.open import open_archive, service_chain
from .backends.pointing_model import PointingModel
from .backends.service import MastService
from .catalog import TicCatalog, query_bundled_tic
from .exceptions import InvalidQueryError
from .resolver import OfflineNames, OnlineNames

__all__ = ["Session", "archive_session", "offline_session", "online_session"]


@dataclass(frozen=True)
class Session:
    """The backends and sources of one client.

    Attributes
    ----------
    cutouts_cached, cutouts_uncached : `~astro_tesscut.backends.base.Backend` or None
        What cuts, using and keeping the verified cache or not (the same backend
        where there is no cache); `None` when nothing can cut (offline, without
        an archive).
    sectors : `~astro_tesscut.backends.base.Backend`
        What answers sector tables.
    names : `~astro_tesscut.resolver.OnlineNames` or `~astro_tesscut.resolver.OfflineNames`
        Where object names get their positions.
    tic : callable
        ``tic(coord, radius)``: the TIC neighbours of a position, as a Table.
    cache : `~astro_tesscut.backends.cache.CutoutCache` or None
        The verified cache, where there is one.
    offline : bool
        Whether the session sends nothing to MAST.
    archive : str or None
        The archive it cuts from, if any.
    """

    cutouts_cached: object
    cutouts_uncached: object
    sectors: object
    names: object
    tic: object
    cache: object = None
    offline: bool = False
    archive: object = None

    def cutter(self, *, cache):
        """The backend that cuts, using the cache or not.

        Raises
        ------
        InvalidQueryError
            Nothing can cut: offline without an archive.
        """
        backend = self.cutouts_cached if cache else self.cutouts_uncached
        if backend is None:
            raise InvalidQueryError(
                "offline: cutouts offline are cut from FFI cubes or FFIs on disk: give "
                "TessCutClass(archive=...) a directory of them (or a URL of cubes), or set "
                "astro_tesscut.conf.archive (the demo's is astro_tesscut.demo.demo_archive()); "
                "offline=True alone finds sectors only"
            )
        return backend


def online_session(*, server=None, resolver_server=None, timeout=None, cache_dir=None):
    """MAST's TESScut service (and name resolver and TIC), its answers kept in the cache in
    ``cache_dir`` (``conf.cache_dir`` by default)."""
    service = MastService(server=server, resolver_server=resolver_server, timeout=timeout)
    cache = CutoutCache(cache_dir)
    return Session(
        cutouts_cached=service_chain(service, cache),
        cutouts_uncached=service_chain(service),
        sectors=service,
        names=OnlineNames(service),
        tic=TicCatalog(service).cone,
        cache=cache,
    )


def archive_session(archive, storage_options=None):
    """FFI cubes and/or FFIs at ``archive`` (a directory, or a URL of cubes with fsspec's
    ``storage_options``), their sectors from TESS's pointing model, names and neighbours
    from the bundled TIC rows: nothing goes to MAST."""
    store = open_archive(archive, storage_options)
    return Session(
        cutouts_cached=store,
        cutouts_uncached=store,
        sectors=store,
        names=OfflineNames(),
        tic=query_bundled_tic,
        offline=True,
        archive=archive,
    )


def offline_session(archive=None):
    """Offline calls of an online client: sectors from TESS's pointing model, names and
    neighbours from the bundled TIC rows, cutouts from ``archive`` (``conf.archive``) when
    one is given."""
    store = open_archive(archive) if archive else None
    return Session(
        cutouts_cached=store,
        cutouts_uncached=store,
        sectors=PointingModel(),
        names=OfflineNames(),
        tic=query_bundled_tic,
        offline=True,
        archive=archive or None,
    )
