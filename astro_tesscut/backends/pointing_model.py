"""TESS's pointing model alone, as a backend: which sectors saw a target, offline; no pixels.

What ``query_sectors(offline=True)`` answers without an archive, and what
every archive of cubes answers its sector queries with
(`~astro_tesscut.backends.cube_store.CubeStore` builds on it).
"""

from ..exceptions import InvalidQueryError
from .base import Backend

__all__ = ["OfflineSectors"]


class OfflineSectors(Backend):
    """Sectors from TESS's pointing model (`~astro_tesscut.sky.geometry.locate`)."""

    def sectors(self, target, radius):
        """`~astro_tesscut.sky.geometry.locate`'s table for one target: the common
        columns, then ``column``, ``row`` and ``released``."""
        from ..sky.geometry import locate

        table = locate(target.coord, radius=radius)
        table.remove_column("target")
        return table

    def cutouts(
        self, target, size, sector, writer, *, cache=True, show_progress=False, progress=None
    ):
        raise InvalidQueryError(
            "archive: cutouts offline need FFI cubes: give a directory of cubes or FFIs, or a "
            "URL of cubes such as s3://stpubdata/tess/public/mast/"
        )
