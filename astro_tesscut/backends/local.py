"""A directory of FFI cubes and/or FFIs on disk, as a backend used as TESScut would be.

Cubes are found by MAST's naming (``tess-sSSSS-C-D-cube.fits``) and FFIs by
SPOC's (``tess<time>-sSSSS-C-D-<...>_ffic.fits``), anywhere under the
directory. FFIs without a cube are built into one, once, in the cache
directory. Sectors come from the offline pointing model; cutouts from the
cubes, in TESScut's format.
"""

import hashlib
import re
from pathlib import Path

from ..cube import build
from ..cube.cutout import prepare_cube
from ..exceptions import InvalidFileError, InvalidQueryError
from .cube_store import CubeStore, cube_name

__all__ = ["LocalArchive"]

_CUBE_NAME = re.compile(r"^tess-s(\d{4})-(\d)-(\d)-cube\.fits$")
_FFI_NAME = re.compile(r"^tess\d+-s(\d{4})-(\d)-(\d)-\d+-[a-z]_ffic\.fits$")


class LocalArchive(CubeStore):
    """FFI cubes and FFIs under ``directory``, as a source of sectors and cutouts.

    Parameters
    ----------
    directory : path-like
        Searched recursively for cubes and FFIs.
    built_cubes : path-like, optional
        Where cubes built from FFIs are kept; by default
        ``astro_tesscut/cubes`` in the astropy cache directory.
    """

    def __init__(self, directory, *, built_cubes=None):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InvalidQueryError(
                f"archive: {str(self.directory)!r} is not a directory of FFI cubes or FFIs"
            )
        self._built_cubes = built_cubes
        self._inventory = {}  # the last walk of the directory

    def __repr__(self):
        return f"LocalArchive({str(self.directory)!r})"

    @property
    def where(self):
        return str(self.directory)

    def inventory(self):
        """What the archive holds: {(sector, camera, ccd): cube path or list of FFI paths},
        regular files only."""
        cubes, ffis = {}, {}
        for path in sorted(self.directory.rglob("tess*.fits")):
            cube, ffi = _CUBE_NAME.match(path.name), _FFI_NAME.match(path.name)
            # Only regular files (or links to them): a directory so named cannot be read,
            # opening a FIFO waits for a writer, and either would hide the sector's FFIs.
            if not (cube or ffi) or not path.is_file():
                continue
            if cube:
                cubes[tuple(map(int, cube.groups()))] = path
            else:
                ffis.setdefault(tuple(map(int, ffi.groups())), []).append(path)
        self._inventory = {**ffis, **cubes}  # a cube, when there is one, wins over loose FFIs
        return self._inventory

    def held(self):
        """The (sector, camera, ccd) of the cubes and FFIs under the directory."""
        return set(self.inventory())

    def cube(self, key, *, show_progress=False):
        """The cube of ``key``: the archive's, or one built once from its FFIs."""
        # The walk that found the key (held, just before) usually still holds it.
        held = self._inventory if key in self._inventory else self.inventory()
        if key not in held:
            raise InvalidFileError(
                f"cube: {self.directory} holds no cube or FFIs of sector {key[0]}, camera "
                f"{key[1]}, CCD {key[2]}"
            )
        return prepare_cube(self.location(key, held[key], show_progress=show_progress), key=key)

    def location(self, key, source=None, *, show_progress=False):
        """The path of the cube of ``key``, built from the archive's FFIs if need be."""
        if source is None:
            source = (self._inventory if key in self._inventory else self.inventory())[key]
        if isinstance(source, Path):
            return source
        return self._built_cube(key, source, show_progress)

    def _built_cube(self, key, ffis, show_progress):
        """The cube of these FFIs in the cube cache, built the first time it is asked for."""
        fingerprint = hashlib.sha256()
        for path in ffis:
            stat = path.stat()
            fingerprint.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        path = self._built_cubes_directory() / fingerprint.hexdigest()[:24] / cube_name(*key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            build.build_cube(ffis, path, sector=key[0], show_progress=show_progress)
        return path

    def _built_cubes_directory(self):
        if self._built_cubes is not None:
            return Path(self._built_cubes)
        from astropy.config import get_cache_dir

        return Path(get_cache_dir()) / "astro_tesscut" / "cubes"
