"""Files behind any fsspec URL (``https://``, ``gs://``, ``s3://`` through s3fs, ...).

Headers come from one ranged read after asking the file's size; pixels from
fsspec's ``cat_ranges``: adjacent ranges coalesced into one request, the
rest fetched concurrently, never the whole file. s3fs's pool of connections
is widened from 10 to what a cutout sends at once, unless the options say.

An HTTP server may ignore ``Range`` and send the whole file, which fsspec's
``cat_file`` would read into memory (tens of gigabytes for a cube) before
anyone could look at it. So over HTTP the first read, which every cube
starts with, looks at the answer's status and length before its body, and
refuses a server that ignores ranges having read none of it.
"""

import contextlib
import json

from ..exceptions import InvalidFileError
from ..transport import unreachable
from .s3_source import unreachable_store
from .source import check_not_longer, check_piece, ignores_ranges

__all__ = ["FsspecSource"]

# Options merged under the user's, by protocol: s3fs's default pool of 10
# connections would queue a 45-row cutout's requests into five round trips.
_DEFAULTS = {"s3": {"config_kwargs": {"max_pool_connections": 64}}}


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
        self._http = protocol in ("http", "https") and _is_http(self.fs)
        # Archive cubes do not change, so the URL and options name the version.
        self.version = (url, json.dumps(storage_options, sort_keys=True, default=str))

    def head(self, length):
        with _missing_as_invalid(self.url):
            size = self.fs.size(self.path)
            end = min(length, size)
            if self._http:
                from fsspec.asyn import sync

                head = sync(self.fs.loop, _http_range, self.fs, self.path, self.url, 0, end)
            else:
                head = self.fs.cat_file(self.path, start=0, end=end)
        check_piece(head, end, self.url, 0)
        return head, size

    def read(self, offset, length):
        with _missing_as_invalid(self.url):
            piece = self.fs.cat_file(self.path, start=offset, end=offset + length)
        check_not_longer(piece, length, self.url)  # shorter at the end of the file is fine
        return piece

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
            for piece in pieces:  # fsspec hands back each range's failure as its piece
                if isinstance(piece, Exception):
                    raise piece
        for (start, stop, members), piece in zip(merged, pieces, strict=True):
            check_piece(piece, stop - start, self.url, start)
            for index in members:
                offset, length = ranges[index]
                buffers[index][:] = piece[offset - start : offset - start + length]


def _merged(defaults, options):
    """``options`` over ``defaults``, one level of dictionaries deep."""
    merged = {key: dict(value) for key, value in defaults.items()}
    for key, value in options.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


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


def _is_http(fs):
    from fsspec.implementations.http import HTTPFileSystem

    return isinstance(fs, HTTPFileSystem)


async def _http_range(fs, path, url, start, end):
    """Bytes ``start`` to ``end`` of an HTTP file, as fsspec's ``cat_file`` fetches them (on
    its loop, through its session), but refused, unread, when the answer is not that range:
    a body longer than the range, or of unknown length without the status 206."""
    options = dict(fs.kwargs)
    headers = {**options.pop("headers", {}), "Range": f"bytes={start}-{end - 1}"}
    session = await fs.set_session()
    async with session.get(fs.encode_url(path), headers=headers, **options) as response:
        if response.status == 404:
            raise FileNotFoundError(url)
        response.raise_for_status()
        sent = response.content_length
        if (sent is None and response.status != 206) or (sent or 0) > end - start:
            length = "a body of unknown length" if sent is None else f"{sent:,} bytes"
            raise ignores_ranges(url, f"HTTP {response.status} with {length}")
        return await response.read()


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
