"""Sphinx configuration of gainprop's documentation site.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` (``.ci/run``
does, warnings as errors): pages in MyST markdown, the API reference generated
from the numpydoc docstrings, and the gallery of ``examples/`` executed by
sphinx-gallery.
"""

import os
import warnings

import gainprop

project = "gainprop"
author = "The gainprop developers"
copyright = "The gainprop developers"
version = release = gainprop.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]

# MyST: $...$ and $$...$$ math, ::: fences, heading anchors for links
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: one page per object, written from the numpydoc docstrings
autosummary_generate = True

autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# The gallery: every examples/plot_*.py runs, its figures and output go in the page
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "min_reported_time": 0,
    # GAINPROP_DOCS_GALLERY=0 builds the pages without running the examples
    "plot_gallery": os.environ.get("GAINPROP_DOCS_GALLERY", "1").lower() not in ("0", "false"),
    "abort_on_example_error": True,
}
# the examples call plt.show(), which is silent under the gallery's Agg backend
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

html_theme = "pydata_sphinx_theme"
html_title = f"gainprop {version}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "icon_links": [{"name": "GitHub", "url": "https://github.com/gainprop/gainprop",
                    "icon": "fa-brands fa-github"}],
}
html_sidebars = {"install": [], "quick_start": []}
html_show_sourcelink = False


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the methods the estimators inherit from scikit-learn
    (``get_params``, ``score``, the metadata-routing setters, ...): scikit-learn
    documents them, and their docstrings refer to its own pages."""
    function = getattr(obj, "fget", obj)
    if getattr(function, "__module__", "") and function.__module__.startswith("sklearn"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
