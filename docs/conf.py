"""Sphinx configuration of the astro_tesscut documentation.

The build needs no network and no environment variable: figures, the
command's help, the sector table, the settings and the benchmark figures
are made from the code at build time (``_ext/tesscut_docs.py``), and other
projects' documentation is linked through the small inventories in
``_intersphinx/``.
"""

import sys
from importlib.metadata import version as _version
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS / "_ext"), str(DOCS / "_intersphinx")]

import tesscut_docs  # noqa: E402
from make_inventories import PROJECTS  # noqa: E402

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
    "sphinx_copybutton",
    "tesscut_docs",
]

numpydoc_show_class_members = False
automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False
default_role = "obj"
exclude_patterns = ["_build", "_generated", "_intersphinx", "_ext"]

# Every reference must resolve: a name that links nowhere fails the build.
nitpicky = True

# Numbers the pages quote, from the code and the benchmarks' results (|name|).
rst_prolog = tesscut_docs.rst_prolog()

# Other projects' documentation, through the inventories in _intersphinx/ (made by
# make_inventories.py): read first, so that the build is the same with or without a
# network; the projects' own inventories are the fallback.
intersphinx_mapping = {
    name: (root, (f"_intersphinx/{name}.inv", None)) for name, (root, _, _) in PROJECTS.items()
}
intersphinx_timeout = 10

# The theme of the astropy ecosystem; its CSS is widened so that code blocks show
# 100 columns (the command's help is made at tesscut_docs.CODE_COLUMNS).
html_theme = "pydata_sphinx_theme"
html_title = f"astro_tesscut {release}"
html_static_path = ["_static"]
html_css_files = ["tesscut.css"]
html_theme_options = {
    "github_url": "https://github.com/astro-tesscut/astro_tesscut",
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# No left sidebar: the pages are in the top bar, and code gets the width.
html_sidebars = {"**": []}
html_show_sourcelink = False

# The copy button copies code without its prompts (">>> ", "... ", "$ ") or output.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
