"""Sphinx configuration of the solarmaggan documentation.

Build (as CI does; warnings are errors, the gallery is executed)::

    .venv/bin/pip install -e ".[docs]"
    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
    python -m http.server -d docs/_build/html      # then open http://localhost:8000

No network is needed at build time: no intersphinx inventory is fetched (these machines
reach only the package registries), so references to numpy, astropy or Keras objects are
plain text, and ``nitpicky`` stays off (without the inventories it would flag every such
type in a signature).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

# the gallery's examples and the API pages import TensorFlow: keep its start-up lines off
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

from solarmaggan._version import __version__  # noqa: E402
from solarmaggan.console import configure, load_tensorflow  # noqa: E402

# TensorFlow loaded once, quietly, before the API pages and the gallery import it
configure()
load_tensorflow()

project = "solarmaggan"
author = "the solarmaggan developers"
copyright = "2026, the solarmaggan developers (MIT licence)"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "myst_parser",
    "settings_table",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated/gallery/*.ipynb", "generated/gallery/*.py",
                    "generated/gallery/*.zip", "generated/gallery/*.json"]
templates_path = ["_templates"]

# MyST: the user guide is Markdown, as the README it came from; headings get anchors so
# that pages can link to a section as page.md#anchor
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# docstrings are written in the Google style ("Args:", "Returns:") or as free text
napoleon_google_docstring = True
napoleon_numpy_docstring = True
# "Attributes:" as :ivar: fields, not attribute entries that a dataclass's own fields repeat
napoleon_use_ivar = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
# Keras' own docstrings (Model.from_config, ...) are not ours to document
autodoc_inherit_docstrings = False
autodoc_default_options = {"show-inheritance": True}

# the API reference: autosummary finds every module of the two packages (recursive) and
# writes one page each (docs/api/, _templates/autosummary/module.rst) with autodoc's
# members: what a module defines, not what it imports
autosummary_generate = True
autosummary_imported_members = False

# the gallery: examples/ at the top of the repository, executed at every build
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "generated/gallery",
    "filename_pattern": r".*",  # run every example, not only plot_*.py
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}

# pydata-sphinx-theme, the theme that sunpy's own (sunpy-sphinx-theme) is built on: the
# sunpy theme brands a site as the SunPy project's (its navigation bar links to sunpy.org)
# and loads an analytics script from the internet, neither right for this site
html_theme = "pydata_sphinx_theme"
html_title = f"solarmaggan {version}"
html_static_path = ["_static"]
html_show_sourcelink = True
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # the settings tables need the page's full width
    "secondary_sidebar_items": {"**": ["page-toc", "sourcelink"], "reference/settings": []},
}
