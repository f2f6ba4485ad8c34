"""Where finished target pixel files go, whichever backend made them.

A backend hands a `Writer` the files of one answer as a file set: a zip the
service sent (`ZipAnswer`), files this package made from cubes
(`MadeFiles`), or verified files from the cache (`CachedFiles`). The writer
takes them whole or not at all:

- `InMemory`: `~astropy.io.fits.HDUList` objects (``get_cutouts``);
- `IntoDirectory`: files under TESScut's names, each complete and verified
  before it takes its name (``download_cutouts``, ``batch_cutouts``);
- `AsZip`: one zip per answer, the service's kept as it came
  (``download_cutouts(inflate=False)``).

Each file set knows how to go each way (`FileSet.in_memory`,
`FileSet.into_directory`, `FileSet.as_zip`); a writer picks the way. A zip
the service sent is refused whole if a member is not named as TESScut names
the cutouts of the request it answers (its sector, position and size).
"""

import abc
import contextlib
import io
from pathlib import Path

from .files import (
    copy_cutouts,
    cutout_from_bytes,
    load_cutout,
    open_cutouts,
    save_zip,
    temporary_path,
    write_cutouts,
    write_files,
    write_zip,
)

__all__ = [
    "AsZip",
    "CachedFiles",
    "FileSet",
    "InMemory",
    "IntoDirectory",
    "MadeFiles",
    "Writer",
    "ZipAnswer",
    "received_in",
]


class FileSet(abc.ABC):
    """The target pixel files of one answer."""

    @abc.abstractmethod
    def in_memory(self):
        """Every file as an `~astropy.io.fits.HDUList`, sorted by name."""

    @abc.abstractmethod
    def into_directory(self, directory):
        """Write every file into ``directory``, all or none; their paths, sorted."""

    @abc.abstractmethod
    def as_zip(self, path):
        """Keep the files as one zip at ``path``; its path."""


class ZipAnswer(FileSet):
    """A zip the service sent, in a binary file (a file on disk, whose ``name`` is its
    path, or an `io.BytesIO`): untrusted until each member has been read back whole,
    and its name is one the request allows (``expected``, an
    `~astro_tesscut.cutout_names.ExpectedNames`)."""

    def __init__(self, payload, expected):
        self.payload = payload
        self.expected = expected

    def in_memory(self):
        return open_cutouts(self.payload, expected=self.expected)

    def into_directory(self, directory):
        return write_cutouts(self.payload, directory, expected=self.expected)

    def as_zip(self, path):
        return save_zip(self.payload.name, path, expected=self.expected)


class MadeFiles(FileSet):
    """Files this package made, as ``(name, bytes)`` pairs: they never crossed a network,
    and their names are the cubes' own."""

    def __init__(self, files):
        self.files = sorted(files, key=lambda pair: pair[0])

    def in_memory(self):
        return [cutout_from_bytes(name, data) for name, data in self.files]

    def into_directory(self, directory):
        return write_files(self.files, directory)

    def as_zip(self, path):
        return write_zip(self.files, path)


class CachedFiles(FileSet):
    """Files of the cutout cache, checked against its entry's manifest (which records the
    request their names were checked against on the way in)."""

    def __init__(self, paths):
        self.paths = sorted(Path(path) for path in paths)

    def in_memory(self):
        return [load_cutout(path) for path in self.paths]

    def into_directory(self, directory):
        return copy_cutouts(self.paths, directory)

    def as_zip(self, path):
        return write_zip([(p.name, p.read_bytes()) for p in self.paths], path)


class Writer(abc.ABC):
    """Where the files of each answer go; see the module docstring."""

    #: Whether answers written this way may come from, and go to, the cutout cache.
    cacheable = True

    @abc.abstractmethod
    def take(self, files, *, sector=None):
        """Take one answer's `FileSet` (of ``sector``, or every sector: `None`, which names
        zips); return what was made: a list of HDULists or of paths."""

    @abc.abstractmethod
    def incoming(self, name):
        """A context giving a fresh binary file to receive an answer in (``name`` says
        what it will be); gone on leaving unless taken."""


class InMemory(Writer):
    """Files as `~astropy.io.fits.HDUList` objects; answers are received in memory."""

    def take(self, files, *, sector=None):
        return files.in_memory()

    def incoming(self, name):
        return _in_memory()


class IntoDirectory(Writer):
    """Files in ``directory`` (which must exist) under TESScut's names."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def take(self, files, *, sector=None):
        return files.into_directory(self.directory)

    def incoming(self, name):
        # In the destination, so that what is kept is renamed, never copied, into place.
        return received_in(self.directory, name)


class AsZip(Writer):
    """One zip per answer in ``directory``, named ``<stem>.zip``, or ``<stem>_sSSSS.zip``
    for an answer of one sector; never cached (the service's zip is kept as it came)."""

    cacheable = False

    def __init__(self, directory, stem):
        self.directory = Path(directory)
        self.stem = stem

    def take(self, files, *, sector=None):
        suffix = f"_s{sector:04d}.zip" if sector is not None else ".zip"
        return [files.as_zip(self.directory / (self.stem + suffix))]

    def incoming(self, name):
        return received_in(self.directory, name)


@contextlib.contextmanager
def _in_memory():
    yield io.BytesIO()


@contextlib.contextmanager
def received_in(directory, name):
    """A new hidden file in ``directory`` (its ``name`` attribute is its path) to receive an
    answer in, removed on leaving unless it was renamed away."""
    with temporary_path(directory, name) as path, open(path, "x+b") as file:
        yield file
