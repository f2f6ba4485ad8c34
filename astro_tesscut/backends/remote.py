"""FFI cubes under a URL, as MAST keeps them on AWS S3, as a backend.

``s3://stpubdata/tess/public/mast/`` holds ``tess-s0008-4-1-cube.fits`` and
its kin: a cube's URL follows from its sector, camera and CCD, so no listing
is needed, and the same layout works over HTTP or in a local directory.
Cutouts read the cube's headers once and then only their own rows.
"""

from ..cube.cutout import prepare_cube
from ..exceptions import InvalidQueryError
from .cube_store import CubeStore, cube_name

__all__ = ["RemoteArchive"]


class RemoteArchive(CubeStore):
    """FFI cubes under ``url`` (any fsspec URL), named as MAST names them.

    Parameters
    ----------
    url : str
        The prefix, e.g. ``"s3://stpubdata/tess/public/mast/"``.
    storage_options : dict, optional
        Passed to fsspec unchanged: ``{"anon": True}`` for MAST's public bucket,
        an endpoint URL and credentials for any S3-compatible store.
    """

    def __init__(self, url, *, storage_options=None):
        if not isinstance(url, str) or "://" not in url:
            raise InvalidQueryError(f"archive: {url!r} is not a URL such as s3://bucket/prefix/")
        if storage_options is not None and not isinstance(storage_options, dict):
            raise InvalidQueryError(
                f"storage_options: must be a dict of fsspec options, got {storage_options!r}"
            )
        self.url = url.rstrip("/") + "/"
        self.storage_options = dict(storage_options or {})

    def __repr__(self):
        return f"RemoteArchive({self.url!r})"

    @property
    def where(self):
        return self.url

    def held(self):
        """Unknown without listing the bucket: every released sector is tried."""
        return None

    def location(self, key):
        """The URL of the cube of ``key``."""
        return self.url + cube_name(*key)

    def cube(self, key, *, show_progress=False):
        """The cube of ``key``; `~astro_tesscut.InvalidFileError` when it does not exist."""
        return prepare_cube(self.location(key), self.storage_options, key=key)
