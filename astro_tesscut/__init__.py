"""astro_tesscut: cutouts of TESS full-frame images around any target.

>>> from astro_tesscut import TessCut
>>> TessCut.query_sectors(objectname="TIC 261136679")  # doctest: +REMOTE_DATA
"""

import importlib
import sys

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
    "Tesscut",
    "TesscutClass",
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
# astroquery's spellings (``from astroquery.mast import Tesscut``), the same objects,
# so that changing the import line is enough.
_ALIASES = {"Tesscut": "TessCut", "TesscutClass": "TessCutClass"}


def __getattr__(name):
    if name in _ALIASES:
        value = getattr(sys.modules[__name__], _ALIASES[name])
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY, *_ALIASES})
