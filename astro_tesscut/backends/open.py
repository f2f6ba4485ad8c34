"""The one place that decides which backend answers, from what a caller gave.

A new backend is one class in this package and one line here.
"""

from ..cube.source import is_url
from .cache import Cached
from .local import LocalArchive
from .per_sector import PerSector
from .remote import RemoteArchive
from .time_window import TimeWindowed

__all__ = ["open_archive", "service_chain"]


def open_archive(archive, storage_options=None):
    """The cube store at ``archive``: a URL prefix of cubes
    (`~astro_tesscut.backends.remote.RemoteArchive`, ``storage_options`` for fsspec), or a
    local directory of cubes and/or FFIs (`~astro_tesscut.backends.local.LocalArchive`)."""
    if is_url(archive):
        return RemoteArchive(str(archive), storage_options=storage_options)
    return LocalArchive(str(archive).removeprefix("file://"))


def service_chain(service, cache=None):
    """The service (a `~astro_tesscut.backends.service.MastService`) as the API asks it:
    sector by sector, a few at a time, each answer kept in ``cache`` (a
    `~astro_tesscut.backends.cache.CutoutCache`) when given, cut to a time window when
    asked for one."""
    return TimeWindowed(PerSector(service if cache is None else Cached(service, cache)))
