"""`TessCutClass`, the one API for TESS FFI cutouts, and its module-level instance `TessCut`."""

import warnings
from pathlib import Path

from .exceptions import InvalidQueryError, InvalidQueryTypeError, NoResultsWarning
from .files import no_data_message, open_cutouts, save_archive, temporary_path, write_cutouts
from .service import MastService
from .sizes import parse_size
from .targets import parse_radius, parse_sector, parse_target

__all__ = ["TessCut", "TessCutClass"]


class TessCutClass:
    """Cutouts of TESS full-frame images (FFIs), from MAST's TESScut service.

    Every method checks all its arguments before sending any request, and
    raises `~astro_tesscut.InvalidQueryError` (a `ValueError`) or
    `~astro_tesscut.InvalidQueryTypeError` (also a `TypeError`) naming the
    argument at fault.

    Parameters
    ----------
    server : str, optional
        Base URL of the TESScut API; ``conf.server`` by default.
    resolver_server : str, optional
        URL of MAST's name resolver; ``conf.resolver_server`` by default.
    timeout : float, optional
        Seconds to wait for an answer; ``conf.timeout`` by default.

    Examples
    --------
    >>> from astro_tesscut import TessCut
    >>> sectors = TessCut.query_sectors(objectname="TIC 261136679")  # doctest: +REMOTE_DATA
    >>> cutouts = TessCut.get_cutouts(coordinates="84.29119 -80.46912",
    ...                               size=(45, 35), sector=1)  # doctest: +REMOTE_DATA
    """

    def __init__(self, *, server=None, resolver_server=None, timeout=None):
        self._service = MastService(server=server, resolver_server=resolver_server, timeout=timeout)
        self._positions = {}  # object name -> resolved SkyCoord

    def __repr__(self):
        return f"<TessCutClass server={self._service.server!r}>"

    def query_sectors(
        self, *, coordinates=None, objectname=None, radius=None, moving_target=False, mt_type=None
    ):
        """List the TESS sectors, cameras and CCDs that observed a target.

        Parameters
        ----------
        coordinates : str, `~astropy.coordinates.SkyCoord` or (ra, dec), optional
            The position: ``"84.29119 -80.46912"`` (degrees), sexagesimal, a
            scalar `~astropy.coordinates.SkyCoord` in any frame, or a pair of
            degrees. Give this or ``objectname``.
        objectname : str, optional
            A name MAST's resolver knows (``"Pi Men"``, ``"TIC 261136679"``),
            or with ``moving_target`` the JPL Horizons name or id of a
            solar-system body.
        radius : float, str or `~astropy.units.Quantity`, optional
            Also list sectors that observed anything within this angle of
            the position (a number is in degrees). Zero by default. Not
            used with ``moving_target``.
        moving_target : bool, optional
            ``objectname`` names an asteroid, comet or planet; its sectors
            are found along its path.
        mt_type : {'majorbody', 'smallbody'}, optional
            The kind of moving target; by default the service tries both.

        Returns
        -------
        `~astropy.table.Table`
            One row per sector, camera and CCD, sorted by sector, with
            columns ``sectorName`` (str), ``sector``, ``camera``, ``ccd``
            (int). Empty, with a `~astro_tesscut.NoResultsWarning`, when
            nothing observed the target.
        """
        from astropy.table import Table

        target = parse_target(
            coordinates=coordinates,
            objectname=objectname,
            moving_target=moving_target,
            mt_type=mt_type,
        )
        if moving_target and radius is not None:
            raise InvalidQueryError("radius: not used with moving_target=True; leave it out")
        radius = parse_radius(radius)
        rows = self._service.sectors(self._resolved(target), radius)
        if not rows:
            warnings.warn(
                f"no TESS sector observed {_describe(target)}", NoResultsWarning, stacklevel=2
            )
        return Table(
            rows=sorted(rows, key=lambda row: row[1:]) or None,
            names=["sectorName", "sector", "camera", "ccd"],
            dtype=[str, int, int, int],
        )

    def get_cutouts(
        self,
        *,
        coordinates=None,
        objectname=None,
        size=5,
        sector=None,
        moving_target=False,
        mt_type=None,
    ):
        """Cut target pixel files out of the FFIs and return them in memory.

        Parameters
        ----------
        coordinates, objectname, moving_target, mt_type
            The target, as for `query_sectors`.
        size : int, (ny, nx), or `~astropy.units.Quantity`, optional
            A square side, or ``(ny, nx)`` rows and columns, in pixels when
            plain numbers; a `~astropy.units.Quantity` in pixels or any
            angle. 5 pixels by default.
        sector : int, optional
            Only this sector; every sector that observed the target by
            default.

        Returns
        -------
        list of `~astropy.io.fits.HDUList`
            One target pixel file per sector, camera and CCD, sorted by
            sector; ``hdul.filename()`` is the name the service gave it.
            Empty, with a `~astro_tesscut.NoResultsWarning`, when there is
            no data.
        """
        import io

        target, size, sector = self._check_cutout_request(
            coordinates, objectname, size, sector, moving_target, mt_type
        )
        payload = io.BytesIO()
        self._service.fetch_cutouts(self._resolved(target), size, sector, payload)
        message = no_data_message(payload)
        if message is not None:
            warnings.warn(f"no cutout data: {message}", NoResultsWarning, stacklevel=2)
            return []
        return open_cutouts(payload)

    def download_cutouts(
        self,
        *,
        coordinates=None,
        objectname=None,
        size=5,
        sector=None,
        path=".",
        inflate=True,
        moving_target=False,
        mt_type=None,
    ):
        """Cut target pixel files out of the FFIs and write them to disk.

        Files appear under their final names only once they are complete and
        read back as FITS; a failed download leaves no partial file and does
        not touch files already there.

        Parameters
        ----------
        coordinates, objectname, moving_target, mt_type
            The target, as for `query_sectors`.
        size, sector
            As for `get_cutouts`.
        path : str or path-like, optional
            Directory to write into (made if missing); the current
            directory by default.
        inflate : bool, optional
            Write the target pixel files (the default), or keep the zip
            archive the service sent, named
            ``tesscut_<RA>_<Dec>_<x>x<y>[_s<sector>].zip``.

        Returns
        -------
        `~astropy.table.Table`
            Column ``Local Path``: the files written, sorted by sector. Empty,
            with a `~astro_tesscut.NoResultsWarning`, when there is no data.
        """
        from astropy.table import Table

        target, size, sector = self._check_cutout_request(
            coordinates, objectname, size, sector, moving_target, mt_type
        )
        if not isinstance(inflate, bool):
            raise InvalidQueryTypeError(f"inflate: must be True or False, got {inflate!r}")
        directory = _output_directory(path)
        target = self._resolved(target)
        directory.mkdir(parents=True, exist_ok=True)
        with temporary_path(directory, "tesscut.zip") as payload_path:
            with open(payload_path, "xb") as sink:
                self._service.fetch_cutouts(target, size, sector, sink)
            with open(payload_path, "rb") as payload:
                message = no_data_message(payload)
            if message is not None:
                warnings.warn(f"no cutout data: {message}", NoResultsWarning, stacklevel=2)
                paths = []
            elif inflate:
                paths = write_cutouts(payload_path, directory)
            else:
                name = f"tesscut_{target.label}_{size.label}"
                name += f"_s{sector:04d}.zip" if sector is not None else ".zip"
                paths = [save_archive(payload_path, directory / name)]
        return Table([[str(p) for p in paths]], names=["Local Path"], dtype=[str])

    def _check_cutout_request(self, coordinates, objectname, size, sector, moving_target, mt_type):
        target = parse_target(
            coordinates=coordinates,
            objectname=objectname,
            moving_target=moving_target,
            mt_type=mt_type,
        )
        return target, parse_size(size), parse_sector(sector)

    def _resolved(self, target):
        """``target`` with its position, asking the name resolver once per name."""
        if not target.needs_resolving:
            return target
        if target.name not in self._positions:
            self._positions[target.name] = self._service.resolve(target.name)
        return target.at(self._positions[target.name])


def _output_directory(path):
    try:
        directory = Path(path)
    except TypeError as exc:
        raise InvalidQueryTypeError(f"path: must be a directory path, got {path!r}") from exc
    if directory.exists() and not directory.is_dir():
        raise InvalidQueryError(f"path: {str(directory)!r} exists and is not a directory")
    return directory


def _describe(target):
    if target.moving:
        return f"moving target {target.name!r}"
    if target.name:
        return f"{target.name!r} ({target.coord.to_string('decimal', precision=6)})"
    return f"RA, Dec = {target.coord.to_string('decimal', precision=6)}"


TessCut = TessCutClass()
"""The module-level `TessCutClass`, configured by `astro_tesscut.conf`."""
