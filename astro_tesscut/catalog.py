"""Stars near a target, from the TESS Input Catalog (TIC): MAST's cone search online
(`TicCatalog`, a request of the service's own), or offline from the few rows that ship
with the package."""

import json
import time
import uuid
import warnings
from urllib.parse import urlsplit

from .exceptions import CorruptResponseError, NoResultsWarning, ServiceError, TessCutWarning
from .retries import RetryPolicy, retry
from .transport import one_line

__all__ = [
    "BUNDLED_REACH",
    "TicCatalog",
    "bundled_cone",
    "bundled_names",
    "bundled_position",
    "bundled_stars",
    "query_bundled_tic",
]

#: The bundled rows are every TIC entry within this many arcmin of their first row's star,
#: TIC 261136679 (Pi Mensae), as their file's description says: a cone inside that one is
#: answered in full offline, any other only in part.
BUNDLED_REACH = 5

# MAST's portal API, as its documentation and astroquery (0.4.x, ``Catalogs.query_region(...,
# catalog="Tic")``) speak it: the service's column metadata, then the cone search itself.
_SERVICE = "Mast.Catalogs.Tic.Cone"
_COLUMNS_CONFIG = "/portal/Mashup/Mashup.asmx/columnsconfig"
_INVOKE = "/api/v0/invoke"
_HEADERS = {"Accept": "text/plain"}  # with the form's Content-Type, as MAST documents

# A Mashup field type to the numpy type of its column and the value of a missing cell
# (astroquery.mast.utils.parse_type); other types are read as strings.
_FIELD_TYPES = {
    "char": (str, ""),
    "string": (str, ""),
    "datetime": (str, ""),
    "date": (str, ""),
    "double": ("float64", float("nan")),
    "float": ("float64", float("nan")),
    "decimal": ("float64", float("nan")),
    "int": ("int64", -999),
    "short": ("int64", -999),
    "long": ("int64", -999),
    "number": ("int64", -999),
    "boolean": (bool, None),
    "binary": (bool, None),
    "unsignedbyte": ("uint8", -999),
}


class _StillExecuting(Exception):
    """MAST answered EXECUTING: ask again (see `TicCatalog._page`)."""


class _Failed(Exception):
    """A request of the polling failed: ``error``, its `ServiceError`, ends the polling as
    it is."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class TicCatalog:
    """The TIC's cone search on MAST, through a `~astro_tesscut.backends.service.MastService`:
    the same session, deadline (``conf.request_deadline``), retries, answer size limits,
    redirect rules and one-line errors as every other request of the package.

    It asks MAST's portal API what astroquery's ``Catalogs.query_region(...,
    catalog="Tic")`` asks: the column metadata of ``Mast.Catalogs.Tic.Cone``
    (once), then the cone, page by page, asking again while MAST says
    EXECUTING; the answer becomes the table astroquery makes of it.

    Parameters
    ----------
    service : `~astro_tesscut.backends.service.MastService`
        What sends the requests.
    server : str, optional
        MAST's portal (``https://mast.stsci.edu``); by default the scheme and host
        of the service's TESScut URL (``conf.server``), read at each request.

    Notes
    -----
    Each answer, one page of at most ``page_size`` rows, may inflate to
    ``max_page_bytes``; the cone may have ``max_pages`` pages. MAST is asked
    again while it is still working, for ``conf.timeout`` seconds in all (as
    astroquery polls for its own ``timeout``).
    """

    #: Rows asked for in one answer. astroquery asks for 50,000: with the TIC's 120-odd
    #: fields named in every row, well over 100 MB of JSON in one answer.
    page_size = 5000
    #: Most bytes one answer (one page) may inflate to.
    max_page_bytes = 64 << 20
    #: Most pages of one cone: ``page_size * max_pages`` TIC entries.
    max_pages = 200

    def __init__(self, service, server=None):
        self.service = service
        self._server = server
        self._columns = None  # the column metadata, once MAST gave it

    @property
    def server(self):
        """MAST's portal: scheme and host, no path."""
        if self._server:
            return self._server.rstrip("/")
        parts = urlsplit(self.service.server)
        return f"{parts.scheme}://{parts.netloc}"

    def __repr__(self):
        return f"TicCatalog({self.service!r})"

    def cone(self, coord, radius):
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
            ``objType``, ...), with astroquery's types and masks, plus ``distance``
            from ``coord`` (arcsec), sorted by it. An empty cone warns
            (`~astro_tesscut.NoResultsWarning`).

        Raises
        ------
        ServiceError
            MAST failed to answer (after the retries), answered with an error,
            or was still working after ``conf.timeout`` seconds.
        CorruptResponseError
            An answer is not what MAST sends (not JSON, too large, another shape).
        """
        try:
            table = self._cone(coord, radius)
        except ServiceError as exc:  # one line, saying what failed
            raise _failed(exc) from exc
        return _nearest_first(table, coord, radius)

    def _cone(self, coord, radius):
        from astropy.table import vstack

        columns = self._column_config()
        request = {
            "service": _SERVICE,
            "params": {
                "ra": float(coord.ra.deg),
                "dec": float(coord.dec.deg),
                "radius": float(radius.deg),
            },
            "format": "json",
            "pagesize": int(self.page_size),
            "page": 1,
            "cacheBreaker": str(uuid.uuid4()),  # astroquery's: one for every page and poll
        }
        url = self.server + _INVOKE
        first = self._page(request)
        pages = _paging(first, url)
        if pages > self.max_pages:
            raise ServiceError(
                f"the cone holds more than {self.max_pages * self.page_size:,} TIC entries "
                f"({pages} pages of {self.page_size:,}); ask for a smaller radius",
                url=url,
            )
        tables = [_mashup_table(first, columns, url)]
        del first  # each page's JSON goes once it is a table
        for page in range(2, pages + 1):
            tables.append(_mashup_table(self._page({**request, "page": page}), columns, url))
        return vstack(tables)

    def _column_config(self):
        """The column metadata of the TIC's cone search (each column's ``ignoreValue``, the
        value of a missing cell), asked for once."""
        if self._columns is None:
            answer = self.service.request_json(
                self.server + _COLUMNS_CONFIG, form={"colConfigId": _SERVICE}, headers=_HEADERS
            )
            # An empty answer is how MAST says it has none (astroquery reads it so too).
            self._columns = answer if isinstance(answer, dict) else {}
        return self._columns

    def _page(self, request):
        """MAST's COMPLETE answer to ``request`` (one page), asked again while it says
        EXECUTING, for ``conf.timeout`` seconds in all (the waits between as retries
        wait, a little longer each time)."""
        url = self.server + _INVOKE
        form = {"request": json.dumps(request)}
        seconds = self.service.timeout
        ends = time.monotonic() + seconds

        def ask():
            try:
                answer = self.service.request_json(
                    url, form=form, headers=_HEADERS, limit=self.max_page_bytes
                )
            except ServiceError as exc:  # through the polling as it is (its attempts)
                raise _Failed(exc) from exc
            if _status(answer) == "EXECUTING" and time.monotonic() < ends:
                raise _StillExecuting()
            return answer

        polling = RetryPolicy(retries=10**6, backoff=0.5, max_wait=5.0, budget=seconds)
        try:
            answer, _ = retry(
                ask, polling, is_transient=lambda exc: isinstance(exc, _StillExecuting)
            )
        except _Failed as failed:
            raise failed.error from failed.error.__cause__
        except _StillExecuting:  # the next wait would overrun the time
            answer = {"status": "EXECUTING"}
        status = _status(answer)
        if status == "EXECUTING":
            raise ServiceError(
                f"MAST was still running the TIC query after {seconds:g} s (conf.timeout)",
                url=url,
            )
        if status == "ERROR":
            message = one_line(str(answer.get("msg") or "")) or "no message"
            raise ServiceError(f"MAST's answer: {message}", url=url)
        if status != "COMPLETE":
            raise CorruptResponseError(
                f"the answer's status is {one_line(repr(status))[:100]}, not COMPLETE, "
                "EXECUTING or ERROR",
                url=url,
            )
        return answer


def _status(answer):
    """The ``status`` of a Mashup answer: COMPLETE, EXECUTING, ERROR (or garbage)."""
    return answer.get("status") if isinstance(answer, dict) else None


def _failed(exc):
    """``exc``, a failure of the TIC query, saying so."""
    error = type(exc)(
        f"the TIC query failed: {exc.message}",
        status_code=exc.status_code,
        url=exc.url,
        retry_after=exc.retry_after,
    )
    error.attempts = exc.attempts
    return error


def _paging(answer, url):
    """How many pages the cone has, from the first page's ``paging``: 1 without one."""
    paging = answer.get("paging")
    if paging is None:
        return 1
    try:
        pages = int(paging["pagesFiltered"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise CorruptResponseError(
            f"the answer's paging has an unexpected shape ({one_line(str(exc))})", url=url
        ) from exc
    return max(pages, 1)


def _mashup_table(answer, columns, url):
    """One page of MAST's answer, ``{"fields": [...], "data": [{row}, ...]}``, as a
    masked `~astropy.table.Table` the way astroquery makes it: its fields in order
    (but ``_selected_``), a missing cell the column's ``ignoreValue`` in
    ``columns`` or its type's, masked (a NaN stays unmasked, as astroquery
    leaves it)."""
    import numpy as np
    from astropy.table import MaskedColumn, Table

    table = Table(masked=True)
    try:
        rows = answer["data"]
        fields = [(field["name"], str(field["type"])) for field in answer["fields"]]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError("data is not a list of rows")
        for name, kind in fields:
            if name == "_selected_" or name in table.colnames:
                continue
            dtype, missing = _FIELD_TYPES.get(kind.lower(), (str, ""))
            properties = columns.get(name)
            ignore = properties.get("ignoreValue") if isinstance(properties, dict) else None
            if ignore is None:
                ignore = missing
            values = np.array([row.get(name, ignore) for row in rows], dtype=object)
            if ignore is not None:
                values[np.equal(values, None)] = ignore
            mask = np.equal(values, ignore)
            table.add_column(MaskedColumn(values.astype(dtype), name=name, mask=mask))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise CorruptResponseError(
            f"the TIC answer has an unexpected shape ({one_line(str(exc))[:200]})", url=url
        ) from exc
    return table


def _nearest_first(table, coord, radius):
    """``table`` of TIC entries with their ``distance`` from ``coord``, nearest first; an
    empty one (with a `~astro_tesscut.NoResultsWarning`) when the cone held none."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    if len(table) == 0 or "ra" not in table.colnames:
        warnings.warn(
            f"no TIC entry within {radius.to(u.arcmin):.2f} of "
            f"{coord.to_string('decimal', precision=6)}",
            NoResultsWarning,
            stacklevel=4,
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
    """`TicCatalog.cone` offline: the bundled TIC rows within ``radius`` of ``coord``,
    nearest first.

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
