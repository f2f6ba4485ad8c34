"""Settings of astro_tesscut, read through `astropy.config`.

Change them for a session with ``conf.server = ...``, for a block with
``with conf.set_temp("timeout", 30): ...``, or for good in the
``[config]`` section of ``~/.astropy/config/astro_tesscut.cfg``.
"""

import math

from astropy import config as _config

from .exceptions import InvalidQueryError

__all__ = ["Conf", "conf", "seconds"]


class Conf(_config.ConfigNamespace):
    """Configuration parameters for `astro_tesscut`."""

    server = _config.ConfigItem(
        "https://mast.stsci.edu/tesscut/api/v0.1/",
        "Base URL of MAST's TESScut service.",
    )
    resolver_server = _config.ConfigItem(
        "https://mastresolver.stsci.edu/Santa-war/query",
        "URL of MAST's name resolver (SANTA), used to turn object names into positions.",
    )
    timeout = _config.ConfigItem(
        600.0,
        "Seconds to wait for the service to answer before giving up; multi-sector "
        "cutouts can take minutes.",
        cfgtype="float",
    )
    request_deadline = _config.ConfigItem(
        3600.0,
        "Most seconds one try of a request may take in all, from sending it to the last "
        "byte of its answer (timeout only bounds each wait for the next bytes, which a "
        "server trickling its answer never exceeds); a try that runs longer is abandoned "
        "and retried like a timeout.",
        cfgtype="float",
    )
    max_workers = _config.ConfigItem(
        4,
        "Most requests in flight at once when cutting every sector of a target "
        "(one request per sector); 1 sends one request for all sectors.",
        cfgtype="integer",
    )
    max_retries = _config.ConfigItem(
        4,
        "Times to retry a request that failed on a connection error, a timeout, or "
        "HTTP 429/500/502/503/504.",
        cfgtype="integer",
    )
    retry_backoff = _config.ConfigItem(
        1.0,
        "Seconds of the first wait before a retry; each later wait may double (with "
        "random jitter), unless the server's Retry-After says otherwise.",
        cfgtype="float",
    )
    retry_max_wait = _config.ConfigItem(
        60.0,
        "Longest single wait before a retry, in seconds (Retry-After included).",
        cfgtype="float",
    )
    retry_budget = _config.ConfigItem(
        300.0,
        "Most seconds spent waiting between retries of one request, in total.",
        cfgtype="float",
    )
    cache = _config.ConfigItem(
        True,
        "Keep verified cutouts in an on-disk cache and reuse them for the same request.",
        cfgtype="boolean",
    )
    cache_dir = _config.ConfigItem(
        "",
        "Directory of the cutout cache; empty for 'astro_tesscut/cutouts' in the astropy "
        "cache directory.",
    )
    archive = _config.ConfigItem(
        "",
        "Directory (or URL) of FFI cubes and/or FFIs that offline cutouts come from: "
        "get_cutouts/download_cutouts(offline=True) without an archive, and the tesscut "
        "command's --offline (which, when this is empty, uses the demo's synthetic sector "
        "around Pi Mensae and says so).",
    )
    memory_budget = _config.ConfigItem(
        0,
        "Most bytes of memory the cutouts being cut from FFI cubes in a process may hold "
        "together; a cutout that alone would hold more is refused before anything is read. "
        "0: a quarter of this machine's memory (1 GiB at least).",
        cfgtype="integer",
    )
    max_inflated_bytes = _config.ConfigItem(
        20 * 2**30,
        "Largest total size in bytes that one cutout zip may inflate to; larger zips are refused.",
        cfgtype="integer",
    )


conf = Conf()


def seconds(value, argument):
    """``value`` (a setting, or an argument, called ``argument``) as a positive, finite
    number of seconds; an `~astro_tesscut.InvalidQueryError` naming it otherwise, before
    any request is sent."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise InvalidQueryError(f"{argument}: must be a positive number of seconds, got {value!r}")
    return number
