"""astro_tesscut: cutouts of TESS full-frame images around any target.

>>> from astro_tesscut import TessCut
>>> TessCut.query_sectors(objectname="TIC 261136679")  # doctest: +REMOTE_DATA
"""

import importlib

from ._version import __version__ as __version__
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

# The service client and the batch engine are imported on first use, so that
# `import astro_tesscut` (and a cube cutout) stays light.
_LAZY = {
    "Conf": ".config",
    "conf": ".config",
    "TessCut": ".core",
    "TessCutClass": ".core",
    "batch_cutouts": ".batch",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
