"""TESS's pointing model as a backend: which sectors saw a target, offline; no pixels.

What ``query_sectors(offline=True)`` answers without an archive, and what
every archive of cubes finds sectors with
(`~astro_tesscut.backends.cube_store.CubeStore` holds one).
"""

from ..exceptions import InvalidQueryError
from ..sky.geometry import locate
from .base import Backend

__all__ = ["PointingModel"]


class PointingModel(Backend):
    """Sectors from TESS's pointing model (`~astro_tesscut.sky.geometry.locate`)."""

    def sector_table(self, target, radius):
        """`~astro_tesscut.sky.geometry.locate`'s table for one target: the common
        columns, then ``column``, ``row`` and ``released``."""
        table = locate(target.coord, radius=radius)
        table.remove_column("target")
        return table

    def cutouts(self, request, writer):
        raise InvalidQueryError(
            "archive: cutouts offline need FFI cubes: give a directory of cubes or FFIs, or a "
            "URL of cubes such as s3://stpubdata/tess/public/mast/"
        )
