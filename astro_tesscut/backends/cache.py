"""An on-disk cache of verified cutouts, safe to share between processes.

Each entry is a directory named by a hash of the request (its identity, as
the backend gives it: for the service, the URL and query parameters) holding
the target pixel files of the answer and a manifest, ``manifest.json``::

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
ever taken for a cutout: the files of an entry are opened only if they are
regular files (never a link, a FIFO or a device), and the manifest is read
only up to a size no manifest reaches.

A manifest records digests anyone could compute, so what protects entries
is who may write them: the cache is used only when its directory belongs to
the user and no one else may write to it (as ssh treats ``~/.ssh``; the
package makes it, and each entry, readable and writable by the user alone),
and only entries the user owns are served. A cache directory that fails
this, or that cannot be written (a read-only file system), is not used:
cutouts are fetched without it, with one warning.

`CutoutCache.clear` removes the cache's own entries only (directories named
by a request's key that hold a manifest), never other files that share its
directory, and not what other processes are making (``*.staging``
directories, downloads in ``.incoming``). Temporaries whose owner was
killed are swept (`~astro_tesscut.files.sweep_stale`) the first time a
process writes to the cache, and by `CutoutCache.clear`.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import warnings
from pathlib import Path

from ..config import conf
from ..exceptions import TessCutWarning
from ..files import open_regular, owned_name, sweep_stale
from ..writers import CachedFiles, Writer, received_in
from .base import Fetched, Wrapper

__all__ = ["Cached", "CutoutCache"]

MANIFEST = "manifest.json"
_FORMAT = 1
_KEY = re.compile(r"[0-9a-f]{32}")  # an entry's name: `CutoutCache.key`
_MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists a few files: kilobytes
_PRIVATE = 0o700  # the cache's directories: the user's alone
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH

# The cache directories this process has swept already, and warned of: once is enough.
_swept = set()
_warned = set()
_once_lock = threading.Lock()


class Cached(Wrapper):
    """A backend (``inner``) with its verified answers kept in a `CutoutCache` and reused.

    A request the cache holds costs nothing; one it misses is fetched into the
    cache (verified on the way in) and handed on from there. Requests the
    backend gives no identity for (`~astro_tesscut.backends.base.Backend.cache_identity`),
    and writers that keep the service's zip as it came, bypass it.
    """

    def __init__(self, inner, cache):
        super().__init__(inner)
        self.cache = cache

    def __repr__(self):
        return f"Cached({self.inner!r}, {str(self.cache.directory)!r})"

    def cutouts(self, request, writer):
        identity = self.inner.cache_identity(request)
        if identity is None or not writer.cacheable or not self.cache.ready():
            return self.inner.cutouts(request, writer)
        found = self.cache.lookup(identity)
        if found is not None:
            try:
                return Fetched(writer.take(CachedFiles(found), sector=request.sector))
            except FileNotFoundError:
                if all(path.exists() for path in found):
                    raise
                # Another process cleared the entry after it was found: fetch it again.
        return self.inner.cutouts(request, _Entry(self.cache, identity, writer))


class _Entry(Writer):
    """A writer into the cache entry of the request ``identity``, which hands the files on
    to ``writer`` from the entry's staging directory, before anyone else can see (and clear)
    them."""

    def __init__(self, cache, identity, writer):
        self.cache, self.identity, self.writer = cache, identity, writer

    def take(self, files, *, sector=None):
        with self.cache.store(self.identity, files) as paths:
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
    def key(identity):
        """The entry name of a request: a hash of its identity."""
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]

    def ready(self):
        """Whether the cache can be used: its directory exists (made, private to the user,
        if it did not), belongs to the user, no one else may write to it, and the user
        can. If not, a `~astro_tesscut.TessCutWarning` says why (once per directory) and
        cutouts are fetched without the cache."""
        directory = self.directory
        reason = _unusable(directory)
        if reason is None:
            return True
        with _once_lock:
            first = directory not in _warned
            _warned.add(directory)
        if first:
            warnings.warn(
                f"the cutout cache in {directory} is not used: {reason}; cutouts are fetched "
                "without it (choose another with conf.cache_dir, or cache=False / --no-cache)",
                TessCutWarning,
                stacklevel=2,
            )
        return False

    def lookup(self, identity):
        """The files of the entry of the request ``identity``, or `None`.

        `None` is a miss, or an entry that failed its checks (another request's,
        a file missing, changed, added or not a regular file, not the user's),
        which is discarded.
        """
        entry = self.directory / self.key(identity)
        if not os.path.lexists(entry):
            return None
        paths = _verified(entry, _recorded(identity))
        if paths is None:
            self._discard(entry)
        return paths

    @contextlib.contextmanager
    def store(self, identity, files):
        """Make the entry of the request ``identity`` of an answer's files.

        Parameters
        ----------
        identity : dict
            What identifies the request (JSON-able).
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
        key = self.key(identity)
        staging = self.directory / owned_name(key, ".staging")
        staging.mkdir(mode=_PRIVATE, parents=True)
        try:
            paths = files.into_directory(staging)
            manifest = {
                "format": _FORMAT,
                "request": _recorded(identity),
                "files": {path.name: _sha256(path) for path in paths},
            }
            with open(staging / MANIFEST, "x") as file:
                json.dump(manifest, file, indent=1)
            yield paths
            self._install(staging, key, identity)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def incoming(self):
        """A directory, inside the cache, to download zips into before storing them."""
        directory = self.directory / ".incoming"
        directory.mkdir(mode=_PRIVATE, parents=True, exist_ok=True)
        self._sweep_once()
        return directory

    def clear(self):
        """Remove every entry from the cache, and what killed processes left behind.

        Only the cache's own entries go (directories named by a request's key
        that hold a manifest): other files in its directory stay. Downloads
        other processes have under way (their staging directories and
        incoming files) are left alone, so clearing never breaks them.
        """
        directory = self.directory
        if not directory.is_dir():
            return
        for entry in directory.iterdir():
            if _is_entry(entry):
                self._discard(entry)
        _sweep(directory)

    def _install(self, staging, key, identity):
        entry = self.directory / key
        try:
            os.rename(staging, entry)
        except OSError:
            # Another process stored this entry first: keep theirs, unless it is bad.
            if self.lookup(identity) is None:
                # A third may have won meanwhile; the answer is handed on already.
                with contextlib.suppress(OSError):
                    os.rename(staging, entry)

    def _sweep_once(self):
        directory = self.directory
        with _once_lock:
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


def _recorded(identity):
    """A request's identity as its manifest records it (through JSON, to compare like with
    like)."""
    return json.loads(json.dumps(identity, sort_keys=True))


def _unusable(directory):
    """Why the cache in ``directory`` cannot be used, or `None` when it can (see the module
    docstring); the directory is made, private, if it is missing."""
    try:
        directory.mkdir(mode=_PRIVATE, parents=True, exist_ok=True)
        status = directory.stat()  # a link the user made to a directory is theirs to make
    except OSError as exc:
        return f"it cannot be made ({exc.strerror or exc})"
    if not stat.S_ISDIR(status.st_mode):
        return "it is not a directory"
    if not _owned_privately(status):
        return (
            "it belongs to another user, or others may write to it, and so plant cutouts "
            f"in it (chmod go-w {directory} if it is yours)"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        return "it cannot be written to"
    return None


def _owned_privately(status):
    """Whether a file's status says it is the user's and no one else may write to it."""
    if not hasattr(os, "getuid"):  # not POSIX: no owners and modes to check
        return True
    return status.st_uid == os.getuid() and not status.st_mode & _OTHERS_WRITE


def _is_entry(path):
    """Whether ``path`` is an entry of the cache: a directory named by a request's key that
    holds a manifest."""
    try:
        return (
            _KEY.fullmatch(path.name) is not None
            and stat.S_ISDIR(path.lstat().st_mode)
            and stat.S_ISREG((path / MANIFEST).lstat().st_mode)
        )
    except OSError:
        return False


def _verified(entry, request):
    """The files of ``entry`` if it is the user's, its manifest records ``request`` and they
    match it exactly; regular files only, and a manifest read to a bounded size."""
    try:
        status = entry.lstat()
        if not (stat.S_ISDIR(status.st_mode) and _owned_privately(status)):
            return None
        with open_regular(entry / MANIFEST) as file:
            if not _owned_privately(os.fstat(file.fileno())):
                return None
            text = file.read(_MAX_MANIFEST_BYTES + 1)
        if len(text) > _MAX_MANIFEST_BYTES:
            return None
        manifest = json.loads(text)
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
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return paths


def _sha256(path):
    """The digest of the regular file ``path`` (anything else is an `OSError`)."""
    with open_regular(path) as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
