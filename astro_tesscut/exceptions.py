"""Exceptions and warnings raised by astro_tesscut."""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = [
    "CorruptResponseError",
    "InvalidFileError",
    "InvalidQueryError",
    "InvalidQueryTypeError",
    "NoResultsWarning",
    "PartialResultError",
    "ResolverError",
    "ServiceError",
    "TessCutError",
    "TessCutWarning",
]


class TessCutError(Exception):
    """Base class of every error astro_tesscut raises on purpose."""


class InvalidQueryError(TessCutError, ValueError):
    """An argument has a value the query cannot use; raised before any request."""


class InvalidQueryTypeError(InvalidQueryError, TypeError):
    """An argument has a type the query cannot use; raised before any request."""


class InvalidFileError(TessCutError, ValueError):
    """A local FFI or FFI cube is not what it should be; the message names the file."""


class ResolverError(TessCutError, LookupError):
    """An object name could not be resolved to a position on the sky."""


class ServiceError(TessCutError):
    """The service answered with an HTTP error, or could not be reached.

    Attributes
    ----------
    status_code : int or None
        The HTTP status code of the last attempt, or `None` when no answer
        arrived.
    message : str
        What the service said about the failure (or why no answer arrived).
    url : str
        The URL that was requested.
    retry_after : float or None
        Seconds the service asked to wait before trying again (Retry-After).
    attempts : int
        How many times the request was tried.
    sector : int or None
        The sector the request was for, when it was for one.
    """

    _what = "no answer"

    def __init__(self, message, *, status_code=None, url="", retry_after=None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.url = url
        self.retry_after = retry_after
        self.attempts = 1
        self.sector = None

    def __str__(self):
        status = self._what if self.status_code is None else f"HTTP {self.status_code}"
        text = (
            f"{status} from {self.url}: {self.message}" if self.url else f"{status}: {self.message}"
        )
        if self.sector is not None:
            text = f"sector {self.sector}: {text}"
        if self.attempts > 1:
            text += f" (gave up after {self.attempts} attempts)"
        return text


class CorruptResponseError(ServiceError):
    """The service answered, but the answer is not a usable cutout zip or JSON."""

    _what = "unusable answer"


class PartialResultError(ServiceError):
    """Some sectors' cutouts arrived and others failed for good.

    Attributes
    ----------
    results : list
        What arrived: `~astropy.io.fits.HDUList` objects from ``get_cutouts``,
        paths from ``download_cutouts``.
    failures : dict
        The failed sectors, each with its exception.
    """

    def __init__(self, results, failures):
        self.results = results
        self.failures = failures
        details = "; ".join(str(exc) for exc in failures.values())
        super().__init__(
            f"{len(failures)} sector(s) failed ({details}); the {len(results)} cutout(s) that "
            "arrived are in .results"
        )
        last = list(failures.values())[-1]
        self.status_code = getattr(last, "status_code", None)

    def __str__(self):
        return self.message


class TessCutWarning(AstropyUserWarning):
    """Base class of astro_tesscut's warnings."""


class NoResultsWarning(TessCutWarning):
    """A query succeeded but found nothing (no sectors, or no cutout data)."""
