"""An on-disk cache of verified cutouts, safe to share between processes.

Each entry is a directory named by a hash of the request (server, endpoint,
position, size, units, sector) holding the target pixel files of the answer.
An entry is built in a hidden staging directory and renamed into place in
one step, so no process ever sees half of one; without a lock, two processes
that miss together both fetch, and the first rename wins. Every file is
verified (complete FITS, CHECKSUM/DATASUM when present) before it is used,
and an entry that fails is discarded so that the request is made again.
"""

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

from .backend import Fetched, Wrapper
from .config import conf
from .exceptions import CorruptResponseError
from .files import open_fits
from .writers import CachedFiles, Writer, received_in

__all__ = ["Cached", "CutoutCache"]


class Cached(Wrapper):
    """The service, with its verified answers kept in a `CutoutCache` and reused.

    A request the cache holds costs nothing; one it misses is fetched into the
    cache (verified on the way in) and handed on from there. Calls with
    ``cache=False``, and writers that keep the service's zip as it came,
    bypass it.
    """

    def __init__(self, service, cache):
        super().__init__(service)
        self.cache = cache

    def cutouts(
        self, target, size, sector, writer, *, cache=True, show_progress=False, progress=None
    ):
        if not (cache and writer.cacheable):
            return self.inner.cutouts(target, size, sector, writer, progress=progress)
        key = self.cache.key(*self.inner.cutout_request(target, size, sector))
        found = self.cache.lookup(key)
        if found is None:
            fetched = self.inner.cutouts(
                target, size, sector, _Entry(self.cache, key), progress=progress
            )
            if not fetched.results:
                return fetched
            found = fetched.results
        return Fetched(writer.take(CachedFiles(found), sector=sector))


class _Entry(Writer):
    """A writer into one cache entry: the answer's files, verified, stored under ``key``."""

    def __init__(self, cache, key):
        self.cache, self.key = cache, key

    def take(self, files, *, sector=None):
        return self.cache.store(self.key, files)

    def incoming(self, name):
        return received_in(self.cache.incoming(), name)


class CutoutCache:
    """The cutout cache in ``directory`` (by default ``conf.cache_dir``, read at each use)."""

    def __init__(self, directory=None):
        self._directory = directory

    @property
    def directory(self):
        """Where the entries live: ``conf.cache_dir``, or ``astro_tesscut/cutouts``
        in the astropy cache directory."""
        if self._directory is not None:
            return Path(self._directory)
        if conf.cache_dir:
            return Path(conf.cache_dir).expanduser()
        from astropy.config import get_cache_dir

        return Path(get_cache_dir()) / "astro_tesscut" / "cutouts"

    @staticmethod
    def key(url, params):
        """The entry name of a request: a hash of its URL and sorted parameters."""
        request = json.dumps([url, sorted(params.items())])
        return hashlib.sha256(request.encode()).hexdigest()[:32]

    def lookup(self, key):
        """The verified files of entry ``key``, or `None` (a miss, or a discarded bad entry)."""
        entry = self.directory / key
        try:
            paths = sorted(entry.glob("*.fits"))
            for path in paths:
                open_fits(path, name=path.name).close()
        except (CorruptResponseError, OSError):
            self._discard(entry)
            return None
        if not paths and entry.exists():
            self._discard(entry)
        return paths or None

    def store(self, key, files):
        """Make entry ``key`` of an answer's `~astro_tesscut.writers.FileSet` and return its
        verified files."""
        staging = self.directory / f".{key}.{secrets.token_hex(4)}.staging"
        staging.mkdir(parents=True)
        try:
            files.into_directory(staging)
            entry = self.directory / key
            try:
                os.rename(staging, entry)
            except OSError:
                # Another process stored this entry first; use it, unless it is bad.
                found = self.lookup(key)
                if found is not None:
                    return found
                os.rename(staging, entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return sorted(entry.glob("*.fits"))

    def incoming(self):
        """A directory, inside the cache, to download zips into before storing them."""
        directory = self.directory / ".incoming"
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def clear(self):
        """Remove every entry (and anything half-made) from the cache."""
        if self.directory.exists():
            for entry in self.directory.iterdir():
                self._discard(entry)

    def _discard(self, entry):
        # Renamed away first, so that readers see the entry gone rather than half-deleted.
        trash = entry.with_name(f".{entry.name}.{secrets.token_hex(4)}.trash")
        try:
            os.rename(entry, trash)
        except OSError:
            return
        if trash.is_dir():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink(missing_ok=True)
