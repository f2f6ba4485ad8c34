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

A remote answer is read as it arrives, into the buffer of its range
(`Filling`), and refused as soon as it runs past it, so that a server that
sends more than asked (the whole file, or a body without end) costs a range
and no more; its status and ``Content-Range`` must say that it is the range
asked (`content_range_total`). The first read pins the version of the file
(its size and ETag, `Pinned`); later reads ask for that version alone
(``If-Match``), and one that finds another raises `CubeChanged`.

A local file is read with positioned reads, several in flight (`FileSource`).
``s3://`` URLs go through obstore (``.s3_source``: Rust, a fraction of a
millisecond of CPU per request) when it is installed and understands the
storage options; any other URL, or options only s3fs knows, through fsspec
(``.fsspec_source``); ``.open_source`` picks.
"""

import contextlib
import functools
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..exceptions import CorruptResponseError, InvalidFileError
from ..interrupt import check
from ..transport import CHUNK_BYTES

__all__ = [
    "CubeChanged",
    "FileSource",
    "Filling",
    "Pinned",
    "content_range_total",
    "is_url",
]

_READERS = 8


def is_url(location):
    """True for a URL with a scheme fsspec handles remotely (not a local path or ``file://``)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


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


class CubeChanged(InvalidFileError):
    """A remote cube was replaced while it was being read: what was read of it before
    (its headers, its table) belongs to another version than its next bytes would."""

    def __init__(self, url):
        super().__init__(
            f"cube: {url} changed while it was being read (a new version replaced it); "
            "the next call reads the new version"
        )


class Pinned:
    """The version of a remote file its first read saw (size and ETag), which every
    later read must see too.

    Parameters
    ----------
    url : str
        The file's URL, for errors.
    """

    def __init__(self, url):
        self.url = url
        self.size = None
        self.tag = None

    @property
    def if_match(self):
        """The ETag later reads send as ``If-Match``, or `None`: a weak one (``W/"..."``)
        never matches there (RFC 9110 compares strongly), so it is only compared."""
        return self.tag if self.tag and not self.tag.startswith("W/") else None

    def see(self, size, tag):
        """Pin the first answer's ``size`` and ``tag`` (ETag or `None`); raise `CubeChanged`
        for a later answer that tells another version."""
        if self.size is None:
            self.size, self.tag = size, tag
        elif size != self.size or (tag and self.tag and tag != self.tag):
            raise CubeChanged(self.url)


class Filling:
    """One range's answer written into its buffer as it arrives, refused as soon as it
    runs past the range (a server may send the whole file, or a body without end).

    Parameters
    ----------
    buffer : memoryview
        Writable, as long as the range.
    url : str
        The file's URL, for errors.
    offset : int
        Where the range starts in the file, for errors.
    """

    def __init__(self, buffer, url, offset):
        self.buffer, self.url, self.offset = buffer, url, offset
        self.filled = 0

    @property
    def wanted(self):
        """The most the next read needs: what is missing and one byte more, which tells
        an answer longer than the range (at most a chunk, so that interrupts are seen)."""
        return min(len(self.buffer) - self.filled + 1, CHUNK_BYTES)

    def take(self, chunk):
        """Write the next ``chunk`` of the answer; `~astro_tesscut.CorruptResponseError` once
        the answer is longer than the range."""
        check()
        end = self.filled + len(chunk)
        if end > len(self.buffer):
            stop = self.offset + len(self.buffer)
            raise CorruptResponseError(
                f"cube: the answer to a request for bytes {self.offset:,} to {stop - 1:,} "
                "runs past them (refused there, unread further)",
                url=self.url,
            )
        self.buffer[self.filled : end] = chunk
        self.filled = end

    def finish(self):
        """The answer has ended: it must have filled the range."""
        if self.filled != len(self.buffer):
            raise InvalidFileError(
                f"cube: {self.url} ends before byte {self.offset + len(self.buffer)}"
            )


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def content_range_total(content_range, start, stop, url):
    """The size of the file a 206 answer's ``Content-Range`` gives, once it names the
    range asked, bytes ``start`` to ``stop`` (excluded; cut at the file's end).

    Raises
    ------
    CorruptResponseError
        It names another range, or none, or does not give the file's size.
    """
    match = _CONTENT_RANGE.fullmatch(content_range or "")
    if match is None or (int(match[1]), int(match[2]) + 1) != (start, min(stop, int(match[3]))):
        raise CorruptResponseError(
            f"cube: the answer to a request for bytes {start:,} to {stop - 1:,} is "
            f"Content-Range {content_range!r}",
            url=url,
        )
    return int(match[3])


def coalesced(ranges, buffers):
    """The requests that fill each buffer with its (offset, length) range, ranges that
    touch merged into one: [(start, stop, buffer)] by start, and ``scatter()``, which,
    once they are in, copies the merged ones into their own buffers."""
    requests, copies = [], []
    for start, stop, members in _coalesce(ranges):
        if len(members) == 1:
            requests.append((start, stop, buffers[members[0]]))
            continue
        block = memoryview(bytearray(stop - start))
        requests.append((start, stop, block))
        for index in members:
            offset, length = ranges[index]
            copies.append((block[offset - start : offset - start + length], buffers[index]))

    def scatter():
        for piece, buffer in copies:
            buffer[:] = piece

    return requests, scatter


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
