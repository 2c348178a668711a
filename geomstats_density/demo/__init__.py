"""The demo: the paper's examples, the experiments on shipped data, the command line.

- :mod:`geomstats_density.demo.paper_examples`: each of the paper's examples as a
  function that solves it and returns its numbers and figure;
- :mod:`geomstats_density.demo.manifold_examples`: the example on the sphere, in
  the same format;
- :mod:`geomstats_density.demo.experiments`: experiments on data that ships with
  PyPI packages, with their training scripts and shipped weights;
- :mod:`geomstats_density.demo.cli`: the ``geomstats-density demo`` command.

The library (metrics, solvers, qualities, densities, latent spaces, distances,
reports, plotting) never imports this package: it uses the library's public API
only.
"""
