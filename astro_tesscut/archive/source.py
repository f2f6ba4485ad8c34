"""Where a cube's bytes come from: a local file, or any fsspec URL (s3://, https://, ...).

Both answer ``read(offset, length)`` for headers and ``read_into(ranges,
buffers)`` for pixels. A local file is read with positioned reads, several
in flight; a remote one with HTTP range requests: adjacent ranges coalesced
into one, the rest fetched concurrently (fsspec's ``cat_ranges``), never the
whole file.
"""

import contextlib
import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..exceptions import InvalidFileError

__all__ = ["FileSource", "FsspecSource", "is_url", "open_source"]

_READERS = 8


def is_url(location):
    """True for a URL with a scheme fsspec handles remotely (not a local path or file://)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def open_source(location, storage_options=None):
    """A source for ``location``: a path or ``file://`` URL, or any other fsspec URL."""
    text = str(location)
    if is_url(text):
        return FsspecSource(text, storage_options or {})
    return FileSource(Path(text.removeprefix("file://")))


class FileSource:
    """A local file."""

    def __init__(self, path):
        self.path = Path(path)
        self.name = self.path.name
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise InvalidFileError(
                f"cube: cannot read {str(self.path)!r} ({exc.strerror})"
            ) from exc
        # What identifies this version of the file, for caches.
        self.version = (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)

    def read(self, offset, length):
        with open(self.path, "rb", buffering=0) as file:
            return os.pread(file.fileno(), length, offset)

    def read_into(self, ranges, buffers):
        """Fill each writable buffer with the bytes of its (offset, length) range."""
        with open(self.path, "rb", buffering=0) as file:
            descriptor = file.fileno()

            def read(job):
                (offset, length), buffer = job
                if os.preadv(descriptor, [buffer], offset) != length:
                    raise InvalidFileError(f"cube: {self.name} ends before byte {offset + length}")

            # Several reads in flight let a cold disk serve them in parallel.
            list(_readers().map(read, zip(ranges, buffers, strict=True)))


class FsspecSource:
    """A file behind an fsspec URL; ``storage_options`` go to fsspec unchanged."""

    def __init__(self, url, storage_options):
        try:
            import fsspec
        except ImportError as exc:
            raise ImportError(
                f"reading {url} needs the cloud extra: python -m pip install 'astro_tesscut[cloud]'"
            ) from exc
        self.url = url
        self.name = url.rsplit("/", 1)[-1]
        self.fs, self.path = fsspec.core.url_to_fs(url, **storage_options)
        # Archive cubes do not change, so the URL and options name the version.
        self.version = (url, json.dumps(storage_options, sort_keys=True, default=str))

    def read(self, offset, length):
        with _missing_as_invalid(self.url):
            return self.fs.cat_file(self.path, start=offset, end=offset + length)

    def read_into(self, ranges, buffers):
        """Fill each buffer with its range: adjacent ranges fetched as one request, the
        requests concurrently."""
        merged = _coalesce(ranges)
        with _missing_as_invalid(self.url):
            pieces = self.fs.cat_ranges(
                [self.path] * len(merged),
                [start for start, _, _ in merged],
                [stop for _, stop, _ in merged],
            )
        for (start, stop, members), piece in zip(merged, pieces, strict=True):
            if isinstance(piece, Exception):
                raise piece
            if len(piece) != stop - start:
                raise InvalidFileError(f"cube: {self.url} ends before byte {stop}")
            for index in members:
                offset, length = ranges[index]
                buffers[index][:] = piece[offset - start : offset - start + length]


def _coalesce(ranges):
    """Merge ranges that touch: [(start, stop, [indices of the ranges within])], by start."""
    merged = []
    for index in sorted(range(len(ranges)), key=lambda i: ranges[i][0]):
        offset, length = ranges[index]
        if merged and merged[-1][1] == offset:
            merged[-1][1] = offset + length
            merged[-1][2].append(index)
        else:
            merged.append([offset, offset + length, [index]])
    return merged


@contextlib.contextmanager
def _missing_as_invalid(url):
    """Report a missing remote file as the package's InvalidFileError, naming the URL."""
    try:
        yield
    except FileNotFoundError as exc:
        raise InvalidFileError(f"cube: {url} does not exist") from exc


@functools.cache
def _readers():
    """Threads shared by every local read (positioned reads release the GIL)."""
    return ThreadPoolExecutor(_READERS, thread_name_prefix="astro_tesscut-read")
