"""Errors and warnings raised by geomstats-density."""

import contextlib
import functools
import os
import sys
import warnings


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


def warn_at_caller(message, category):
    """``warnings.warn`` pointing at the first frame outside the libraries: the user's line.

    The frames of geomstats-density, of geomstats (whose ``Connection.log``,
    ``RiemannianMetric.dist`` and ``dist_broadcast`` call our solvers, and whose
    learners call them through scikit-learn), of scikit-learn and joblib, and
    of context-manager decorators are walked out of, however deep the call
    (``warnings.warn(..., skip_file_prefixes=...)`` does this from Python 3.12 on).

    Parameters
    ----------
    message : str
    category : type
        A ``Warning`` subclass.
    """
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and _in_library(frame.f_code.co_filename):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)


def report_failure(message, on_failure):
    """A solver's failure, reported as its ``on_failure`` option says.

    Parameters
    ----------
    message : str
        What failed, and what to change.
    on_failure : {'warn', 'raise', 'ignore'}
        Emit a :class:`GeodesicConvergenceWarning` (at the user's line, see
        :func:`warn_at_caller`), raise a :class:`GeodesicConvergenceError`, or
        say nothing.
    """
    if on_failure == "raise":
        raise GeodesicConvergenceError(message)
    if on_failure != "ignore":
        warn_at_caller(message, GeodesicConvergenceWarning)


@functools.cache
def _library_prefixes():
    """Directories of the libraries that call our solvers, and contextlib's file."""
    import geomstats
    import joblib
    import sklearn

    import geomstats_density

    packages = (geomstats_density, geomstats, sklearn, joblib)
    return tuple(
        os.path.dirname(os.path.abspath(package.__file__)) + os.sep for package in packages
    ) + (os.path.abspath(contextlib.__file__),)


def _in_library(filename):
    return os.path.abspath(filename).startswith(_library_prefixes())


class ConstantQualityWarning(UserWarning):
    """A log-quality does not vary with the points: the factor is constant where curves go.

    Its geodesics are those of the base metric (shaped only by where the quality
    refuses points); ``quality.Constant`` says so on purpose.
    """
