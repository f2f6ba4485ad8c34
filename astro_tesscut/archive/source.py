"""Where a cube's bytes come from: a local file, an S3 object, or any other fsspec URL.

Every source answers three questions, so that a cube costs the same few
reads wherever it is:

- ``head(length)``: the first ``length`` bytes and the size of the whole file
  (one read: a ranged GET tells both);
- ``read_into(ranges, buffers)``: many (offset, length) ranges at once, each
  into its own buffer (the table and a cutout's rows, in one round trip);
- ``read(offset, length)``: one range;

and says whether it is ``remote``: whether each read costs a network round
trip, which makes it worth guessing what to read ahead.

A local file is read with positioned reads, several in flight. ``s3://`` URLs
go through obstore (`.s3_source`: Rust, a fraction of a millisecond of CPU
per request) when it is installed and understands the storage options; any
other URL, or options only s3fs knows, through fsspec (`.fsspec_source`).
"""

import contextlib
import functools
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..exceptions import InvalidFileError

__all__ = ["FileSource", "is_url", "open_source"]

_READERS = 8


def is_url(location):
    """True for a URL with a scheme fsspec handles remotely (not a local path or ``file://``)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def open_source(location, storage_options=None):
    """A source for ``location``: a path or ``file://`` URL, or any other fsspec URL.

    ``storage_options`` are fsspec's (s3fs's for ``s3://``), passed on
    unchanged, or translated for obstore where every one has its equivalent.
    """
    text = str(location)
    if not is_url(text):
        return FileSource(Path(text.removeprefix("file://")))
    if text.startswith("s3://"):
        from .s3_source import S3Source, obstore_config

        config = obstore_config(storage_options)
        if config is not None:
            return S3Source(text, config, storage_options)
    from .fsspec_source import FsspecSource

    return FsspecSource(text, storage_options or {})


class FileSource:
    """A local file: a regular one (a directory cannot be read; opening a FIFO would wait
    for a writer)."""

    remote = False

    def __init__(self, path):
        self.path = Path(path)
        self.name = self.path.name
        with self._reading():
            status = self.path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise InvalidFileError(
                f"cube: {str(self.path)!r} is {_kind(status.st_mode)}, not a regular file"
            )
        # What identifies this version of the file, for caches.
        self.version = (str(self.path.resolve()), status.st_size, status.st_mtime_ns)

    def head(self, length):
        with self._reading(), open(self.path, "rb", buffering=0) as file:
            return os.pread(file.fileno(), length, 0), os.fstat(file.fileno()).st_size

    def read(self, offset, length):
        with self._reading(), open(self.path, "rb", buffering=0) as file:
            return os.pread(file.fileno(), length, offset)

    def read_into(self, ranges, buffers):
        """Fill each writable buffer with the bytes of its (offset, length) range."""
        with self._reading(), open(self.path, "rb", buffering=0) as file:
            descriptor = file.fileno()

            def read(job):
                (offset, length), buffer = job
                if os.preadv(descriptor, [buffer], offset) != length:
                    raise InvalidFileError(f"cube: {self.name} ends before byte {offset + length}")

            # Several reads in flight let a cold disk serve them in parallel.
            list(_readers().map(read, zip(ranges, buffers, strict=True)))

    @contextlib.contextmanager
    def _reading(self):
        """The operating system's errors (no such file, permission denied, ...) as the
        package's, naming the file: one unreadable cube fails alone."""
        try:
            yield
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InvalidFileError(f"cube: cannot read {str(self.path)!r} ({reason})") from exc


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    return "a device or socket"


def check_piece(piece, length, url, offset):
    """A fetched range must be as long as asked: a shorter one means the file ends early."""
    check_not_longer(piece, length, url)
    if len(piece) != length:
        raise InvalidFileError(f"cube: {url} ends before byte {offset + length}")


def check_not_longer(piece, length, url):
    """A fetched range longer than asked means the server sent more (the whole file)."""
    if len(piece) > length:
        raise ignores_ranges(url, f"{len(piece):,} bytes for a range of {length:,}")


def ignores_ranges(url, answer):
    """The error for a server that answers range requests with more than the range."""
    return InvalidFileError(
        f"cube: the server of {url} ignores range requests (it sent {answer}): a cube is "
        "read a few ranges at a time, never whole; use a server or store that supports "
        "HTTP Range"
    )


@functools.cache
def _readers():
    """Threads shared by every local read (positioned reads release the GIL)."""
    return ThreadPoolExecutor(_READERS, thread_name_prefix="astro_tesscut-read")
