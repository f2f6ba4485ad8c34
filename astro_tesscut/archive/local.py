"""The local backend: a directory of FFI cubes and/or FFIs, used as TESScut would be.

Cubes are found by MAST's naming (``tess-sSSSS-C-D-cube.fits``) and FFIs by
SPOC's (``tess<time>-sSSSS-C-D-<...>_ffic.fits``), anywhere under the
directory. FFIs without a cube are built into one, once, in the cache
directory. Sectors come from the offline pointing model; cutouts from the
cubes, in TESScut's format.
"""

import hashlib
import re
from pathlib import Path

from ..exceptions import InvalidQueryError
from .cube import open_cube
from .cutout import cut

__all__ = ["LocalArchive"]

_CUBE_NAME = re.compile(r"^tess-s(\d{4})-(\d)-(\d)-cube\.fits$")
_FFI_NAME = re.compile(r"^tess\d+-s(\d{4})-(\d)-(\d)-\d+-[a-z]_ffic\.fits$")
# Around each target, how far beyond the pointing model's FFI edge a cube is still tried:
# the model and a cube's own WCS differ by a pixel or two near the edges.
_EDGE_SLACK_ARCMIN = 2.0


class LocalArchive:
    """FFI cubes and FFIs under ``directory``, as a source of sectors and cutouts.

    Parameters
    ----------
    directory : path-like
        Searched recursively for cubes and FFIs.
    cube_cache : path-like, optional
        Where cubes built from FFIs are kept; by default
        ``astro_tesscut/cubes`` in the astropy cache directory.
    """

    def __init__(self, directory, *, cube_cache=None):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InvalidQueryError(
                f"archive: {str(self.directory)!r} is not a directory of FFI cubes or FFIs"
            )
        self._cube_cache = cube_cache

    def __repr__(self):
        return f"<LocalArchive {str(self.directory)!r}>"

    def inventory(self):
        """What the archive holds: {(sector, camera, ccd): cube path or list of FFI paths}."""
        cubes, ffis = {}, {}
        for path in sorted(self.directory.rglob("tess*.fits")):
            if match := _CUBE_NAME.match(path.name):
                cubes[tuple(map(int, match.groups()))] = path
            elif match := _FFI_NAME.match(path.name):
                ffis.setdefault(tuple(map(int, match.groups())), []).append(path)
        return {**ffis, **cubes}  # a cube, when there is one, wins over loose FFIs

    def sectors(self, coord, radius, *, now=None):
        """The offline sector table of ``coord``, with ``available`` marking what is here.

        Returns
        -------
        `~astropy.table.Table`
            As `~astro_tesscut.archive.geometry.locate`, one target, plus a
            boolean ``available`` column.
        """
        from .geometry import locate

        table = locate(coord, radius=radius, now=now)
        held = self.inventory()
        table["available"] = [
            (s, c, d) in held
            for s, c, d in zip(table["sector"], table["camera"], table["ccd"], strict=True)
        ]
        table.remove_column("target")
        return table

    def cutouts(self, coord, size, sector=None, *, show_progress=False):
        """``(name, bytes)`` of every target pixel file of ``coord`` this archive can cut.

        Parameters
        ----------
        coord : `~astropy.coordinates.SkyCoord`
            The target (scalar).
        size : `~astro_tesscut.sizes.CutoutSize`
            The cutout size.
        sector : int, optional
            Only this sector.
        show_progress : bool, optional
            Show progress bars while cubes are built from FFIs.

        Returns
        -------
        list of (str, bytes)
            Sorted by name, that is by sector, camera and CCD.
        """
        from astropy import units as u

        from .geometry import locate

        held = self.inventory()
        wanted = sorted(key for key in held if sector is None or key[0] == sector)
        if not wanted:
            return []
        reach = locate(
            coord, radius=_EDGE_SLACK_ARCMIN * u.arcmin, sectors=sorted({k[0] for k in wanted})
        )
        hits = {(int(s), int(c), int(d)) for s, c, d in reach["sector", "camera", "ccd"]}
        results = []
        for key in wanted:
            if key in hits:
                cube = self._cube(key, held[key], show_progress)
                results.extend(cut(cube, coord.reshape((1,)), size, skip_off_cube=True))
        return sorted(results, key=lambda pair: pair[0])

    def _cube(self, key, source, show_progress):
        if isinstance(source, Path):
            return open_cube(source)
        return open_cube(self._built_cube(key, source, show_progress))

    def _built_cube(self, key, ffis, show_progress):
        """The cube of these FFIs in the cube cache, built the first time it is asked for."""
        from .build import build_cube

        fingerprint = hashlib.sha256()
        for path in ffis:
            stat = path.stat()
            fingerprint.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        sector, camera, ccd = key
        path = self._cache_directory() / fingerprint.hexdigest()[:24]
        path /= f"tess-s{sector:04d}-{camera}-{ccd}-cube.fits"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            build_cube(ffis, path, sector=sector, show_progress=show_progress)
        return path

    def _cache_directory(self):
        if self._cube_cache is not None:
            return Path(self._cube_cache)
        from astropy.config import get_cache_dir

        return Path(get_cache_dir()) / "astro_tesscut" / "cubes"
