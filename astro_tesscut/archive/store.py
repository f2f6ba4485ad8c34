"""What local and remote archives share: one FFI cube per sector, camera and CCD.

A store answers which of its cubes could hold a target (TESS's pointing
model, with a little slack for the edges) and cuts them; subclasses say
which cubes they hold and how to open one.
"""

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

    def candidates(self, coords, sector=None):
        """For each (sector, camera, ccd) that could hold some of ``coords``, their indices.

        Returns
        -------
        dict
            {(sector, camera, ccd): [index into the flattened coords, ...]}, sorted by key.
        """
        from astropy import units as u

        from .geometry import locate

        held = self.held()
        if held is not None:
            sectors = sorted({key[0] for key in held if sector is None or key[0] == sector})
            if not sectors:
                return {}
        else:
            sectors = None if sector is None else [sector]
        reach = locate(coords, radius=_EDGE_SLACK_ARCMIN * u.arcmin, sectors=sectors)
        if held is None:  # a remote store holds what has been released, at best
            reach = reach[reach["released"]]
        groups = {}
        for row in reach:
            key = (int(row["sector"]), int(row["camera"]), int(row["ccd"]))
            if held is None or key in held:
                groups.setdefault(key, []).append(int(row["target"]))
        return dict(sorted(groups.items()))

    def cutouts(self, coord, size, sector=None, *, show_progress=False):
        """Every target pixel file of ``coord`` this store can cut, and the cubes it lacked.

        Returns
        -------
        files : list of (str, `numpy.ndarray`)
            Name and bytes, sorted by name (so by sector, camera and CCD).
        missing : list of str
            Why each cube that could have held the target could not be used.
        """
        files, missing = [], []
        for key in self.candidates(coord, sector):
            try:
                cube = self.cube(key, show_progress=show_progress)
            except InvalidFileError as exc:
                missing.append(str(exc))
                continue
            files.extend(cut(cube, coord.reshape((1,)), size, skip_off_cube=True))
        return sorted(files, key=lambda pair: pair[0]), missing
