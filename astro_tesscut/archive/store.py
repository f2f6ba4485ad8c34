"""What local and remote archives share: one FFI cube per sector, camera and CCD.

A store answers which of its cubes could hold a target (TESS's pointing
model, with a little slack for the edges) and cuts them; subclasses say
which cubes they hold and how to open one.
"""

import numpy as np

from ..exceptions import InvalidFileError
from .cutout import cut

__all__ = ["CubeStore", "cube_name"]

# Around each target, how far beyond the pointing model's FFI edge a cube is still tried:
# the model and a cube's own WCS differ by a pixel or two near the edges.
_EDGE_SLACK_ARCMIN = 2.0


def cube_name(sector, camera, ccd):
    """MAST's name of a cube: ``tess-s0008-4-1-cube.fits``."""
    return f"tess-s{sector:04d}-{camera}-{ccd}-cube.fits"


class CubeStore:
    """Base of `~astro_tesscut.archive.local.LocalArchive` and
    `~astro_tesscut.archive.remote.RemoteArchive`."""

    storage_options = None  # fsspec options, for remote stores

    def held(self):
        """The (sector, camera, ccd) this store holds, or `None` when it cannot tell cheaply."""
        raise NotImplementedError

    def cube(self, key, *, show_progress=False):
        """The `~astro_tesscut.archive.cube.FFICube` of ``key``; raises
        `~astro_tesscut.InvalidFileError` when there is none."""
        raise NotImplementedError

    def sectors(self, coord, radius, *, now=None):
        """The offline sector table of ``coord`` (`~astro_tesscut.archive.geometry.locate`,
        one target), with ``available`` when the store knows what it holds."""
        from .geometry import locate

        table = locate(coord, radius=radius, now=now)
        table.remove_column("target")
        held = self.held()
        if held is not None:
            keys = zip(table["sector"], table["camera"], table["ccd"], strict=True)
            table["available"] = [key in held for key in keys]
        return table

    def candidates(self, ra, dec, sectors=None):
        """Which of this store's cubes could hold each of many targets.

        Parameters
        ----------
        ra, dec : `numpy.ndarray`
            ICRS degrees.
        sectors : iterable of int, optional
            Only these sectors.

        Returns
        -------
        keys : `numpy.ndarray`
            Integer (k, 3): sector, camera and CCD of each (cube, target) pair.
        targets : `numpy.ndarray`
            Integer (k,): index of the target into ``ra`` and ``dec``; pairs are
            sorted by cube, then by target.
        pixels : `numpy.ndarray`
            Float (k, 2): the target's 1-based FFI column and row on the cube, as
            the pointing model places it (a pixel or two from the cube's WCS).
        """
        from .geometry import cube_hits
        from .pointing import pointing_model

        held = self.held()
        if held is not None:
            known = {int(sector) for sector in pointing_model().sectors}
            available = {key[0] for key in held} & known
            sectors = sorted(available if sectors is None else available & set(sectors))
        if sectors is not None and not sectors:
            return (
                np.empty((0, 3), dtype=np.int32),
                np.empty(0, dtype=np.int64),
                np.empty((0, 2), dtype=np.float32),
            )
        target, sector, camera, ccd, column, row = cube_hits(
            ra,
            dec,
            radius_deg=_EDGE_SLACK_ARCMIN / 60,
            sectors=sectors,
            released_only=held is None,  # a remote store holds what has been released, at best
        )
        keys = np.stack([sector, camera, ccd], axis=1)
        pixels = np.stack([column, row], axis=1)
        if held is not None:
            kept = np.isin(_codes(keys), _codes(np.array(sorted(held)).reshape(-1, 3)))
            keys, target, pixels = keys[kept], target[kept], pixels[kept]
        order = np.lexsort((target, keys[:, 2], keys[:, 1], keys[:, 0]))
        return keys[order], target[order], pixels[order]

    def cutouts(self, coord, size, sector=None, *, show_progress=False):
        """Every target pixel file of ``coord`` this store can cut, and the cubes it lacked.

        Returns
        -------
        files : list of (str, `numpy.ndarray`)
            Name and bytes, sorted by name (so by sector, camera and CCD).
        missing : list of str
            Why each cube that could have held the target could not be used.
        """
        ra, dec = np.atleast_1d(coord.icrs.ra.deg), np.atleast_1d(coord.icrs.dec.deg)
        keys, _, _ = self.candidates(ra, dec, None if sector is None else [sector])
        files, missing = [], []
        for key in dict.fromkeys(map(tuple, keys.tolist())):
            try:
                cube = self.cube(key, show_progress=show_progress)
            except InvalidFileError as exc:
                missing.append(str(exc))
                continue
            files.extend(cut(cube, ra, dec, size, skip_off_cube=True))
        return sorted(files, key=lambda pair: pair[0]), missing


def _codes(keys):
    """One integer per (sector, camera, ccd) row, for fast membership tests."""
    return (keys[:, 0].astype(np.int64) * 8 + keys[:, 1]) * 8 + keys[:, 2]
