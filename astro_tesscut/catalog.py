"""Stars near a target, from the TESS Input Catalog (TIC) through astroquery."""

import warnings

from .exceptions import NoResultsWarning, ServiceError

__all__ = ["query_tic"]


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
