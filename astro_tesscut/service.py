"""The MAST backend: TESScut's REST API and MAST's name resolver over HTTP."""

import json
import platform

from . import __version__
from .config import conf
from .exceptions import CorruptResponseError, ServiceError
from .resolver import position_from_answer, resolver_params

__all__ = ["MastService"]

_CHUNK_BYTES = 1 << 20


class MastService:
    """MAST's TESScut service, reached through one `requests.Session`.

    Parameters
    ----------
    server, resolver_server : str, optional
        Base URL of TESScut and URL of the name resolver; by default
        ``conf.server`` and ``conf.resolver_server``, read at each request.
    timeout : float, optional
        Seconds to wait for an answer; by default ``conf.timeout``.
    """

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
            self._session.headers["User-Agent"] = (
                f"astro_tesscut/{__version__} (+https://github.com/astro-tesscut/astro_tesscut) "
                f"python-requests/{requests.__version__} Python/{platform.python_version()}"
            )
        return self._session

    def resolve(self, name):
        """The ICRS `~astropy.coordinates.SkyCoord` of the object called ``name``."""
        answer = self._get_json(self.resolver_server, resolver_params(name))
        return position_from_answer(name, answer)

    def sectors(self, target, radius):
        """Rows (sectorName, sector, camera, ccd) of the sectors that observed ``target``.

        ``radius`` (an `~astropy.coordinates.Angle`) widens the search around a
        fixed target; moving targets are looked up along their path.
        """
        if target.moving:
            path, params = "moving_target/sector", _moving_params(target)
        else:
            path, params = "sector", {**_position_params(target), "radius": str(float(radius.deg))}
        answer = self._get_json(self.server + path, params)
        try:
            return [
                (str(row["sectorName"]), int(row["sector"]), int(row["camera"]), int(row["ccd"]))
                for row in answer.get("results") or []
            ]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptResponseError(
                f"the sector list has an unexpected shape ({exc!r})", url=self.server + path
            ) from exc

    def fetch_cutouts(self, target, size, sector, sink):
        """Stream TESScut's answer for a cutout request into the binary file ``sink``.

        The answer is a zip of target pixel files, or JSON saying there is no
        data; `astro_tesscut.files` tells them apart.
        """
        if target.moving:
            path, params = "moving_target/astrocut", _moving_params(target)
        else:
            path, params = "astrocut", _position_params(target)
        params.update(size.params())
        if sector is not None:
            params["sector"] = str(sector)
        self._get(self.server + path, params, sink=sink)

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

    def _get(self, url, params, *, sink=None):
        """GET ``url``; with a ``sink``, stream the body into it."""
        import requests

        try:
            response = self.session.get(
                url, params=params, timeout=self.timeout, stream=sink is not None
            )
            with response:
                if response.status_code >= 400:
                    raise ServiceError(
                        _error_message(response),
                        status_code=response.status_code,
                        url=response.url,
                    )
                if sink is not None:
                    for chunk in response.iter_content(_CHUNK_BYTES):
                        sink.write(chunk)
                return response
        except requests.Timeout as exc:
            raise ServiceError(f"no answer within {self.timeout:g} s", url=url) from exc
        except requests.RequestException as exc:
            raise ServiceError(f"the request failed: {exc}", url=url) from exc


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
