"""Errors and warnings raised by geomstats-density."""


class DomainError(ValueError):
    """A factor or quality is not finite (or a quality not below 1) at some point.

    Raised by metric evaluations; solvers catch it on trial steps (a step out of
    the domain is rejected) and let it through on the curves they are given.
    """


class GeodesicConvergenceWarning(UserWarning):
    """A geodesic solver stopped before meeting its tolerance."""


class GeodesicConvergenceError(RuntimeError):
    """A geodesic solver stopped before meeting its tolerance (``on_failure='raise'``)."""


class NonUniqueGeodesicWarning(UserWarning):
    """The endpoints are cut points of the base metric: geodesics are not unique."""


class ConstantQualityWarning(UserWarning):
    """A log-quality does not vary with the points: the factor is constant where curves go.

    Its geodesics are those of the base metric (shaped only by where the quality
    refuses points); ``quality.Constant`` says so on purpose.
    """
