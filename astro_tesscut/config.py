"""Settings of astro_tesscut, read through `astropy.config`.

Change them for a session with ``conf.server = ...``, for a block with
``with conf.set_temp("timeout", 30): ...``, or for good in the
``[config]`` section of ``~/.astropy/config/astro_tesscut.cfg``.
"""

from astropy import config as _config

__all__ = ["Conf", "conf"]


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


conf = Conf()
