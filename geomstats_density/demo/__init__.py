"""The demo: the gallery, the experiments on shipped data, the command line.

- ``gallery/``: the scripts of the documentation's gallery, ``plot_<N>_<name>.py``
  (package data, not modules): the paper's examples and the others, each the
  code a user writes, top to bottom;
- :mod:`geomstats_density.demo.experiments`: experiments on data that ships with
  PyPI packages, with their training scripts and shipped weights;
- :mod:`geomstats_density.demo.results`: the rows of the demo's report;
- :mod:`geomstats_density.demo.cli`: the ``geomstats-density demo`` command, which
  runs the gallery scripts of the paper's examples and the experiments.

The library (metrics, solvers, qualities, densities, latent spaces, distances,
reports, plotting) never imports this package: it uses the library's public API
only.
"""
