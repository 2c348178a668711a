"""Conformal Riemannian metrics ``g = e^f g_0``, geomstats' ``RiemannianMetric`` subclasses.

- :mod:`~geomstats_density.metrics.conformal`: :class:`ConformalMetric`, the
  construction and the metric tensor, with the layers below mixed in.
- :mod:`~geomstats_density.metrics.geodesics`: distances and geodesics from the
  metric's solver objects.
- :mod:`~geomstats_density.metrics.connection`: the Levi-Civita connection and
  its curvature.
- :mod:`~geomstats_density.metrics.solver_view`: the solvers' view of the
  metric, torch in and out, in coordinates.
- :mod:`~geomstats_density.metrics.log_factor`: :class:`LogFactor`, the
  log-factor ``f`` validated, shifted and differentiated.

The density-conformal metric of a quality is
:class:`~geomstats_density.density_metric.DensityConformalMetric`.
"""

from geomstats_density.metrics.conformal import ConformalMetric
from geomstats_density.metrics.log_factor import LogFactor

__all__ = ["ConformalMetric", "LogFactor"]
