"""Sphinx configuration of the geomstats-density documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are MyST Markdown. The gallery (``auto_examples/``, generated, not in git) is
built by sphinx-gallery from the scripts in ``examples/`` (which the package ships
as ``geomstats_density/demo/gallery/`` and the ``geomstats-density demo`` command
runs too). The API reference is generated from the numpydoc-style docstrings by
autosummary (``api/index.md`` walks the package recursively, so a new module appears
without editing the docs).
"""

import importlib
import pkgutil
import shutil
import sys
from pathlib import Path

import geomstats_density

project = "geomstats-density"
author = "geomstats-density developers"
copyright = "geomstats-density developers"
release = geomstats_density.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

html_theme = "furo"
html_title = f"geomstats-density {release}"

# -- MyST -------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- sphinx-gallery ------------------------------------------------------------
sys.path.insert(0, str(Path(__file__).parent))
# Every script in examples/ is run and its pyplot figures are
# captured. The gallery's pages go to docs/auto_examples/ (listed in .gitignore).
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    # By the number in the file name (docs/gallery_order.py), as in the paper.
    "within_subsection_order": "gallery_order.ExampleNumberSortKey",
}

# -- autodoc / autosummary / napoleon -----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
# Keep walking every public submodule even where a package defines __all__.
autosummary_ignore_module_all = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_class_signature = "separated"

napoleon_google_docstring = False
napoleon_numpy_docstring = True
# "Attributes" sections as field lists: no second description of an attribute
# that autodoc also documents (that would be a duplicate-object warning).
napoleon_use_ivar = True
napoleon_use_rtype = False

# The generated API pages are rebuilt from the package at every build, so that a
# removed or renamed module never leaves a stale page behind.
_GENERATED = Path(__file__).parent / "api" / "generated"
shutil.rmtree(_GENERATED, ignore_errors=True)


def _public_names():
    """``{package: [dotted names of its __all__, where defined]}`` per package.

    The package pages list their public names (``from geomstats_density import
    ConformalMetric``) and link them to the module that defines each one. Names
    are relative to the package (autosummary rejects the current module as a
    prefix).
    """
    names = {}
    packages = [geomstats_density.__name__]
    packages += [
        info.name
        for info in pkgutil.walk_packages(
            geomstats_density.__path__, prefix=geomstats_density.__name__ + "."
        )
        if info.ispkg
    ]
    for package_name in packages:
        package = importlib.import_module(package_name)
        entries = []
        for name in getattr(package, "__all__", []):
            obj = getattr(package, name)
            module = getattr(obj, "__module__", None)
            qualname = getattr(obj, "__qualname__", None)
            if module and qualname:
                canonical = f"{module}.{qualname}"
                entries.append(canonical.removeprefix(package_name + "."))
        names[package_name] = entries
    return names


autosummary_context = {"public_names": _public_names()}


# -- Cross-references to public aliases ----------------------------------------
def _canonical_name(dotted, context_module=None):
    """Where the object named ``dotted`` is defined, or None if not ours.

    ``dotted`` is either a full path (``geomstats_density.ConformalMetric``) or a
    name looked up in ``context_module``, the module whose docstring holds the
    reference (``GeodesicCurve`` inside ``geomstats_density.solvers.newton``).
    """
    if dotted.startswith("geomstats_density."):
        module_name, _, path = dotted.partition(".")
    elif context_module and context_module.startswith("geomstats_density"):
        module_name, path = context_module, dotted
    else:
        return None
    parts = path.split(".")
    try:
        obj = importlib.import_module(module_name)
        for index, part in enumerate(parts):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                # A submodule not imported by its package yet.
                module_name = f"{module_name}.{'.'.join(parts[: index + 1])}"
                obj = importlib.import_module(module_name)
    except ImportError:
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or not module.startswith("geomstats_density"):
        return None
    return f"{module}.{qualname}"


def _resolve_alias(app, env, node, contnode):
    """Resolve a public alias to the page of the module that defines the object.

    Docstrings name public objects by the short path users import them from
    (``geomstats_density.ConformalMetric``) or by the name they are imported under
    in the module at hand; the API documents each object once, where it is defined.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    canonical = _canonical_name(target, node.get("py:module"))
    if canonical is None or canonical == target:
        return None
    node = node.deepcopy()
    node["reftarget"] = canonical
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
    )


def setup(app):
    """Sphinx extension hook: resolve cross-references to re-exported names.

    References to a name imported elsewhere (``geomstats_density.ConformalMetric``)
    go to the page of the module that defines it (:func:`_resolve_alias`).
    """
    app.connect("missing-reference", _resolve_alias)
