"""Object names to sky positions: through MAST's name resolver (SANTA), or offline.

astroquery has a resolver too, but it opens its own session with no timeout;
this one rides on the client's session so that settings, retries and the
client's bounds on answers (their size and time, redirects) apply.

Offline (``offline=True``, or a client working from an archive) names are
looked up only in the TIC rows that ship with the package
(`~astro_tesscut.catalog.bundled_position`), and a name they do not hold is
an error at once: no request is ever sent.
"""

import math

from .catalog import bundled_names, bundled_position
from .exceptions import (
    CorruptResponseError,
    InvalidQueryError,
    InvalidQueryTypeError,
    ResolverError,
)

__all__ = [
    "RESOLVERS",
    "OfflineNames",
    "OnlineNames",
    "offline_position",
    "parse_resolver",
    "position_from_answer",
    "resolver_params",
]

#: The resolvers SANTA can be told to use, as astroquery's ``resolver`` argument names them.
RESOLVERS = ("SIMBAD", "NED")

# Names of MAST's own catalogues: asked with one resolver, SANTA is told to try them all
# (as astroquery does), and the answer of the resolver asked for is picked from them.
_CATALOG_PREFIXES = ("TIC ", "KIC ", "EPIC ")


def parse_resolver(resolver):
    """Check the ``resolver`` argument: `None` (SANTA's own order), ``"SIMBAD"`` or ``"NED"``.

    Returns
    -------
    str or None
        The resolver's name in capitals, as SANTA names it.
    """
    if resolver is None:
        return None
    if not isinstance(resolver, str):
        raise InvalidQueryTypeError(
            f"resolver: must be one of {', '.join(map(repr, RESOLVERS))} or None, got "
            f"{type(resolver).__name__}"
        )
    if resolver.strip().upper() not in RESOLVERS:
        raise InvalidQueryError(
            f"resolver: must be one of {', '.join(map(repr, RESOLVERS))}, or None for MAST's "
            f"own order of resolvers; got {resolver!r}"
        )
    return resolver.strip().upper()


def resolver_params(name, resolver=None):
    """The query parameters that ask SANTA for the position of ``name``.

    With a ``resolver``, SANTA is asked to use that one; for names in MAST's
    own catalogues (``TIC``, ``KIC``, ``EPIC``) it is asked for every
    resolver's answer instead, as astroquery asks, and
    `position_from_answer` picks that resolver's.
    """
    params = {"name": name, "outputFormat": "json", "resolveAll": "false"}
    if resolver is not None:
        if name.upper().startswith(_CATALOG_PREFIXES):
            params["resolveAll"] = "true"
        else:
            params["resolver"] = resolver
    return params


def position_from_answer(name, answer, resolver=None):
    """The ICRS position SANTA gave for ``name`` in its JSON ``answer``.

    SANTA lists the results of each resolver it asked in its order of
    preference; the first one for this name wins, as on MAST's portal, or,
    with a ``resolver``, the first of that resolver.

    Raises
    ------
    ResolverError
        SANTA knows no position for ``name`` (from ``resolver``).
    CorruptResponseError
        The answer does not have SANTA's shape, or its position is not on the sky.
    """
    from astropy.coordinates import SkyCoord

    try:
        results = answer.get("resolvedCoordinate") or []
        matches = [r for r in results if r.get("searchString", "").lower() == name.lower()]
        candidates = matches or results
        if resolver is not None:
            candidates = [r for r in candidates if str(r.get("resolver", "")).upper() == resolver]
        if not candidates:
            raise ResolverError(_unknown(name, resolver))
        first = candidates[0]
        ra, dec = float(first["ra"]), float(first["decl"])
        if not (math.isfinite(ra) and math.isfinite(dec)):
            raise ValueError(f"the position ({ra}, {dec}) is not finite")
        return SkyCoord(ra, dec, unit="deg", frame="icrs")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptResponseError(
            f"the name resolver's answer for {name!r} has an unexpected shape ({exc!r})"
        ) from exc


def _unknown(name, resolver):
    if resolver is None:
        return (
            f"objectname: MAST's resolver knows no position for {name!r}; check the "
            "spelling, or give coordinates instead"
        )
    others = " or ".join(repr(r) for r in RESOLVERS if r != resolver)
    return (
        f"objectname: MAST's resolver found no position for {name!r} from {resolver}; try "
        f"resolver={others}, or None for every resolver, or give coordinates instead"
    )


def offline_position(name):
    """The position of ``name`` from the TIC rows bundled with the package, sending nothing.

    Raises
    ------
    InvalidQueryError
        The bundled rows do not know ``name``.
    """
    position = bundled_position(name)
    if position is None:
        raise InvalidQueryError(
            f"objectname: {name!r} is not a name known offline; offline (offline=True, or "
            "working from an archive) names are looked up only in the few TIC rows bundled "
            f"with the package ({', '.join(bundled_names())}) and MAST's resolver is not "
            "asked: give coordinates instead"
        )
    return position


class OnlineNames:
    """Object names to ICRS positions through MAST's resolver, asked by ``service`` (a
    `~astro_tesscut.backends.service.MastService`) once per name and resolver."""

    def __init__(self, service):
        self._service = service
        self._known = {}  # (name, resolver) -> SkyCoord

    def position(self, name, *, resolver=None):
        """The position of ``name``, from ``resolver`` (`None`: SANTA's own order).

        Raises
        ------
        ResolverError
            MAST's resolver knows no position for ``name``.
        """
        key = (name, resolver)
        if key not in self._known:
            self._known[key] = self._service.resolve(name, resolver)
        return self._known[key]


class OfflineNames:
    """Object names to ICRS positions from the TIC rows bundled with the package alone
    (`offline_position`): nothing is sent anywhere."""

    def position(self, name, *, resolver=None):
        """The position of ``name`` in the bundled rows.

        Raises
        ------
        InvalidQueryError
            A ``resolver`` was asked for (only MAST's resolver has them), or the
            bundled rows do not know ``name``.
        """
        if resolver is not None:
            raise InvalidQueryError(
                f"resolver: offline, names are looked up in the TIC rows bundled with the "
                f"package, not by {resolver}; leave resolver out, or give coordinates"
            )
        return offline_position(name)
