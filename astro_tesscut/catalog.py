"""Stars near a target, from the TESS Input Catalog (TIC): through astroquery, or offline
from the few rows that ship with the package."""

import warnings

from .exceptions import NoResultsWarning, ServiceError, TessCutWarning

__all__ = [
    "BUNDLED_REACH",
    "bundled_cone",
    "bundled_names",
    "bundled_position",
    "bundled_stars",
    "query_bundled_tic",
    "query_tic",
]

#: The bundled rows are every TIC entry within this many arcmin of their first row's star,
#: TIC 261136679 (Pi Mensae), as their file's description says: a cone inside that one is
#: answered in full offline, any other only in part.
BUNDLED_REACH = 5


def query_tic(coord, radius):
    """The TIC entries within ``radius`` of ``coord``, nearest first.

    Parameters
    ----------
    coord : `~astropy.coordinates.SkyCoord`
        The centre (ICRS).
    radius : `~astropy.coordinates.Angle`
        The search radius.

    Returns
    -------
    `~astropy.table.Table`
        Every column MAST returns (``ID``, ``Tmag``, ``Jmag``, ``ra``, ``dec``,
        ``objType``, ...) plus ``distance`` from ``coord`` (arcsec), sorted by
        it.
    """
    import requests
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astroquery.exceptions import NoResultsWarning as AstroqueryNoResults
    from astroquery.exceptions import RemoteServiceError
    from astroquery.mast import Catalogs

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstroqueryNoResults)  # ours, below, says more
            # "Tic" makes astroquery ask for MAST's documented service, Mast.Catalogs.Tic.Cone.
            table = Catalogs.query_region(coord, radius=radius, catalog="Tic")
    except requests.HTTPError as exc:
        raise ServiceError(
            f"the TIC query failed: {exc}",
            status_code=exc.response.status_code if exc.response is not None else None,
            url=exc.request.url if exc.request is not None else "",
        ) from exc
    except (requests.RequestException, RemoteServiceError, TimeoutError) as exc:
        raise ServiceError(f"the TIC query failed: {exc}") from exc

    if len(table) == 0 or "ra" not in table.colnames:
        warnings.warn(
            f"no TIC entry within {radius.to(u.arcmin):.2f} of "
            f"{coord.to_string('decimal', precision=6)}",
            NoResultsWarning,
            stacklevel=3,
        )
        table = table[:0]
        table["distance"] = [] * u.arcsec
        return table
    stars = SkyCoord(table["ra"], table["dec"], unit="deg")
    table["distance"] = coord.separation(stars).to(u.arcsec)
    table["distance"].info.description = "angular distance from the search centre"
    table.sort("distance")
    return table


def bundled_stars():
    """The TIC rows that ship with the package: the worked example's, around Pi Mensae.

    Returns
    -------
    `~astropy.table.Table`
        Columns ID, name (aliases separated by ``|``), ra, dec, Tmag, Jmag,
        objType.
    """
    from importlib.resources import files

    from astropy.table import Table

    return Table.read(
        files("astro_tesscut") / "data" / "pi_men_neighbours.ecsv", format="ascii.ecsv"
    )


def _aliases(row):
    """The names of a bundled row: ``TIC <ID>`` and those of its ``name`` column (masked when
    it has none)."""
    return [f"TIC {row['ID']}", *(row["name"].split("|") if row["name"] else [])]


def _squeezed(name):
    return "".join(name.lower().split())


def bundled_names():
    """The names the bundled rows answer to offline (``"TIC 261136679"``, ``"Pi Men"``, ...)."""
    return [alias for row in bundled_stars() for alias in _aliases(row)]


def bundled_position(name):
    """The position of ``name`` ("TIC 261136679", "Pi Men", ...) if the bundled rows
    know it, else `None`: names offline, without MAST's resolver. Case and spaces do not
    matter ("pimen" is "Pi Men")."""
    from astropy.coordinates import SkyCoord

    wanted = _squeezed(name)
    for row in bundled_stars():
        if wanted in map(_squeezed, _aliases(row)):
            return SkyCoord(row["ra"], row["dec"], unit="deg", frame="icrs")
    return None


def bundled_cone(coord, radius):
    """The bundled TIC rows within ``radius`` of ``coord``, nearest first, with ``distance``."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    table = bundled_stars()
    table["distance"] = coord.separation(SkyCoord(table["ra"], table["dec"])).to(u.arcsec)
    table = table[table["distance"] <= radius]
    table.sort("distance")
    return table


def query_bundled_tic(coord, radius):
    """`query_tic` offline: the bundled TIC rows within ``radius`` of ``coord``, nearest first.

    The bundled rows are a small sample: every TIC entry within
    `BUNDLED_REACH` arcmin of Pi Mensae and nothing else. A cone that reaches
    beyond them is answered in part, with a `~astro_tesscut.TessCutWarning`
    saying so, or, when it holds none of them, with a
    `~astro_tesscut.NoResultsWarning`.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``ID``, ``name``, ``ra``, ``dec``, ``Tmag``, ``Jmag``,
        ``objType`` and ``distance`` (arcsec); its ``meta["description"]``
        says where the rows come from.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    table = bundled_cone(coord, radius)
    first = bundled_stars()[0]
    centre = SkyCoord(first["ra"], first["dec"], unit="deg")
    if coord.separation(centre) + radius <= BUNDLED_REACH * u.arcmin:
        return table
    where = (
        f"within {radius.to(u.arcmin):.2f} of {coord.to_string('decimal', precision=6)} among the "
        f"TIC rows bundled for offline use (only those within {BUNDLED_REACH} arcmin of Pi "
        "Mensae, TIC 261136679); ask online (offline=False, no archive) for the whole catalog"
    )
    if len(table):
        warnings.warn(f"only {len(table)} TIC entries {where}", TessCutWarning, stacklevel=3)
    else:
        warnings.warn(f"no TIC entry {where}", NoResultsWarning, stacklevel=3)
    return table
