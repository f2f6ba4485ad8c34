"""An on-disk cache of verified cutouts, safe to share between processes.

Each entry is a directory named by a hash of the request (server, endpoint,
position, size, units, sector) holding the target pixel files of the answer
and a manifest, ``manifest.json``::

    {"format": 1,
     "request": {"url": "https://.../astrocut", "params": {"dec": "...", ...}},
     "files": {"tess-s0001-4-2_..._astrocut.fits": "<sha256 of the file, hex>"}}

An entry is built in a hidden staging directory (its files verified as they
arrive, its manifest written last) and renamed into place in one step, so no
process ever sees half of one; without a lock, two processes that miss
together both fetch, and the first rename wins. An entry is served only if
its manifest records the very request, and the entry holds exactly the
files it lists, each with its digest; any other is discarded, so that the
request is made again. Nothing planted or left in the cache directory is
ever taken for a cutout.

`CutoutCache.clear` removes finished entries only: what other processes are
making (``*.staging`` directories, downloads in ``.incoming``) is theirs.
Temporaries whose owner was killed are swept
(`~astro_tesscut.files.sweep_stale`) the first time a process writes to the
cache, and by `CutoutCache.clear`.
"""

import contextlib
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

from .backend import Fetched, Wrapper
from .config import conf
from .files import owned_name, sweep_stale
from .writers import CachedFiles, Writer, received_in

__all__ = ["Cached", "CutoutCache"]

MANIFEST = "manifest.json"
_FORMAT = 1

# The cache directories this process has swept already: once is enough.
_swept = set()
_swept_lock = threading.Lock()


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
        url, params = self.inner.cutout_request(target, size, sector)
        found = self.cache.lookup(url, params)
        if found is not None:
            try:
                return Fetched(writer.take(CachedFiles(found), sector=sector))
            except FileNotFoundError:
                if all(path.exists() for path in found):
                    raise
                # Another process cleared the entry after it was found: fetch it again.
        return self.inner.cutouts(
            target, size, sector, _Entry(self.cache, url, params, writer), progress=progress
        )


class _Entry(Writer):
    """A writer into the cache entry of request ``url``, ``params``, which hands the files on
    to ``writer`` from the entry's staging directory, before anyone else can see (and clear)
    them."""

    def __init__(self, cache, url, params, writer):
        self.cache, self.url, self.params, self.writer = cache, url, params, writer

    def take(self, files, *, sector=None):
        with self.cache.store(self.url, self.params, files) as paths:
            return self.writer.take(CachedFiles(paths), sector=sector)

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

    def lookup(self, url, params):
        """The files of the entry of request ``url``, ``params``, or `None`.

        `None` is a miss, or an entry that failed its manifest (another
        request's, a file missing, changed or added), which is discarded.
        """
        entry = self.directory / self.key(url, params)
        if not os.path.lexists(entry):
            return None
        paths = _verified(entry, _request(url, params))
        if paths is None:
            self._discard(entry)
        return paths

    @contextlib.contextmanager
    def store(self, url, params, files):
        """Make the entry of request ``url``, ``params`` of an answer's files.

        Parameters
        ----------
        url : str
            The request's URL.
        params : dict of str
            Its query parameters.
        files : `~astro_tesscut.writers.FileSet`
            The answer; each file is verified on the way in.

        Yields
        ------
        list of `pathlib.Path`
            The verified files, sorted, in the entry's private staging
            directory: the block uses them, and the entry is renamed into place
            when it ends without error (or dropped, if another process's good
            entry is already there).
        """
        self._sweep_once()
        key = self.key(url, params)
        staging = self.directory / owned_name(key, ".staging")
        staging.mkdir(parents=True)
        try:
            paths = files.into_directory(staging)
            manifest = {
                "format": _FORMAT,
                "request": _request(url, params),
                "files": {path.name: _sha256(path) for path in paths},
            }
            with open(staging / MANIFEST, "x") as file:
                json.dump(manifest, file, indent=1)
            yield paths
            self._install(staging, key, url, params)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def incoming(self):
        """A directory, inside the cache, to download zips into before storing them."""
        directory = self.directory / ".incoming"
        directory.mkdir(parents=True, exist_ok=True)
        self._sweep_once()
        return directory

    def clear(self):
        """Remove every entry from the cache, and what killed processes left behind.

        Downloads other processes have under way (their staging directories
        and incoming files) are left alone, so clearing never breaks them.
        """
        directory = self.directory
        if not directory.is_dir():
            return
        for entry in directory.iterdir():
            if not entry.name.startswith("."):
                self._discard(entry)
        _sweep(directory)

    def _install(self, staging, key, url, params):
        entry = self.directory / key
        try:
            os.rename(staging, entry)
        except OSError:
            # Another process stored this entry first: keep theirs, unless it is bad.
            if self.lookup(url, params) is None:
                # A third may have won meanwhile; the answer is handed on already.
                with contextlib.suppress(OSError):
                    os.rename(staging, entry)

    def _sweep_once(self):
        directory = self.directory
        with _swept_lock:
            if directory in _swept:
                return
            _swept.add(directory)
        _sweep(directory)

    def _discard(self, entry):
        # Renamed away first, so that readers see the entry gone rather than half-deleted.
        trash = entry.with_name(owned_name(entry.name, ".trash"))
        try:
            os.rename(entry, trash)
        except OSError:
            return
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink(missing_ok=True)


def _sweep(directory):
    sweep_stale(directory)
    sweep_stale(directory / ".incoming")


def _request(url, params):
    """A request as its manifest records it (through JSON, to compare like with like)."""
    return json.loads(json.dumps({"url": url, "params": dict(sorted(params.items()))}))


def _verified(entry, request):
    """The files of ``entry`` if its manifest records ``request`` and they match it exactly."""
    try:
        with open(entry / MANIFEST) as file:
            manifest = json.load(file)
        digests = manifest["files"]
        if (
            manifest["format"] != _FORMAT
            or manifest["request"] != request
            or not isinstance(digests, dict)
            or not digests
            or {path.name for path in entry.iterdir()} != {*digests, MANIFEST}
        ):
            return None
        paths = [entry / name for name in sorted(digests)]
        if any(_sha256(path) != digests[path.name] for path in paths):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return paths


def _sha256(path):
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
