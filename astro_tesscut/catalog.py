"""Stars near a target, from the TESS Input Catalog (TIC) through astroquery."""

import warnings

from .exceptions import NoResultsWarning, ServiceError

__all__ = ["bundled_cone", "bundled_position", "bundled_stars", "query_tic"]


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


def bundled_position(name):
    """The position of ``name`` ("TIC 261136679", "Pi Men", ...) if the bundled rows
    know it, else `None`: names offline, without MAST's resolver."""
    from astropy.coordinates import SkyCoord

    wanted = "".join(name.lower().split())
    for row in bundled_stars():
        aliases = [f"tic{row['ID']}"]
        if row["name"]:
            aliases += ["".join(alias.lower().split()) for alias in row["name"].split("|")]
        if wanted in aliases:
            return SkyCoord(row["ra"], row["dec"], unit="deg")
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
