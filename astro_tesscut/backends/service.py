"""The service backend: TESScut's REST API (and MAST's name resolver) over HTTP.

Every request of the package to MAST goes through `MastService`'s one
session and one request path (`MastService.request_json` for JSON answers,
GETs and form POSTs alike: the TIC's cone search of `astro_tesscut.catalog`
uses it too).

Answers are not trusted. Bodies are read as sent and inflated here, a chunk
at a time, up to a limit (a few compressed bytes can inflate to gigabytes);
each try of a request has a deadline for the whole exchange, which a server
trickling its headers or body cannot stretch; redirects are followed only
within the origin asked, and only a few times.
"""

import contextlib
import http.client
import json
import math
import platform
import re
import weakref
from urllib.parse import quote, urlencode, urljoin, urlsplit

from .. import interrupt
from .._version import __version__
from ..config import conf, seconds
from ..cutout_names import ExpectedNames
from ..exceptions import CorruptResponseError, ServiceError
from ..files import no_data_message
from ..resolver import position_from_answer, resolver_params
from ..retries import RetryPolicy, parse_retry_after, retry
from ..transport import (
    ACCEPT_ENCODING,
    CHUNK_BYTES,
    NO_SUCH_NAME,
    Deadline,
    Inflater,
    one_line,
    session_class,
    unreachable,
    watched_adapter,
)
from ..writers import ZipAnswer
from .base import SECTOR_COLUMNS, Backend, Fetched

__all__ = ["MastService"]


# JSON answers (sector lists, the resolver's) are kilobytes, and an error message is one
# line: a body beyond these sizes is not what the service sends (a request that expects
# more says so: `MastService.request_json`'s ``limit``).
_MAX_JSON_BYTES = 4 << 20
_MAX_ERROR_BYTES = 8 << 10

_MAX_REDIRECTS = 5
_SECTOR_NAME = re.compile(r"tess-s[0-9]{4}-[1-4]-[1-4]")

# Statuses that say "try again later": too many requests, or an overloaded or
# timed-out service (TESScut answers 504 when a cutout takes too long).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class MastService(Backend):
    """MAST's TESScut service, reached through one `requests.Session`.

    One request per call, for one sector or every sector:
    `~astro_tesscut.backends.per_sector.PerSector` splits a target's sectors
    into requests, `~astro_tesscut.backends.cache.Cached` keeps the verified
    answers.

    Parameters
    ----------
    server, resolver_server : str, optional
        Base URL of TESScut and URL of the name resolver; by default
        ``conf.server`` and ``conf.resolver_server``, read at each request.
    timeout : float, optional
        Seconds to wait for an answer; by default ``conf.timeout``.

    Notes
    -----
    Each try of a request may take ``conf.request_deadline`` seconds in all;
    redirects are followed only within the origin of the URL asked.
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
        if self._timeout is not None:
            return seconds(self._timeout, "timeout")
        return seconds(conf.timeout, "conf.timeout")

    @property
    def deadline(self):
        """Most seconds one try of a request may take in all: ``conf.request_deadline``."""
        return seconds(conf.request_deadline, "conf.request_deadline")

    @property
    def session(self):
        """The `requests.Session` every request of this client goes through."""
        if self._session is None:
            import requests

            self._session = session_class()()
            # Room for every worker of a concurrent run, so none waits for a connection.
            adapter = watched_adapter()(pool_maxsize=max(10, int(conf.max_workers)))
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)
            # Its pooled connections are closed when this service goes, not left to the GC.
            weakref.finalize(self, self._session.close)
            self._session.headers["User-Agent"] = (
                f"astro_tesscut/{__version__} (+https://github.com/astro-tesscut/astro_tesscut) "
                f"python-requests/{requests.__version__} Python/{platform.python_version()}"
            )
            # Only what Inflater inflates, whatever codecs requests finds installed.
            self._session.headers["Accept-Encoding"] = ACCEPT_ENCODING
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

    def resolve(self, name, resolver=None):
        """The ICRS `~astropy.coordinates.SkyCoord` of the object called ``name``, from
        MAST's resolver (asking ``resolver``, "SIMBAD" or "NED", when given)."""
        answer = self.request_json(self.resolver_server, resolver_params(name, resolver))
        return position_from_answer(name, answer, resolver)

    def __repr__(self):
        return f"MastService({self.server!r})"

    def sector_table(self, target, radius):
        """The sectors that observed ``target``, as TESScut lists them (see
        `Backend.sector_table <astro_tesscut.backends.base.Backend.sector_table>`).

        ``radius`` (an `~astropy.coordinates.Angle`) widens the search around a
        fixed target; moving targets are looked up along their path.
        """
        from astropy.table import Table

        if target.moving:
            path, params = "moving_target/sector", _moving_params(target)
        else:
            path, params = "sector", {**_position_params(target), "radius": str(float(radius.deg))}
        answer = self.request_json(self.server + path, params)
        try:
            rows = [_sector_row(row) for row in answer.get("results") or []]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptResponseError(
                f"the sector list has an unexpected shape ({one_line(str(exc))})",
                url=self.server + path,
            ) from exc
        rows.sort(key=lambda row: row[1:])
        return Table(rows=rows or None, names=SECTOR_COLUMNS, dtype=[str, int, int, int])

    def cutouts(self, request, writer):
        """One cutout request (of one sector, or every sector), its answer streamed into
        ``writer`` (see `Backend.cutouts <astro_tesscut.backends.base.Backend.cutouts>`).

        A zip is handed over once received; TESScut's JSON "no data" answer
        becomes the reason in the `~astro_tesscut.backends.base.Fetched`.
        """
        target, size, sector = request.target, request.size, request.sector
        try:
            with writer.incoming("tesscut.zip") as sink:
                self.fetch_cutouts(target, size, sector, sink, progress=request.progress)
                message = no_data_message(sink)
                if message is not None:
                    return Fetched(no_data=[message])
                expected = ExpectedNames.answering(target, size, sector)
                return Fetched(writer.take(ZipAnswer(sink, expected), sector=sector))
        except ServiceError as exc:  # an answer refused names the sector it was for
            exc.sector = sector
            raise

    def cache_identity(self, request):
        """The URL and query parameters of ``request``'s one request: its answer's name in
        the verified cache."""
        url, params = self.cutout_request(request.target, request.size, request.sector)
        return {"url": url, "params": dict(sorted(params.items()))}

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
        data; `astro_tesscut.files` tells them apart. ``progress`` (a
        `~astro_tesscut.progress.TransferProgress`) counts the bytes.
        """
        url, params = self.cutout_request(target, size, sector)
        self._request(url, params, sink=sink, progress=progress)

    def request_json(self, url, params=None, *, form=None, headers=None, limit=None):
        """The JSON answer to a request of this service's session, under its deadline,
        retries, size limit and redirect rules.

        Parameters
        ----------
        url : str
            What to ask.
        params : dict, optional
            The query string.
        form : dict, optional
            When given, the request is a POST of this form
            (``application/x-www-form-urlencoded``, its values percent-encoded as
            MAST's portal API documents them), else a GET.
        headers : dict, optional
            More request headers.
        limit : int, optional
            Most bytes the answer may inflate to; 4 MiB by default, far more
            than any JSON answer of TESScut or the resolver.

        Raises
        ------
        CorruptResponseError
            The answer is not JSON, or larger than ``limit``.
        ServiceError
            The request failed (after its retries).
        """
        body = self._request(url, params, form=form, headers=headers, limit=limit)
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past reason
            raise CorruptResponseError(
                f"the answer is not valid JSON: {body[:200]!r}", url=url
            ) from exc

    def _request(
        self, url, params=None, *, form=None, headers=None, limit=None, sink=None, progress=None
    ):
        """GET ``url`` (POST ``form`` to it, when given), retrying transient failures.

        With a ``sink``, stream the body into it and return `None`; without,
        return the body (a JSON answer: at most ``limit`` bytes).
        """
        attempt = _Attempt(
            self, url, params, form=form, headers=headers, limit=limit, sink=sink, progress=progress
        )
        body, _ = retry(
            attempt,
            self.retry_policy,
            is_transient=_is_transient,
            retry_after=lambda exc: getattr(exc, "retry_after", None),
            before_retry=attempt.undo,
        )
        return body


class _Attempt:
    """One try of a request, able to undo what a failed try wrote and counted.

    A GET of ``url`` with the query ``params``, or a POST of the form ``form``
    (a dict). The body of a successful answer goes into ``sink`` (a binary
    file), at most ``conf.max_inflated_bytes`` of it, when there is one;
    otherwise it is returned, at most ``limit`` bytes (`_MAX_JSON_BYTES` by
    default).
    """

    def __init__(
        self, service, url, params, *, form=None, headers=None, limit=None, sink=None, progress=None
    ):
        self.service, self.url, self.params = service, url, params
        self.headers = dict(headers or {})
        self.body = None
        if form is not None:
            # As MAST's portal API documents its forms (and astroquery sends them): each
            # value percent-encoded, "/" left as it is.
            self.body = urlencode(form, quote_via=quote, safe="/")
            self.headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.limit = _MAX_JSON_BYTES if limit is None else int(limit)
        self.sink, self.progress = sink, progress
        self.announced = self.received = 0

    def __call__(self):
        import requests

        deadline = Deadline(self.service.deadline, self.url)
        try:
            with deadline:
                body = self._exchange(deadline)
        except (ServiceError, requests.RequestException) as exc:
            # A read the deadline cut short fails in whatever way it was cut.
            if deadline.expired and exc is not deadline.error:
                raise deadline.error from exc
            if isinstance(exc, ServiceError):
                raise
            raise _request_error(exc, self.service.timeout, self.url) from exc
        if deadline.expired:  # its socket shut, a body sent until close looks whole
            raise deadline.error
        return body

    def _exchange(self, deadline):
        """Send the request, follow redirects within its origin, and read the answer."""
        session = self.service.session
        url, params = self.url, self.params
        method, body, headers = ("GET" if self.body is None else "POST"), self.body, self.headers
        for _ in range(_MAX_REDIRECTS + 1):
            deadline.check()
            response = session.request(
                method,
                url,
                params=params,
                data=body,
                headers=headers,
                timeout=self.service.timeout,
                stream=True,
                allow_redirects=False,
            )
            with response:
                if not response.is_redirect:
                    return self._answer(response, deadline)
                url, params = self._redirect_target(response), None
                if method == "POST" and response.status_code in (301, 302, 303):
                    # What these mean for a POST, as browsers and requests read them: a GET
                    # of the new URL, without the form.
                    method, body = "GET", None
                    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        raise ServiceError(
            f"more than {_MAX_REDIRECTS} redirects; not followed",
            status_code=response.status_code,
            url=self.url,
        )

    def _redirect_target(self, response):
        """Where ``response`` redirects to, if that is within the origin asked."""
        target = response.headers["Location"]
        with contextlib.suppress(ValueError):  # a garbled Location is refused as it is
            target = urljoin(response.url, target)
        origin = _origin(self.url)
        if origin is None or _origin(target) != origin:
            asked = urlsplit(self.url)
            raise ServiceError(
                f"the answer redirects to {target[:200]!r}, outside "
                f"{asked.scheme}://{asked.netloc}; not followed",
                status_code=response.status_code,
                url=response.url,
            )
        return target

    def _answer(self, response, deadline):
        status = response.status_code
        if not 200 <= status < 300:
            raise ServiceError(
                _error_message(response, self._error_head(response, deadline)),
                status_code=status,
                url=response.url,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if self.sink is None:
            too_big = f"{self.limit:,} bytes, far more than any JSON answer of the service"
            return b"".join(self._body(response, deadline, limit=self.limit, what=too_big))
        limit = int(conf.max_inflated_bytes)
        too_big = f"conf.max_inflated_bytes ({limit:,} bytes)"
        for piece in self._body(response, deadline, limit=limit, what=too_big, counted=True):
            self.sink.write(piece)
        return None

    def _error_head(self, response, deadline):
        """The start of an error answer: enough for its message, never all of a huge one."""
        head = b""
        with contextlib.suppress(ServiceError):  # the status alone says what went wrong
            for piece in self._body(
                response, deadline, limit=math.inf, chunk_bytes=_MAX_ERROR_BYTES
            ):
                head += piece
                if len(head) >= _MAX_ERROR_BYTES:
                    break
        return head[:_MAX_ERROR_BYTES]

    def _body(self, response, deadline, *, limit, what="", counted=False, chunk_bytes=CHUNK_BYTES):
        """Yield the body of ``response``, inflated, in pieces of at most `CHUNK_BYTES`.

        ``limit`` bounds the bytes once inflated (``what`` names it in the error);
        ``counted`` adds the bytes as sent to the progress bar.

        Raises
        ------
        CorruptResponseError
            The body inflates past ``limit``, its headers are garbage, or its
            encoding is not one asked for or is broken.
        ServiceError
            The connection broke, went quiet, or ran out of time.
        """
        length = _content_length(response)
        inflater = Inflater(response.headers.get("Content-Encoding"), response.url)
        if counted and self.progress is not None and length:
            self.progress.expect(length)
            self.announced += length
        received = inflated = 0
        for chunk in self._raw_chunks(response, chunk_bytes):
            interrupt.check()
            deadline.check()
            received += len(chunk)
            if counted and self.progress is not None:
                self.received += len(chunk)
                self.progress.advance(len(chunk))
            for piece in inflater.inflate(chunk):
                inflated += len(piece)
                if inflated > limit:
                    raise CorruptResponseError(
                        f"the answer is larger than {what}; refusing it", url=self.url
                    )
                yield piece
        # urllib3 < 2 accepts a body cut short without a word; it is a broken transfer.
        if length and received < length:
            raise ServiceError(
                f"the connection closed after {received} of {length} bytes", url=self.url
            )
        inflater.finish()

    def _raw_chunks(self, response, chunk_bytes):
        """The body of ``response`` as sent, a failure to read it as a `ServiceError`."""
        from urllib3.exceptions import HTTPError, ReadTimeoutError

        chunks = response.raw.stream(chunk_bytes, decode_content=False)
        while True:
            try:
                chunk = next(chunks, None)
            except ReadTimeoutError as exc:
                raise ServiceError(
                    f"no answer within {self.service.timeout:g} s", url=self.url
                ) from exc
            except (HTTPError, http.client.HTTPException, OSError) as exc:
                raise ServiceError(f"the request failed: {exc}", url=self.url) from exc
            if chunk is None:
                return
            yield chunk

    def undo(self):
        """Forget a failed attempt: empty the sink and take back its progress."""
        if self.sink is not None:
            self.sink.seek(0)
            self.sink.truncate()
        if self.progress is not None:
            self.progress.advance(-self.received)
            self.progress.expect(-self.announced)
        self.announced = self.received = 0


def _request_error(exc, timeout, url):
    """The `ServiceError` for a `requests.RequestException` ``exc``: one short line.

    A server never reached is named, with why (urllib3's own account of it runs
    to hundreds of characters); a name that does not resolve comes with what
    to do without a network.
    """
    import requests

    if isinstance(exc, requests.exceptions.InvalidHeader):
        return CorruptResponseError(f"the answer's headers are unusable: {exc}", url=url)
    reason = unreachable(exc)
    if reason is not None:
        message = f"could not reach {urlsplit(url).netloc}: {reason}"
        if reason == NO_SUCH_NAME:
            message += "; offline, use --offline or --archive (offline=True or archive= in Python)"
        return ServiceError(message, url=url)
    if isinstance(exc, requests.Timeout):
        return ServiceError(f"no answer within {timeout:g} s", url=url)
    return ServiceError(f"the request failed: {one_line(str(exc))}", url=url)


def _is_transient(exc):
    """Whether another try could succeed where one failed with ``exc``.

    Not a name that does not resolve: without a network that fails the same way
    each time, and a wrong host name too.
    """
    if isinstance(exc, CorruptResponseError) or not isinstance(exc, ServiceError):
        return False
    if exc.status_code is not None:
        return exc.status_code in TRANSIENT_STATUSES
    import requests

    # A URL requests cannot send to is refused the same way every time.
    errors = requests.exceptions
    permanent = (errors.InvalidURL, errors.InvalidSchema, errors.MissingSchema, errors.URLRequired)
    if isinstance(exc.__cause__, permanent):
        return False
    return exc.__cause__ is None or unreachable(exc.__cause__) != NO_SUCH_NAME


def _content_length(response):
    """The Content-Length of ``response`` in bytes, or `None` when it has none."""
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    # RFC 9110 allows a list of one value repeated; anything else is garbage.
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1 or not (number := values.pop()).isascii() or not number.isdigit():
        raise CorruptResponseError(
            f"its Content-Length header {value[:100]!r} is not a number of bytes",
            url=response.url,
        )
    return int(number)


def _origin(url):
    """The scheme, host and port of ``url``, or `None` for a URL that has none."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname, port


def _sector_row(row):
    """One row of the sector list, checked: its name must be ``tess-sSSSS-C-D`` of its own
    sector, camera and CCD (it is printed, and names files)."""
    sector, camera, ccd = int(row["sector"]), int(row["camera"]), int(row["ccd"])
    name = row["sectorName"]
    if not (isinstance(name, str) and _SECTOR_NAME.fullmatch(name)):
        raise ValueError(f"sectorName {name!r:.100} is not tess-sSSSS-C-D")
    if name != f"tess-s{sector:04d}-{camera}-{ccd}":
        raise ValueError(f"sectorName {name!r} is not sector {sector}, camera {camera}, CCD {ccd}")
    return name, sector, camera, ccd


def _position_params(target):
    return {"ra": str(float(target.coord.ra.deg)), "dec": str(float(target.coord.dec.deg))}


def _moving_params(target):
    params = {"obj_id": target.name}
    if target.mt_type is not None:
        params["obj_type"] = target.mt_type
    return params


def _error_message(response, head):
    """What the service said about a failed request, from the start of its body, ``head``."""
    try:
        answer = json.loads(head)
    except (ValueError, RecursionError):
        text = head.decode("utf-8", "replace")
    else:
        text = json.dumps(answer)
        if isinstance(answer, dict):
            keys = ("msg", "message", "error", "detail")
            text = next((str(answer[key]) for key in keys if answer.get(key)), text)
    return one_line(text) or one_line(response.reason or "") or "no message"
