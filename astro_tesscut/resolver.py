"""Object names to sky positions, through MAST's name resolver (SANTA).

astroquery has a resolver too, but it opens its own session with no timeout;
this one rides on the client's session so that settings, retries and the
client's bounds on answers (their size and time, redirects) apply.
"""

import math

from .exceptions import CorruptResponseError, ResolverError

__all__ = ["position_from_answer", "resolver_params"]


def resolver_params(name):
    """The query parameters that ask SANTA for the position of ``name``."""
    return {"name": name, "outputFormat": "json", "resolveAll": "false"}


def position_from_answer(name, answer):
    """The ICRS position SANTA gave for ``name`` in its JSON ``answer``.

    SANTA lists the results of each resolver it asked in its order of
    preference; the first one for this name wins, as on MAST's portal.

    Raises
    ------
    ResolverError
        SANTA knows no position for ``name``.
    CorruptResponseError
        The answer does not have SANTA's shape, or its position is not on the sky.
    """
    from astropy.coordinates import SkyCoord

    try:
        results = answer.get("resolvedCoordinate") or []
        matches = [r for r in results if r.get("searchString", "").lower() == name.lower()]
        first = (matches or results)[0] if results else None
        if first is None:
            raise ResolverError(
                f"objectname: MAST's resolver knows no position for {name!r}; check the "
                "spelling, or give coordinates instead"
            )
        ra, dec = float(first["ra"]), float(first["decl"])
        if not (math.isfinite(ra) and math.isfinite(dec)):
            raise ValueError(f"the position ({ra}, {dec}) is not finite")
        return SkyCoord(ra, dec, unit="deg", frame="icrs")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptResponseError(
            f"the name resolver's answer for {name!r} has an unexpected shape ({exc!r})"
        ) from exc
