"""The service backend: TESScut's REST API (and MAST's name resolver) over HTTP."""

import json
import platform
import weakref

from ._version import __version__
from .backend import SECTOR_COLUMNS, Backend, Fetched
from .config import conf
from .exceptions import CorruptResponseError, ServiceError
from .files import no_data_message
from .resolver import position_from_answer, resolver_params
from .retries import RetryPolicy, parse_retry_after, retry
from .writers import ZipAnswer

__all__ = ["MastService"]

_CHUNK_BYTES = 1 << 20

# Statuses that say "try again later": too many requests, or an overloaded or
# timed-out service (TESScut answers 504 when a cutout takes too long).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class MastService(Backend):
    """MAST's TESScut service, reached through one `requests.Session`.

    One request per call: `~astro_tesscut.per_sector.PerSector` splits a
    target's sectors into requests, `~astro_tesscut.cache.Cached` keeps the
    verified answers.

    Parameters
    ----------
    server, resolver_server : str, optional
        Base URL of TESScut and URL of the name resolver; by default
        ``conf.server`` and ``conf.resolver_server``, read at each request.
    timeout : float, optional
        Seconds to wait for an answer; by default ``conf.timeout``.
    """

    moving_targets = True

    def __init__(self, *, server=None, resolver_server=None, timeout=None):
        self._server = server
        self._resolver_server = resolver_server
        self._timeout = timeout
        self._session = None

    @property
    def server(self):
        """Base URL of the TESScut API, ending in ``/``."""
        return (self._server or conf.server).rstrip("/") + "/"

    @property
    def resolver_server(self):
        """URL of MAST's name resolver."""
        return self._resolver_server or conf.resolver_server

    @property
    def timeout(self):
        """Seconds to wait for the service to answer."""
        return float(self._timeout if self._timeout is not None else conf.timeout)

    @property
    def session(self):
        """The `requests.Session` every request of this client goes through."""
        if self._session is None:
            import requests

            self._session = requests.Session()
            # Room for every worker of a concurrent run, so none waits for a connection.
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, int(conf.max_workers)))
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)
            # Its pooled connections are closed when this service goes, not left to the GC.
            weakref.finalize(self, self._session.close)
            self._session.headers["User-Agent"] = (
                f"astro_tesscut/{__version__} (+https://github.com/astro-tesscut/astro_tesscut) "
                f"python-requests/{requests.__version__} Python/{platform.python_version()}"
            )
        return self._session

    @property
    def retry_policy(self):
        """The `~astro_tesscut.retries.RetryPolicy` of every request, from ``conf``."""
        return RetryPolicy(
            retries=max(int(conf.max_retries), 0),
            backoff=float(conf.retry_backoff),
            max_wait=float(conf.retry_max_wait),
            budget=float(conf.retry_budget),
        )

    def resolve(self, name):
        """The ICRS `~astropy.coordinates.SkyCoord` of the object called ``name``."""
        answer = self._get_json(self.resolver_server, resolver_params(name))
        return position_from_answer(name, answer)

    def __repr__(self):
        return f"<MastService server={self.server!r}>"

    def sectors(self, target, radius):
        """The sectors that observed ``target``, as TESScut lists them (see `Backend.sectors`).

        ``radius`` (an `~astropy.coordinates.Angle`) widens the search around a
        fixed target; moving targets are looked up along their path.
        """
        from astropy.table import Table

        if target.moving:
            path, params = "moving_target/sector", _moving_params(target)
        else:
            path, params = "sector", {**_position_params(target), "radius": str(float(radius.deg))}
        answer = self._get_json(self.server + path, params)
        try:
            rows = [
                (str(row["sectorName"]), int(row["sector"]), int(row["camera"]), int(row["ccd"]))
                for row in answer.get("results") or []
            ]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptResponseError(
                f"the sector list has an unexpected shape ({exc!r})", url=self.server + path
            ) from exc
        rows.sort(key=lambda row: row[1:])
        return Table(rows=rows or None, names=SECTOR_COLUMNS, dtype=[str, int, int, int])

    def cutouts(
        self, target, size, sector, writer, *, cache=True, show_progress=False, progress=None
    ):
        """One cutout request, its answer streamed into ``writer`` (see `Backend.cutouts`).

        A zip is handed over once received; TESScut's JSON "no data" answer
        becomes the reason in the `~astro_tesscut.backend.Fetched`.
        """
        with writer.incoming("tesscut.zip") as sink:
            self.fetch_cutouts(target, size, sector, sink, progress=progress)
            message = no_data_message(sink)
            if message is not None:
                return Fetched(no_data=[message])
            return Fetched(writer.take(ZipAnswer(sink), sector=sector))

    def cutout_request(self, target, size, sector):
        """The URL and query parameters of a cutout request."""
        if target.moving:
            path, params = "moving_target/astrocut", _moving_params(target)
        else:
            path, params = "astrocut", _position_params(target)
        params.update(size.params())
        if sector is not None:
            params["sector"] = str(sector)
        return self.server + path, params

    def fetch_cutouts(self, target, size, sector, sink, *, progress=None):
        """Stream TESScut's answer for a cutout request into the binary file ``sink``.

        The answer is a zip of target pixel files, or JSON saying there is no
        data; `astro_tesscut.files` tells them apart. A failure names the
        sector; ``progress`` (a `~astro_tesscut.progress.TransferProgress`)
        counts the bytes.
        """
        url, params = self.cutout_request(target, size, sector)
        try:
            self._get(url, params, sink=sink, progress=progress)
        except ServiceError as exc:
            exc.sector = sector
            raise

    def _get_json(self, url, params):
        response = self._get(url, params)
        try:
            return response.json()
        except ValueError as exc:
            raise CorruptResponseError(
                f"the answer is not valid JSON: {response.text[:200]!r}",
                status_code=response.status_code,
                url=response.url,
            ) from exc

    def _get(self, url, params, *, sink=None, progress=None):
        """GET ``url``, retrying transient failures; with a ``sink``, stream the body into it."""
        attempt = _Attempt(self, url, params, sink, progress)
        response, _ = retry(
            attempt,
            self.retry_policy,
            is_transient=_is_transient,
            retry_after=lambda exc: getattr(exc, "retry_after", None),
            before_retry=attempt.undo,
        )
        return response


class _Attempt:
    """One try of a GET, able to undo what a failed try wrote and counted."""

    def __init__(self, service, url, params, sink, progress):
        self.service, self.url, self.params = service, url, params
        self.sink, self.progress = sink, progress
        self.announced = self.received = 0

    def __call__(self):
        import requests

        timeout = self.service.timeout
        try:
            response = self.service.session.get(
                self.url, params=self.params, timeout=timeout, stream=self.sink is not None
            )
            with response:
                if response.status_code >= 400:
                    raise ServiceError(
                        _error_message(response),
                        status_code=response.status_code,
                        url=response.url,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                if self.sink is not None:
                    self._stream(response)
                return response
        except requests.Timeout as exc:
            raise ServiceError(f"no answer within {timeout:g} s", url=self.url) from exc
        except requests.RequestException as exc:
            raise ServiceError(f"the request failed: {exc}", url=self.url) from exc

    def _stream(self, response):
        size = int(response.headers.get("Content-Length") or 0)
        if self.progress is not None and size:
            self.progress.expect(size)
            self.announced += size
        for chunk in response.iter_content(_CHUNK_BYTES):
            self.sink.write(chunk)
            self.received += len(chunk)
            if self.progress is not None:
                self.progress.advance(len(chunk))
        # urllib3 < 2 accepts a body cut short without a word; it is a broken transfer.
        if size and self.received < size and "Content-Encoding" not in response.headers:
            raise ServiceError(
                f"the connection closed after {self.received} of {size} bytes", url=self.url
            )

    def undo(self):
        """Forget a failed attempt: empty the sink and take back its progress."""
        if self.sink is not None:
            self.sink.seek(0)
            self.sink.truncate()
        if self.progress is not None:
            self.progress.advance(-self.received)
            self.progress.expect(-self.announced)
        self.announced = self.received = 0


def _is_transient(exc):
    if isinstance(exc, CorruptResponseError) or not isinstance(exc, ServiceError):
        return False
    return exc.status_code is None or exc.status_code in TRANSIENT_STATUSES


def _position_params(target):
    return {"ra": str(float(target.coord.ra.deg)), "dec": str(float(target.coord.dec.deg))}


def _moving_params(target):
    params = {"obj_id": target.name}
    if target.mt_type is not None:
        params["obj_type"] = target.mt_type
    return params


def _error_message(response):
    """What the service said about a failed request, as one line."""
    try:
        answer = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:500] or response.reason or "no message"
    if isinstance(answer, dict):
        for key in ("msg", "message", "error", "detail"):
            if answer.get(key):
                return str(answer[key])
    return json.dumps(answer)[:500]
