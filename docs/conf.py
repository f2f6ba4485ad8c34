"""Sphinx configuration of the astro_tesscut documentation."""

import contextlib
import io
import os
from importlib.metadata import version as _version
from pathlib import Path

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
exclude_patterns = ["_build", "_generated"]

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


def _generate(app):
    """Figures of the worked example and the command's help, made from the offline demo.

    The demo needs no network, so neither does the documentation.
    """
    from astro_tesscut.cli import main
    from astro_tesscut.demo import run_demo

    out = Path(app.srcdir) / "_generated"
    if not (out / "cutout_sky.png").exists():
        run_demo(out, frames=120, show_progress=False, echo=lambda line: None)
    for command in ("", "sectors", "cutout", "plot", "demo"):
        text = io.StringIO()
        with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
            main([command, "--help"] if command else ["--help"])
        (out / f"help-{command or 'tesscut'}.txt").write_text(text.getvalue())


def setup(app):
    app.connect("builder-inited", _generate)
