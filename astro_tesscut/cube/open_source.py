"""The one place that picks how a cube's bytes are read, from where it is."""

from pathlib import Path

from .fsspec_source import FsspecSource
from .s3_source import S3Source, obstore_config
from .source import FileSource, is_url

__all__ = ["open_source"]


def open_source(location, storage_options=None):
    """A source for ``location``: a path or ``file://`` URL (`~.source.FileSource`), an
    ``s3://`` URL through obstore (`~.s3_source.S3Source`) when it understands every
    storage option, any other fsspec URL through fsspec (`~.fsspec_source.FsspecSource`).

    ``storage_options`` are fsspec's (s3fs's for ``s3://``), passed on
    unchanged, or translated for obstore where every one has its equivalent.
    """
    text = str(location)
    if not is_url(text):
        return FileSource(Path(text.removeprefix("file://")))
    if text.startswith("s3://"):
        config = obstore_config(storage_options)
        if config is not None:
            return S3Source(text, config, storage_options)
    return FsspecSource(text, storage_options or {})
