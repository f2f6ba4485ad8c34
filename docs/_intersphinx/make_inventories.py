"""Write the small intersphinx inventories that the documentation links other projects with.

The documentation is built with no network (CI has none), so intersphinx
cannot download these projects' ``objects.inv``. Each ``<project>.inv`` here
lists only the objects our pages and docstrings refer to, with the address
of each in that project's documentation; ``docs/conf.py`` reads them before
trying the projects' own. A reference to anything else from these projects
fails the build (it is nitpicky): add the object below, with its address,
and run::

    python docs/_intersphinx/make_inventories.py
"""

import zlib
from pathlib import Path

HERE = Path(__file__).parent

# project: (documentation root, version, {name: (domain:role, address relative to the root)})
PROJECTS = {
    "python": (
        "https://docs.python.org/3/",
        "3",
        {
            "pathlib.Path": ("py:class", "library/pathlib.html#pathlib.Path"),
            "io.BytesIO": ("py:class", "library/io.html#io.BytesIO"),
            "abc.ABC": ("py:class", "library/abc.html#abc.ABC"),
            "False": ("py:data", "library/constants.html#False"),
            "True": ("py:data", "library/constants.html#True"),
            "None": ("py:data", "library/constants.html#None"),
            "SystemExit": ("py:exception", "library/exceptions.html#SystemExit"),
            "ValueError": ("py:exception", "library/exceptions.html#ValueError"),
            "TypeError": ("py:exception", "library/exceptions.html#TypeError"),
            "KeyboardInterrupt": ("py:exception", "library/exceptions.html#KeyboardInterrupt"),
            "OSError": ("py:exception", "library/exceptions.html#OSError"),
            "Warning": ("py:exception", "library/exceptions.html#Warning"),
            "UserWarning": ("py:exception", "library/exceptions.html#UserWarning"),
            "Exception": ("py:exception", "library/exceptions.html#Exception"),
            "RuntimeError": ("py:exception", "library/exceptions.html#RuntimeError"),
            "dict": ("py:class", "library/stdtypes.html#dict"),
            "list": ("py:class", "library/stdtypes.html#list"),
            "tuple": ("py:class", "library/stdtypes.html#tuple"),
            "str": ("py:class", "library/stdtypes.html#str"),
            "int": ("py:class", "library/functions.html#int"),
            "float": ("py:class", "library/functions.html#float"),
            "bool": ("py:class", "library/functions.html#bool"),
            "bytes": ("py:class", "library/stdtypes.html#bytes"),
            "object": ("py:class", "library/functions.html#object"),
            "callable": ("py:function", "library/functions.html#callable"),
            "concurrent.futures.ThreadPoolExecutor": (
                "py:class",
                "library/concurrent.futures.html#concurrent.futures.ThreadPoolExecutor",
            ),
            "threading.Event": ("py:class", "library/threading.html#threading.Event"),
            "zipfile.ZipFile": ("py:class", "library/zipfile.html#zipfile.ZipFile"),
            "os.PathLike": ("py:class", "library/os.html#os.PathLike"),
        },
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        "2",
        {
            "numpy.ndarray": ("py:class", "reference/generated/numpy.ndarray.html#numpy.ndarray"),
            "numpy.dtype": ("py:class", "reference/generated/numpy.dtype.html#numpy.dtype"),
        },
    ),
    "astropy": (
        "https://docs.astropy.org/en/stable/",
        "7",
        {
            "astropy.io.fits.HDUList": (
                "py:class",
                "io/fits/api/hdulists.html#astropy.io.fits.HDUList",
            ),
            # astro_tesscut.cube.cutout.cutouts's docstring says `HDUList` for it.
            "HDUList": ("py:class", "io/fits/api/hdulists.html#astropy.io.fits.HDUList"),
            "astropy.io.fits.Header": (
                "py:class",
                "io/fits/api/headers.html#astropy.io.fits.Header",
            ),
            "astropy.table.Table": ("py:class", "api/astropy.table.Table.html#astropy.table.Table"),
            "astropy.units.Quantity": (
                "py:class",
                "api/astropy.units.Quantity.html#astropy.units.Quantity",
            ),
            "astropy.coordinates.SkyCoord": (
                "py:class",
                "api/astropy.coordinates.SkyCoord.html#astropy.coordinates.SkyCoord",
            ),
            "astropy.coordinates.Angle": (
                "py:class",
                "api/astropy.coordinates.Angle.html#astropy.coordinates.Angle",
            ),
            "astropy.time.Time": ("py:class", "api/astropy.time.Time.html#astropy.time.Time"),
            "astropy.wcs.WCS": ("py:class", "api/astropy.wcs.WCS.html#astropy.wcs.WCS"),
            "astropy.wcs": ("py:module", "wcs/reference_api.html#module-astropy.wcs"),
            "astropy.config": ("py:module", "config/index.html#module-astropy.config"),
            "astropy.config.ConfigNamespace": (
                "py:class",
                "api/astropy.config.ConfigNamespace.html#astropy.config.ConfigNamespace",
            ),
            # The name automodapi gives the base class of `astro_tesscut.Conf`.
            "astropy.config.configuration.ConfigNamespace": (
                "py:class",
                "api/astropy.config.ConfigNamespace.html#astropy.config.ConfigNamespace",
            ),
            "astropy.config.ConfigItem": (
                "py:class",
                "api/astropy.config.ConfigItem.html#astropy.config.ConfigItem",
            ),
            "astropy.utils.exceptions.AstropyDeprecationWarning": (
                "py:class",
                "api/astropy.utils.exceptions.AstropyDeprecationWarning.html"
                "#astropy.utils.exceptions.AstropyDeprecationWarning",
            ),
            "astropy.visualization.wcsaxes.WCSAxes": (
                "py:class",
                "api/astropy.visualization.wcsaxes.WCSAxes.html"
                "#astropy.visualization.wcsaxes.WCSAxes",
            ),
            "astropy.config.get_cache_dir": (
                "py:function",
                "api/astropy.config.get_cache_dir.html#astropy.config.get_cache_dir",
            ),
        },
    ),
    "matplotlib": (
        "https://matplotlib.org/stable/",
        "3",
        {
            "matplotlib.axes.Axes": (
                "py:class",
                "api/_as_gen/matplotlib.axes.Axes.html#matplotlib.axes.Axes",
            ),
            "matplotlib.figure.Figure": (
                "py:class",
                "api/_as_gen/matplotlib.figure.Figure.html#matplotlib.figure.Figure",
            ),
            "matplotlib.colors.Colormap": (
                "py:class",
                "api/_as_gen/matplotlib.colors.Colormap.html#matplotlib.colors.Colormap",
            ),
            "matplotlib.pyplot.show": (
                "py:function",
                "api/_as_gen/matplotlib.pyplot.show.html#matplotlib.pyplot.show",
            ),
            "matplotlib.pyplot.subplots": (
                "py:function",
                "api/_as_gen/matplotlib.pyplot.subplots.html#matplotlib.pyplot.subplots",
            ),
        },
    ),
    "requests": (
        "https://requests.readthedocs.io/en/latest/",
        "2",
        {
            "requests": ("py:module", "api/#module-requests"),
            "requests.HTTPError": ("py:exception", "api/#requests.HTTPError"),
            "requests.Session": ("py:class", "api/#requests.Session"),
            "requests.adapters.HTTPAdapter": ("py:class", "api/#requests.adapters.HTTPAdapter"),
        },
    ),
    "fsspec": (
        "https://filesystem-spec.readthedocs.io/en/latest/",
        "2025",
        {
            "fsspec.filesystem": ("py:function", "api.html#fsspec.filesystem"),
            "fsspec.open": ("py:function", "api.html#fsspec.open"),
            "fsspec.spec.AbstractFileSystem": (
                "py:class",
                "api.html#fsspec.spec.AbstractFileSystem",
            ),
        },
    ),
    "distributed": (
        "https://distributed.dask.org/en/stable/",
        "2025",
        {
            "distributed.Client": ("py:class", "api.html#distributed.Client"),
            "distributed.LocalCluster": ("py:class", "api.html#distributed.LocalCluster"),
        },
    ),
}


def inventory(project, version, objects):
    """The bytes of an ``objects.inv`` (format version 2) listing ``objects``."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = []
    for name, (role, address) in sorted(objects.items()):
        # An address ending in its own name is written with "$", as Sphinx writes them.
        if address.endswith("#" + name):
            address = address[: -len(name)] + "$"
        lines.append(f"{name} {role} 1 {address} -\n")
    return header.encode() + zlib.compress("".join(lines).encode())


def main():
    for project, (_, version, objects) in PROJECTS.items():
        path = HERE / f"{project}.inv"
        path.write_bytes(inventory(project, version, objects))
        print(f"{path}: {len(objects)} objects")


if __name__ == "__main__":
    main()
