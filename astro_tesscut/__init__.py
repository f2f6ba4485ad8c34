"""astro_tesscut: cutouts of TESS full-frame images around any target.

>>> from astro_tesscut import TessCut
>>> TessCut.query_sectors(objectname="TIC 261136679")  # doctest: +REMOTE_DATA
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("astro_tesscut")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "unknown"

from .batch import batch_cutouts
from .config import Conf, conf
from .core import TessCut, TessCutClass
from .exceptions import (
    CorruptResponseError,
    InvalidFileError,
    InvalidQueryError,
    InvalidQueryTypeError,
    NoResultsWarning,
    PartialResultError,
    ResolverError,
    ServiceError,
    TessCutError,
    TessCutWarning,
)

__all__ = [
    "Conf",
    "CorruptResponseError",
    "InvalidFileError",
    "InvalidQueryError",
    "InvalidQueryTypeError",
    "NoResultsWarning",
    "PartialResultError",
    "ResolverError",
    "ServiceError",
    "TessCut",
    "TessCutClass",
    "TessCutError",
    "TessCutWarning",
    "batch_cutouts",
    "conf",
]
