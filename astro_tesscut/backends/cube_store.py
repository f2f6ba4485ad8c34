"""What local and remote archives share: one FFI cube per sector, camera and CCD.

A store is a backend (`~astro_tesscut.backends.base.Backend`): it answers which
sectors saw a target (from the TESS pointing model it holds), which of its
cubes could hold it or part of its cutout (with a little slack for the
edges), and cuts them; subclasses say where they are, which cubes they hold
and how to open one.
"""

import abc

import numpy as np

from ..cube.cutout import cut_many, pixel_window
from ..exceptions import CorruptResponseError, InvalidFileError
from ..sky.geometry import cube_hits, locate, may_overlap, sector_ranges
from ..sky.pointing import pointing_model
from ..writers import MadeFiles
from .base import Backend, Fetched
from .pointing_model import PointingModel

__all__ = ["CubeStore", "cube_name"]

# Around each target, how far beyond the pointing model's FFI edge a cube is still tried:
# the model and a cube's own WCS differ by a pixel or two near the edges.
_EDGE_SLACK_ARCMIN = 2.0


def cube_name(sector, camera, ccd):
    """MAST's name of a cube: ``tess-s0008-4-1-cube.fits``."""
    return f"tess-s{sector:04d}-{camera}-{ccd}-cube.fits"


class CubeStore(Backend):
    """Base of `~astro_tesscut.backends.local.LocalArchive` and
    `~astro_tesscut.backends.remote.RemoteArchive`: a backend of FFI cubes."""

    storage_options = None  # fsspec options, for remote stores
    finder = PointingModel()  # which sectors saw a target

    @property
    @abc.abstractmethod
    def where(self):
        """The store's directory or URL, as messages name it."""

    @abc.abstractmethod
    def held(self):
        """The (sector, camera, ccd) this store holds, or `None` when it cannot tell cheaply."""

    @abc.abstractmethod
    def cube(self, key, *, show_progress=False):
        """The `~astro_tesscut.cube.ffi_cube.FFICube` of ``key``; raises
        `~astro_tesscut.InvalidFileError` when there is none."""

    @abc.abstractmethod
    def location(self, key):
        """Where a worker opens the cube of ``key`` (a path or URL)."""

    def sky_position(self, pixel):
        """ICRS RA and Dec (degrees) of ``pixel`` (a `~astro_tesscut.targets.FFIPixel`) by
        the WCS of this store's cube of its sector, camera and CCD.

        Raises
        ------
        InvalidFileError
            The store has no such cube, or it cannot be read.
        """
        cube = self.cube((pixel.sector, pixel.camera, pixel.ccd))
        column0, row0 = cube.ccd_origin
        ra, dec = cube.projection.pixel_to_world(
            np.array([pixel.column - 1 - column0]), np.array([pixel.row - 1 - row0])
        )
        return float(ra[0]), float(dec[0])

    def sector_table(self, target, radius):
        """The pointing model's sector table of ``target`` (see
        `~astro_tesscut.backends.pointing_model.PointingModel`), with ``available`` when the
        store knows what it holds."""
        table = self.finder.sector_table(target, radius)
        held = self.held()
        if held is not None:
            keys = zip(table["sector"], table["camera"], table["ccd"], strict=True)
            table["available"] = [key in held for key in keys]
        return table

    def candidates(self, ra, dec, sectors=None, *, radius_deg=0.0):
        """Which of this store's cubes could hold each of many targets.

        Parameters
        ----------
        ra, dec : `numpy.ndarray`
            ICRS degrees.
        sectors : iterable of int, optional
            Only these sectors.
        radius_deg : float, optional
            Also the cubes a circle of this radius round a target reaches (a
            cutout's `~astro_tesscut.sizes.CutoutSize.radius_deg`), beyond the
            slack every target gets.

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
            radius_deg=radius_deg + _EDGE_SLACK_ARCMIN / 60,
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

    def cutouts(self, request, writer):
        """Every target pixel file of the request the store can cut, handed to ``writer`` in
        one go (see `~astro_tesscut.backends.base.Backend.cutouts`): from each cube the cutout
        reaches, in the sectors asked. The cubes it lacked, or could not use, are the reasons
        for no data (each cube's own: the others' files still come).

        Raises
        ------
        ServiceError
            The store's server cannot be reached (no network, a wrong endpoint).
        """
        target, size = request.target, request.size
        ra = np.atleast_1d(target.coord.icrs.ra.deg)
        dec = np.atleast_1d(target.coord.icrs.dec.deg)
        pixel = target.pixel
        if pixel is None:
            keys, _, _ = self.candidates(ra, dec, request.sectors, radius_deg=size.radius_deg())
            tried = list(dict.fromkeys(map(tuple, keys.tolist())))
        else:  # on the pixel's own FFI, placed on the pixel
            tried = [(pixel.sector, pixel.camera, pixel.ccd)]
        if request.time is not None and tried:  # no cube opened for a sector of other dates
            tried = [
                key
                for key, may in zip(
                    tried, may_overlap([k[0] for k in tried], request.time), strict=True
                )
                if may
            ]
        files, failed, missed = {}, {}, {}  # by sector: files made, failures, windows missing
        for key in tried:
            try:
                cube = self.cube(key, show_progress=request.show_progress)
                windows = None if pixel is None else pixel_window(cube, pixel, size)
                (outcome,) = cut_many(cube, ra, dec, size, windows=windows, time=request.time)
                if isinstance(outcome.error, InvalidFileError | CorruptResponseError):
                    raise outcome.error
            except (InvalidFileError, CorruptResponseError) as exc:  # this cube's alone
                failed.setdefault(key[0], []).append(str(exc))
                continue
            if outcome.off_cube:  # its window misses the cube, in space or in time
                missed.setdefault(key[0], []).append(str(outcome.error))
            elif outcome.error is not None:
                raise outcome.error
            else:
                files.setdefault(key[0], []).append(outcome.made)
        no_data = []
        if failed:
            reasons = [reason for sector in failed.values() for reason in sector]
            no_data.append(
                f"{len(reasons)} cube(s) that could hold {target.description} are missing or "
                "unusable: " + "; ".join(reasons)
            )
        if request.sectors is None:  # one answer, as the service gives for every sector
            if not files and not failed:
                no_data.append(self._nothing_cut(request, tried, missed))
            every = [pair for made in files.values() for pair in made]
            return Fetched(writer.take(MadeFiles(every)) if every else [], no_data)
        # One answer per sector asked, as the service gives them; a reason for each without.
        results = []
        for sector in request.sectors:
            if sector in files:
                results += writer.take(MadeFiles(files[sector]), sector=sector)
            elif sector not in failed:
                keys = [key for key in tried if key[0] == sector]
                no_data.append(self._nothing_cut(request.of(sector), keys, missed))
        return Fetched(results, no_data)

    def _nothing_cut(self, request, tried, missed):
        """Why no cube gave a cutout, where none failed: a sector did not observe the
        target, the store lacks its cubes, the target lies off the cubes tried or its time
        window misses them (``missed``: by sector, why)."""
        target = request.target
        if request.time is not None and missed:
            wanted = request.sectors or missed
            return "; ".join(reason for s in wanted for reason in missed.get(s, ()))
        if tried:
            names = ", ".join(cube_name(*key) for key in tried)
            return f"{target.description} lies off {names} in {self.where}"
        if request.time is not None and request.sectors is None:
            return f"no sector of {target.description} has cadences within {request.time}"
        table = locate(target.coord, radius=request.size.radius_deg())
        observed = sorted(set(table["sector"].tolist()))
        if not observed:
            return f"no TESS sector observed {target.description} or the cutout round it"
        public = sorted(set(table["sector"][table["released"]].tolist()))
        later = sorted(set(observed) - set(public))
        seen = "; ".join(
            [
                *([f"observed in {sector_ranges(public)}"] if public else []),
                *([f"{sector_ranges(later)} planned or not public yet"] if later else []),
            ]
        )
        if request.sectors is None:
            return f"{self.where} holds none of the sectors of {target.description} ({seen})"
        reasons = []
        for sector in request.sectors:
            if sector not in observed:
                reasons.append(f"sector {sector} did not observe {target.description} ({seen})")
                continue
            reason = f"sector {sector} is not in {self.where}"
            held = self.held()
            if held:
                sectors = sorted({key[0] for key in held})
                reason += f" (it holds sector{'s' * (len(sectors) > 1)} {sector_ranges(sectors)})"
            if not table["released"][table["sector"] == sector].any():
                reason += f"; sector {sector}'s FFIs may not be public yet"
            reasons.append(reason)
        return "; ".join(reasons)


def _codes(keys):
    """One integer per (sector, camera, ccd) row, for fast membership tests."""
    return (keys[:, 0].astype(np.int64) * 8 + keys[:, 1]) * 8 + keys[:, 2]
