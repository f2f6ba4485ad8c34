"""Exceptions and warnings raised by astro_tesscut."""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = [
    "CorruptResponseError",
    "InvalidQueryError",
    "InvalidQueryTypeError",
    "NoResultsWarning",
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


class ResolverError(TessCutError, LookupError):
    """An object name could not be resolved to a position on the sky."""


class ServiceError(TessCutError):
    """The service answered with an HTTP error, or could not be reached.

    Attributes
    ----------
    status_code : int or None
        The HTTP status code, or `None` when no answer arrived.
    message : str
        What the service said about the failure (or why no answer arrived).
    url : str
        The URL that was requested.
    """

    def __init__(self, message, *, status_code=None, url=""):
        self.status_code = status_code
        self.message = message
        self.url = url
        status = f"HTTP {status_code}" if status_code is not None else "no answer"
        super().__init__(f"{status} from {url}: {message}" if url else f"{status}: {message}")


class CorruptResponseError(ServiceError):
    """The service answered, but the answer is not a usable cutout archive or JSON."""


class TessCutWarning(AstropyUserWarning):
    """Base class of astro_tesscut's warnings."""


class NoResultsWarning(TessCutWarning):
    """A query succeeded but found nothing (no sectors, or no cutout data)."""
