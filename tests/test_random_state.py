"""Every random draw takes a ``random_state``: the same call gives the same numbers."""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric, NeuralGeodesicSolver, VonMisesFisher
from geomstats_density.densities import GaussianMixture, KernelDensity, LogProbDensity
from geomstats_density.fitting import fit_gaussian_mixture
from geomstats_density.laws import EmpiricalLogDensityLaw
from geomstats_density.quality import RealismIndex, Typicality
from geomstats_density.solvers.graph import density_samples
from geomstats_density.solvers.starts import GlobalStart

DATA = np.random.default_rng(0).normal(size=(40, 2))


def kernel_density():
    return KernelDensity(DATA, 0.5)


def kde_distance(**quality_options):
    """A realism-index distance on a kernel density estimate (no closed-form law)."""
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=RealismIndex(kernel_density(), n_samples=1024, **quality_options),
        solver_options=dict(n_nodes=9, tol=None),
    )
    return float(space.metric.dist(gs.array([-1.0, 0.0]), gs.array([1.0, 0.5])))


def test_default_distance_is_the_same_bit_for_bit_across_fresh_constructions():
    torch.manual_seed(1)
    first = kde_distance()
    torch.manual_seed(2)  # the global generator plays no part
    assert kde_distance() == first


def test_other_seeds_give_other_distances():
    distances = {kde_distance(random_state=seed) for seed in range(3)}
    assert len(distances) == 3


@pytest.mark.parametrize("quality_class", [RealismIndex, Typicality])
def test_seeded_laws_are_equal_and_leave_the_global_generator_alone(quality_class):
    state = torch.get_rng_state()
    first = quality_class(kernel_density(), n_samples=1024, random_state=7)
    second = quality_class(kernel_density(), n_samples=1024, random_state=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.law.samples, second.law.samples)
    points = torch.from_numpy(DATA[:10])
    assert torch.equal(first(points), second(points))


def test_an_integer_a_torch_generator_and_a_numpy_generator_are_all_sources():
    density = kernel_density()
    by_int = EmpiricalLogDensityLaw.from_density(density, 256, random_state=5)
    by_torch = EmpiricalLogDensityLaw.from_density(
        density, 256, random_state=torch.Generator().manual_seed(5)
    )
    assert torch.equal(by_int.samples, by_torch.samples)
    by_numpy = [
        EmpiricalLogDensityLaw.from_density(
            density, 256, random_state=np.random.default_rng(5)
        ).samples
        for _ in range(2)
    ]
    assert torch.equal(*by_numpy)
    # A generator is advanced by each draw.
    generator = torch.Generator().manual_seed(5)
    once = density.sample(8, random_state=generator)
    assert not torch.equal(once, density.sample(8, random_state=generator))


def test_none_draws_from_the_global_generator():
    density = kernel_density()
    torch.manual_seed(3)
    first = density.sample(8, random_state=None)
    torch.manual_seed(3)
    assert torch.equal(first, density.sample(8, random_state=None))
    assert not torch.equal(first, density.sample(8, random_state=None))


def test_different_seeds_give_different_laws_within_their_dkw_bounds():
    density = kernel_density()
    laws = [EmpiricalLogDensityLaw.from_density(density, 4096, random_state=s) for s in (0, 1)]
    assert not torch.equal(laws[0].samples, laws[1].samples)
    grid = torch.linspace(
        float(laws[0].samples[0]), float(laws[0].samples[-1]), 200, dtype=torch.float64
    )
    gap = torch.max(torch.abs(torch.exp(laws[0].log_cdf(grid)) - torch.exp(laws[1].log_cdf(grid))))
    # Each smoothed CDF is within its DKW bound of the true one (95%); the
    # bandwidths (about 0.03 in log-density) add far less.
    assert 0 < float(gap) < laws[0].monte_carlo_error + laws[1].monte_carlo_error


@pytest.mark.parametrize(
    "density",
    [
        kernel_density(),
        GaussianMixture(np.ones(2), np.eye(2), np.stack([np.eye(2)] * 2)),
        VonMisesFisher(np.array([0.0, 0.0, 1.0]), 5.0),
        LogProbDensity(
            torch.distributions.MultivariateNormal(
                torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)
            )
        ),
    ],
    ids=["kde", "mixture", "von-mises-fisher", "log-prob"],
)
def test_density_samples_repeat_by_default(density):
    state = torch.get_rng_state()
    first = density.sample(16)
    assert torch.equal(first, density.sample(16))
    assert not torch.equal(first, density.sample(16, random_state=1))
    assert torch.equal(torch.get_rng_state(), state)


def test_graph_samples_repeat_and_follow_graph_options():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=RealismIndex(kernel_density()))
    first, _ = density_samples(space.metric, 50, 0)
    again, _ = density_samples(space.metric, 50, 0)
    np.testing.assert_array_equal(first, again)
    other, _ = density_samples(space.metric, 50, torch.Generator().manual_seed(4))
    assert not np.array_equal(first, other)
    assert GlobalStart(options={"random_state": 4}).options["random_state"] == 4


def test_neural_solver_repeats_with_its_default_random_state():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=RealismIndex(kernel_density()))
    start, end = gs.array([-1.0, 0.0]), gs.array([1.0, 0.5])
    solves = [
        NeuralGeodesicSolver(
            space, hidden=(8,), n_steps=5, n_nodes=5, on_failure="ignore"
        ).geodesic_bvp(end, start)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(as_numpy(solves[0].nodes), as_numpy(solves[1].nodes))


def test_fitted_mixture_repeats_with_its_default_random_state():
    fits = [fit_gaussian_mixture(DATA, n_components=2, progress=False) for _ in range(2)]
    assert torch.equal(fits[0].means, fits[1].means)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_random_state_is_named(bad):
    with pytest.raises(ValueError, match="random_state must be a non-negative integer"):
        RealismIndex(kernel_density(), random_state=bad)
    with pytest.raises(ValueError, match=r"graph_options\['random_state'\]"):
        GlobalStart(options={"random_state": bad})
