"""Sphinx configuration of the astro_tesscut documentation."""

import os
from importlib.metadata import version as _version

project = "astro_tesscut"
author = "astro_tesscut developers"
copyright = "2026, astro_tesscut developers"
release = _version("astro_tesscut")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_automodapi.automodapi",
    "sphinx_automodapi.smart_resolver",
]

numpydoc_show_class_members = False
automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False
default_role = "obj"
nitpicky = False
exclude_patterns = ["_build"]

# Offline builds (no network, as in CI) leave links to other projects' docs unresolved.
intersphinx_mapping = (
    {}
    if os.environ.get("SPHINX_OFFLINE")
    else {
        "python": ("https://docs.python.org/3/", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "astropy": ("https://docs.astropy.org/en/stable/", None),
        "requests": ("https://requests.readthedocs.io/en/latest/", None),
    }
)

html_theme = "alabaster"
html_title = f"astro_tesscut {release}"
