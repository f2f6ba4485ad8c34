"""Files behind any fsspec URL (``https://``, ``gs://``, ``s3://`` through s3fs, ...).

Headers come from one ranged read after asking the file's size; pixels from
fsspec's ``cat_ranges``: adjacent ranges coalesced into one request, the
rest fetched concurrently, never the whole file. s3fs's pool of connections
is widened from 10 to what a cutout sends at once, unless the options say.
"""

import contextlib
import json

from ..exceptions import InvalidFileError
from .source import check_piece

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
        # Archive cubes do not change, so the URL and options name the version.
        self.version = (url, json.dumps(storage_options, sort_keys=True, default=str))

    def head(self, length):
        with _missing_as_invalid(self.url):
            size = self.fs.size(self.path)
            return self.fs.cat_file(self.path, start=0, end=min(length, size)), size

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


@contextlib.contextmanager
def _missing_as_invalid(url):
    """Report a missing remote file as the package's InvalidFileError, naming the URL."""
    try:
        yield
    except FileNotFoundError as exc:
        raise InvalidFileError(f"cube: {url} does not exist") from exc
