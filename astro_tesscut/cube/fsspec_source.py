"""Files behind any fsspec URL (``https://``, ``s3://`` through s3fs, ``gs://``, ...).

Over HTTP(S) and S3 every read is a ranged GET of our own, on fsspec's
event loop and through the filesystem's own session (aiohttp's, or s3fs's
botocore client): its status and ``Content-Range`` must say that it is the
range asked, and its body is read a chunk at a time into the range's buffer
and refused as soon as it runs past it. fsspec's ``cat_file`` and
``cat_ranges`` would read whatever the server sends to its end before
anyone could look at it: a whole file of tens of gigabytes for a server
that ignores ``Range``, forever for a body without end. The first read gives
the file's size (from ``Content-Range``) and its version (the ETag), which
later reads ask for with ``If-Match``. Ranges that touch are fetched as one
request, the requests concurrently.

Other protocols (``gs://``, ``az://``, ...) are read with fsspec's
``cat_file`` and ``cat_ranges`` (the same coalescing and concurrency), their
answers' lengths checked once they are in: those clients ask their stores'
APIs, which answer ranges as asked. s3fs's pool of connections is widened
from 10 to what a cutout sends at once, unless the options say.
"""

import asyncio
import contextlib
import json

from ..exceptions import CorruptResponseError, InvalidFileError
from ..transport import unreachable
from .s3_source import MAX_REQUESTS, unreachable_store
from .source import (
    CubeChanged,
    Filling,
    Pinned,
    check_not_longer,
    check_piece,
    coalesced,
    content_range_total,
    ignores_ranges,
)

__all__ = ["FsspecSource"]

# Options merged under the user's, by protocol: s3fs's default pool of 10
# connections would queue a 45-row cutout's requests into five round trips.
_DEFAULTS = {"s3": {"config_kwargs": {"max_pool_connections": MAX_REQUESTS}}}


class FsspecSource:
    """A file behind an fsspec URL; ``storage_options`` go to fsspec unchanged."""

    remote = True

    def __init__(self, url, storage_options):
        try:
            import fsspec
        except ImportError as exc:
            raise ImportError(
                f"reading {url} needs the cloud extra: python -m pip install 'astro_tesscut[cloud]'"
            ) from exc
        self.url = url
        self.name = url.rsplit("/", 1)[-1]
        protocol = url.split("://", 1)[0]
        options = _merged(_DEFAULTS.get(protocol, {}), storage_options)
        self.fs, self.path = fsspec.core.url_to_fs(url, **options)
        self._get = self._ranged_get()
        self._pinned = Pinned(url)
        # Archive cubes do not change, so the URL and options name the version.
        self.version = (url, json.dumps(storage_options, sort_keys=True, default=str))

    def head(self, length):
        if self._get is None:
            with _missing_as_invalid(self.url):
                size = self.fs.size(self.path)
                head = self.fs.cat_file(self.path, start=0, end=min(length, size))
            check_piece(head, min(length, size), self.url, 0)
            return head, size
        ((head, size),) = self._fetch([(0, length, None)])
        return bytes(head), size

    def read(self, offset, length):
        if self._get is None:
            with _missing_as_invalid(self.url):
                piece = self.fs.cat_file(self.path, start=offset, end=offset + length)
            check_not_longer(piece, length, self.url)  # shorter at the end of the file is fine
            return piece
        buffer = bytearray(max(0, min(length, self._pinned.size - offset)))  # to the end at most
        if buffer:
            self.read_into([(offset, len(buffer))], [memoryview(buffer)])
        return bytes(buffer)

    def read_into(self, ranges, buffers):
        """Fill each buffer with its range: adjacent ranges fetched as one request, the
        requests concurrently."""
        requests, scatter = coalesced(ranges, buffers)
        if self._get is None:
            self._cat_ranges(requests)
        else:
            self._fetch(requests)
        scatter()

    def _fetch(self, requests):
        """Each (start, stop, buffer) request read by ``_get`` into its buffer (a new one,
        cut at the file's end, for `None`), ``MAX_REQUESTS`` at once, on fsspec's loop:
        [(buffer, file size)]."""
        from fsspec.asyn import sync

        async def fetch_all():
            gate = asyncio.Semaphore(MAX_REQUESTS)

            async def fetch(start, stop, buffer):
                async with gate:
                    try:
                        return await self._get(start, stop, buffer)
                    except KeyboardInterrupt as exc:  # raised in a task, it stops the loop
                        raise _Stopped from exc

            tasks = [asyncio.ensure_future(fetch(*request)) for request in requests]
            try:
                return await asyncio.gather(*tasks)
            finally:  # on a failure, the other requests stop
                for task in tasks:
                    task.cancel()

        # The coroutine runs in a copy of this thread's context: interrupt.check() there
        # sees the call that asked.
        with _missing_as_invalid(self.url):
            try:
                return sync(self.fs.loop, fetch_all)
            except _Stopped as exc:
                raise exc.__cause__ from None

    def _cat_ranges(self, requests):
        """Each (start, stop, buffer) request through fsspec's ``cat_ranges`` (protocols
        other than HTTP and S3), each answer's length checked once it is in."""
        with _missing_as_invalid(self.url):
            pieces = self.fs.cat_ranges(
                [self.path] * len(requests),
                [start for start, _, _ in requests],
                [stop for _, stop, _ in requests],
            )
            for piece in pieces:  # fsspec hands back each range's failure as its piece
                if isinstance(piece, Exception):
                    raise piece
        for (start, stop, buffer), piece in zip(requests, pieces, strict=True):
            check_piece(piece, stop - start, self.url, start)
            buffer[:] = piece

    def _answered(self, start, stop, status, content_range, length, tag):
        """The size of the file an answer to a request for bytes ``start`` to ``stop``
        gives, once its status and headers say that it is that range (or the whole file,
        shorter than the range) of the version the first read saw."""
        if status == 206:
            size = content_range_total(content_range, start, stop, self.url)
        elif status == 200 and start == 0 and length is not None and length <= stop:
            size = length  # the whole file, shorter than the range asked
        else:
            sent = "a body of unknown length" if length is None else f"{length:,} bytes"
            raise ignores_ranges(
                self.url, f"HTTP {status} with {sent} for a range of {stop - start:,}"
            )
        self._pinned.see(size, tag)  # a server may ignore If-Match
        return size

    async def _fill(self, start, stop, buffer, size, read):
        """Read an answer's body with ``read(n)`` into ``buffer`` (a new one, cut at the
        file's end, for `None`), refusing it once it runs past the range: (buffer, size)."""
        if buffer is None:
            buffer = memoryview(bytearray(min(stop, size) - start))
        filling = Filling(buffer, self.url, start)
        while chunk := await read(filling.wanted):
            filling.take(chunk)
        filling.finish()
        return buffer, size

    def _ranged_get(self):
        """The bounded ranged GET for the filesystem's protocol, or `None` (``cat_ranges``)."""
        from fsspec.implementations.http import HTTPFileSystem

        if isinstance(self.fs, HTTPFileSystem):
            return self._http_get
        try:
            from s3fs import S3FileSystem
        except ImportError:
            return None
        return self._s3_get if isinstance(self.fs, S3FileSystem) else None

    async def _http_get(self, start, stop, buffer):
        """Bytes ``start`` to ``stop`` of an HTTP file into ``buffer`` (see `_fill`), through
        fsspec's session."""
        options = dict(self.fs.kwargs)
        headers = {
            **options.pop("headers", {}),
            "Range": f"bytes={start}-{stop - 1}",
            "Accept-Encoding": "identity",  # a range of the bytes as stored, not of an encoding
        }
        if self._pinned.if_match:
            headers["If-Match"] = self._pinned.if_match
        session = await self.fs.set_session()
        url = self.fs.encode_url(self.path)
        async with session.get(url, headers=headers, **options) as response:
            if response.status == 404:
                raise FileNotFoundError(self.url)
            if response.status == 412:
                raise CubeChanged(self.url)
            response.raise_for_status()
            if response.headers.get("Content-Encoding", "identity") != "identity":
                raise CorruptResponseError(
                    f"cube: a range came {response.headers['Content-Encoding']}-encoded, "
                    "though asked as stored",
                    url=self.url,
                )
            size = self._answered(
                start,
                stop,
                response.status,
                response.headers.get("Content-Range"),
                response.content_length,
                response.headers.get("ETag"),
            )
            return await self._fill(start, stop, buffer, size, response.content.read)

    async def _s3_get(self, start, stop, buffer):
        """Bytes ``start`` to ``stop`` of an S3 object into ``buffer`` (see `_fill`), through
        s3fs's botocore client (its retries and options)."""
        bucket, key, version = self.fs.split_path(self.path)
        extra = {"VersionId": version} if version else {}
        if self._pinned.if_match:
            extra["IfMatch"] = self._pinned.if_match
        try:
            answer = await self.fs._call_s3(
                "get_object", Bucket=bucket, Key=key, Range=f"bytes={start}-{stop - 1}", **extra
            )
        except OSError as exc:  # s3fs's translation of botocore's error
            status = getattr(exc.__cause__, "response", {}).get("ResponseMetadata", {})
            if status.get("HTTPStatusCode") == 412:
                raise CubeChanged(self.url) from exc
            raise
        body = answer["Body"]
        try:
            size = self._answered(
                start,
                stop,
                answer["ResponseMetadata"]["HTTPStatusCode"],
                answer.get("ContentRange"),
                answer.get("ContentLength"),
                answer.get("ETag"),
            )
            return await self._fill(start, stop, buffer, size, body.read)
        finally:
            body.close()


class _Stopped(Exception):
    """An interrupt (`KeyboardInterrupt`) carried out of fsspec's loop, which it would stop
    if a task raised it there."""


def _merged(defaults, options):
    """``options`` over ``defaults``, one level of dictionaries deep."""
    merged = {key: dict(value) for key, value in defaults.items()}
    for key, value in options.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


@contextlib.contextmanager
def _missing_as_invalid(url):
    """Report a missing remote file as the package's InvalidFileError, and a server that
    cannot be reached at all (which fsspec's HTTP reports as a missing file, botocore
    and aiohttp in their own words) as a ServiceError, both naming the URL."""
    try:
        yield
    except Exception as exc:
        reason = unreachable(exc)
        if reason is not None:
            raise unreachable_store(exc, reason, url) from exc
        if isinstance(exc, FileNotFoundError):
            raise InvalidFileError(f"cube: {url} does not exist") from exc
        raise
