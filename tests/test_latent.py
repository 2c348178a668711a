"""LatentSpace: geomstats API on a generator's latent space, Eq. 5 through a generator, errors."""

import copy
import math
import warnings

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean
from geomstats.learning.frechet_mean import FrechetMean

from geomstats_density import (
    DensityConformalMetric,
    DiscreteCurve,
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
)
from geomstats_density.densities import Gaussian
from geomstats_density.latent import LatentSpace
from geomstats_density.networks import ComposedMap, TorchMap
from geomstats_density.quality import Constant

EPS = 0.1
LN2 = math.log(2.0)


def tiny_generator(dim=2, out=6, seed=0):
    """A float32 MLP, as users' networks are."""
    torch.manual_seed(seed)
    layers = torch.nn.Sequential(torch.nn.Linear(dim, 8), torch.nn.Tanh(), torch.nn.Linear(8, out))
    # float32 whatever the default dtype (geomstats' pytorch backend sets float64).
    return layers.float()


def tiny_classifier(features=6, n_classes=3, seed=1):
    torch.manual_seed(seed)
    return torch.nn.Linear(features, n_classes).float()


def linear_generator(matrix, offset):
    """``G(z) = A z + b``: its Jacobian is ``A`` everywhere."""
    matrix = torch.as_tensor(matrix, dtype=torch.float64)
    offset = torch.as_tensor(offset, dtype=torch.float64)
    return lambda z: z @ matrix.T + offset


def bowl_quality(z):
    """``log Q = -1/2 - |z|^2 / 10``: varies along curves, below 0 everywhere."""
    return -0.5 - 0.1 * (z * z).sum(-1)


RNG = np.random.default_rng(0)
MATRIX = RNG.normal(size=(5, 3))
OFFSET = RNG.normal(size=5)


@pytest.fixture(scope="module")
def feature_space():
    return LatentSpace(
        tiny_generator(),
        2,
        log_density=Gaussian(torch.zeros(2, dtype=torch.float64)),
        classifier=tiny_classifier(),
        target=1,
        solver_options=dict(tol=1e-6),
    )


def test_latent_space_is_a_geomstats_euclidean_with_the_density_metric(feature_space):
    assert isinstance(feature_space, Euclidean)
    assert isinstance(feature_space.metric, DensityConformalMetric)
    assert feature_space.dim == 2
    assert feature_space.sample_shape == (6,)
    assert feature_space.metric.phi is None


def test_quality_is_realism_times_feature(feature_space):
    """By hand: a 2-D standard Gaussian's realism index is exp(-|z|^2 / 2)."""
    points = np.array([[0.3, -0.4], [1.5, 2.0], [-2.5, 0.1]])
    generator, classifier = tiny_generator(), tiny_classifier()
    with torch.no_grad():
        logits = classifier(generator(torch.tensor(points, dtype=torch.float32))).double().numpy()
    feature = np.exp(logits[:, 1]) / np.exp(logits).sum(-1)
    realism = np.exp(-0.5 * (points**2).sum(-1))
    expected = (EPS / 2 + (1 - EPS) * realism) * (EPS / 2 + (1 - EPS) * feature)
    with torch.no_grad():
        log_quality = feature_space.log_quality(torch.from_numpy(points))
    np.testing.assert_allclose(np.exp(log_quality.numpy()), expected, rtol=1e-6)


def test_geomstats_methods_have_the_right_shapes(feature_space):
    start, end = gs.array([-1.0, 0.5]), gs.array([1.0, 0.3])
    dist = feature_space.metric.dist(start, end)
    assert np.shape(dist) == ()
    # Any curve is at least as long as the geodesic: here the straight one.
    straight = float(feature_space.metric.curve_log_quality(gs.linspace(start, end, 257)))
    assert float(dist) <= -straight * (1 + 1e-6)
    batch = feature_space.metric.dist(gs.stack([start, end]), gs.stack([end, start]))
    np.testing.assert_allclose(as_numpy(batch), float(dist), rtol=1e-6)
    path = feature_space.metric.geodesic(initial_point=start, end_point=end)
    assert as_numpy(path(gs.linspace(0.0, 1.0, 7))).shape == (7, 2)
    points = gs.array([[0.0, 0.0], [1.0, 0.2], [-0.5, 1.0]])
    pairwise = as_numpy(feature_space.metric.dist_pairwise(points))
    assert pairwise.shape == (3, 3)
    np.testing.assert_allclose(pairwise, pairwise.T)
    np.testing.assert_array_equal(np.diag(pairwise), 0.0)
    mean = as_numpy(FrechetMean(feature_space).fit(points).estimate_)
    assert mean.shape == (2,)
    assert np.all(np.isfinite(mean))


def test_interpolate_returns_codes_from_start_to_end(feature_space):
    start, end = gs.array([-1.0, 0.5]), gs.array([1.0, 0.3])
    codes = as_numpy(feature_space.interpolate(start, end, n_points=5))
    assert codes.shape == (5, 2)
    np.testing.assert_allclose(codes[0], [-1.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(codes[-1], [1.0, 0.3], atol=1e-12)
    batch = as_numpy(feature_space.interpolate(gs.stack([start, end]), gs.stack([end, start]), 4))
    assert batch.shape == (2, 4, 2)


def test_decode_interpolations_puts_the_geodesic_next_to_linear_and_slerp(feature_space):
    start, end = gs.array([-1.0, 0.5]), gs.array([1.0, 0.3])
    samples = feature_space.decode_interpolations(start, end, n_points=4)
    assert list(samples) == ["geodesic", "linear", "slerp"]
    with torch.no_grad():
        expected_ends = (
            tiny_generator()(torch.tensor([[-1.0, 0.5], [1.0, 0.3]], dtype=torch.float32))
            .double()
            .numpy()
        )
    for images in samples.values():
        images = as_numpy(images)
        assert images.shape == (4, 6)
        np.testing.assert_allclose(images[[0, -1]], expected_ends, rtol=1e-5, atol=1e-6)
    # The middle of the linear interpolation is G of the midpoint.
    with torch.no_grad():
        third = (
            tiny_generator()(torch.tensor([[-1.0 + 2 / 3, 0.5 - 0.2 / 3]], dtype=torch.float32))
            .double()
            .numpy()
        )
    np.testing.assert_allclose(as_numpy(samples["linear"])[1], third[0], rtol=1e-5, atol=1e-6)


def relu_generator(dim=2, out=20, seed=0):
    """A float32 ReLU MLP with batch normalisation, like the DCGANs' layers."""
    torch.manual_seed(seed)
    layers = torch.nn.Sequential(
        torch.nn.Linear(dim, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, out),
    )
    return layers.float()


def module_state(module):
    """Everything of a module's parameters and buffers that a LatentSpace must leave alone."""
    tensors = [*module.named_parameters(), *module.named_buffers()]
    return [
        (
            name,
            t.dtype,
            t.device,
            t.requires_grad,
            t.detach().clone(),
            None if t.grad is None else t.grad.clone(),
        )
        for name, t in tensors
    ], module.training


def assert_same_state(before, after):
    (params_before, training_before), (params_after, training_after) = before, after
    assert training_before == training_after
    for (name, *old), (_, *new) in zip(params_before, params_after):
        assert old[:3] == new[:3], name
        torch.testing.assert_close(old[3], new[3], rtol=0, atol=0)
        if old[4] is None:
            assert new[4] is None, name
        else:
            torch.testing.assert_close(old[4], new[4], rtol=0, atol=0)


class RecordingClassifier(torch.nn.Module):
    """A linear classifier that records the device, dtype and storage of what it reads."""

    def __init__(self, features, n_classes=3):
        super().__init__()
        self.linear = torch.nn.Linear(features, n_classes)
        self.seen = []

    def forward(self, samples):
        self.seen.append((samples.device, samples.dtype))
        return self.linear(samples)


@pytest.mark.parametrize("generator_dtype", [torch.float64, torch.float32])
def test_networks_run_on_the_asked_device_and_dtype_and_the_module_is_untouched(generator_dtype):
    """Same path as on a GPU: codes go to ``device`` in ``generator_dtype``, float64 comes back.

    The module is in training mode with batch normalisation: its copy computes in
    eval mode (running statistics), and the module's statistics do not move.
    """
    module, classifier = relu_generator(), RecordingClassifier(20).float()
    with torch.no_grad():
        module[1].running_mean.fill_(0.3)
        module[1].running_var.fill_(2.0)
    module.train()
    for parameter in module.parameters():
        parameter.grad = torch.full_like(parameter, 0.25)
    before = module_state(module)
    space = LatentSpace(
        module,
        2,
        log_density=Gaussian(torch.zeros(2, dtype=torch.float64)),
        classifier=classifier,
        target=0,
        lengths_in="samples",
        device="cpu",
        generator_dtype=generator_dtype,
        solver_options=dict(tol=None, n_nodes=9, on_failure="ignore"),
    )
    assert space.generator.device == torch.device("cpu")
    assert space.generator.dtype == generator_dtype
    codes = torch.tensor(
        [[0.1, 0.2], [0.3, -0.4], [-1.2, 0.7]], dtype=torch.float64, requires_grad=True
    )
    samples = space.generator(codes)
    assert samples.dtype == torch.float64 and samples.device == torch.device("cpu")
    with torch.no_grad():
        reference = (
            copy.deepcopy(module)
            .eval()
            .to(generator_dtype)(codes.detach().to(generator_dtype))
            .double()
        )
    np.testing.assert_allclose(samples.detach().numpy(), reference.numpy(), rtol=1e-6, atol=1e-7)
    # Gradients reach the codes through the cast and the copy, not the module.
    (space.log_quality(codes).sum() + samples.sum()).backward()
    assert codes.grad is not None and bool(torch.isfinite(codes.grad).all())
    space.metric.dist(gs.array([-1.0, -1.0]), gs.array([1.5, 0.5]))
    assert classifier.seen == []  # only its copy ran
    assert_same_state(before, module_state(module))


def test_classifier_reads_samples_in_the_generators_dtype():
    generator, classifier = relu_generator(), RecordingClassifier(20)
    space = LatentSpace(
        generator, 2, classifier=classifier, target=1, generator_dtype=torch.float32
    )
    copy = space.log_quality.classifier.outer.network
    copy.seen.clear()
    with torch.no_grad():
        logits = space.log_quality.classifier(torch.zeros(4, 2, dtype=torch.float64))
    assert copy.seen == [(torch.device("cpu"), torch.float32)]
    assert logits.dtype == torch.float64 and logits.shape == (4, 3)
    with pytest.raises(
        ValueError,
        match=r"classifier takes points of shape \[6\], but the generator returns shape \[20\]",
    ):
        ComposedMap(TorchMap(tiny_classifier(), (6,), name="classifier"), space.generator)


def test_module_dtype_option_follows_the_module():
    assert (
        LatentSpace(
            relu_generator(), 2, log_quality=Constant(0.5), generator_dtype="module"
        ).generator.dtype
        == torch.float32
    )
    float64 = relu_generator().double()
    assert (
        LatentSpace(float64, 2, log_quality=Constant(0.5), generator_dtype="module").generator.dtype
        == torch.float64
    )
    assert (
        LatentSpace(
            lambda z: z, 2, log_quality=Constant(0.5), generator_dtype="module"
        ).generator.dtype
        == torch.float64
    )
    with pytest.raises(
        ValueError, match="generator must compute in torch.float64 or torch.float32"
    ):
        LatentSpace(relu_generator().half(), 2, log_quality=Constant(0.5), generator_dtype="module")


def test_float32_lengths_agree_with_float64_on_a_relu_generator():
    """The same curves, measured on 1025 points through a float32 and a float64 copy."""
    generator, classifier = relu_generator(), tiny_classifier(features=20)
    spaces = {
        dtype: LatentSpace(
            generator,
            2,
            log_density=Gaussian(torch.zeros(2, dtype=torch.float64)),
            classifier=classifier,
            target=0,
            lengths_in="samples",
            generator_dtype=dtype,
            solver_options=dict(tol=None, n_nodes=9),
        )
        for dtype in (torch.float64, torch.float32)
    }
    start, end = np.array([-1.0, -1.0]), np.array([1.5, 0.5])
    geodesic = spaces[torch.float64].metric.log_solver.solve(gs.array(end), gs.array(start))
    times = np.linspace(0.0, 1.0, 1025)
    curves = {"segment": np.linspace(start, end, 1025), "geodesic": as_numpy(geodesic(times))}
    for name, nodes in curves.items():
        lengths = {
            dtype: float(DiscreteCurve(nodes, metric=space.metric).length())
            for dtype, space in spaces.items()
        }
        assert lengths[torch.float32] == pytest.approx(lengths[torch.float64], rel=1e-6), name


def test_generator_is_called_in_batches():
    calls = []

    def generator(codes):
        calls.append(codes.shape[0])
        return torch.cat([codes, codes**2], dim=-1)

    mapped = TorchMap(generator, (2,), batch_size=4, name="generator")
    calls.clear()
    codes = torch.arange(2 * 3 * 5, dtype=torch.float64).reshape(3, 5, 2)
    samples = mapped(codes)
    assert calls == [4, 4, 4, 3]
    np.testing.assert_array_equal(samples.numpy(), torch.cat([codes, codes**2], -1).numpy())


@pytest.mark.parametrize("log_quality", [Constant(0.5), bowl_quality])
def test_sample_lengths_are_eq5_through_the_generator(log_quality):
    """Eq. 5 by hand with Phi = G(z) = A z + b: pieces ``log Q(mid) |A dz|``."""
    space = LatentSpace(
        linear_generator(MATRIX, OFFSET), 3, log_quality=log_quality, lengths_in="samples"
    )
    nodes = np.random.default_rng(1).normal(size=(6, 3))
    mids = 0.5 * (nodes[1:] + nodes[:-1])
    log_q_mid = -0.5 - 0.1 * (mids**2).sum(-1) if log_quality is bowl_quality else -LN2
    pieces = np.linalg.norm(np.diff(nodes, axis=0) @ MATRIX.T, axis=-1)
    expected = np.sum(log_q_mid * pieces)
    np.testing.assert_allclose(
        float(space.metric.curve_log_quality(gs.array(nodes))), expected, rtol=1e-12
    )
    # The metric is log(Q)^2 A^T A at every point.
    point = nodes[0]
    log_q = -0.5 - 0.1 * point @ point if log_quality is bowl_quality else -LN2
    np.testing.assert_allclose(
        as_numpy(space.metric.metric_matrix(gs.array(point))),
        log_q**2 * MATRIX.T @ MATRIX,
        rtol=1e-10,
    )


def test_constant_quality_geodesic_through_a_linear_generator_is_straight():
    """``g = log(2)^2 A^T A`` is flat: the geodesic is the segment, of length ``ln 2 |A dz|``."""
    space = LatentSpace(
        linear_generator(MATRIX, OFFSET), 3, log_quality=Constant(0.5), lengths_in="samples"
    )
    start, end = np.array([0.2, -1.0, 0.5]), np.array([1.0, 0.4, -0.3])
    dist = float(space.metric.dist(gs.array(start), gs.array(end)))
    assert dist == pytest.approx(LN2 * np.linalg.norm(MATRIX @ (end - start)), rel=1e-9)
    codes = as_numpy(space.interpolate(gs.array(start), gs.array(end), n_points=5))
    np.testing.assert_allclose(codes, np.linspace(start, end, 5), atol=1e-7)
    latent = LatentSpace(linear_generator(MATRIX, OFFSET), 3, log_quality=Constant(0.5))
    assert float(latent.metric.dist(gs.array(start), gs.array(end))) == pytest.approx(
        LN2 * np.linalg.norm(end - start), rel=1e-9
    )


def test_typicality_geodesic_avoids_the_soap_bubble_in_dimension_100():
    """Between orthogonal codes of norm 10, the segment's midpoint has norm sqrt(50)."""
    dim = 100
    torch.manual_seed(0)
    generator = torch.nn.Sequential(
        torch.nn.Linear(dim, 32), torch.nn.Tanh(), torch.nn.Linear(32, 64)
    )
    space = LatentSpace(
        generator,
        dim,
        log_density=Gaussian(torch.zeros(dim, dtype=torch.float64)),
        realism="typicality",
        solver_options=dict(tol=None, n_nodes=9),
    )
    first, second = np.zeros(dim), np.zeros(dim)
    first[0], second[1] = 10.0, 10.0
    codes = as_numpy(space.interpolate(gs.array(first), gs.array(second), n_points=9))
    norms = np.linalg.norm(codes, axis=-1)
    assert np.linalg.norm(0.5 * (first + second)) == pytest.approx(math.sqrt(50))
    assert norms.min() > 9.5


def test_matrix_free_solve_through_an_ill_conditioned_generator_converges():
    """Singular values from 1 to 1e-3: nodes slide almost freely along flat directions.

    The matrix-free path (D = 40 > 32) must still converge, to the length that the
    exact block-tridiagonal Hessian finds.
    """
    dim, rng = 40, np.random.default_rng(3)
    left, _ = np.linalg.qr(rng.normal(size=(60, dim)))
    right, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    matrix = left @ np.diag(np.logspace(0, -3, dim)) @ right.T
    generator = linear_generator(matrix, np.zeros(60))

    def log_quality(z):
        return bowl_quality(generator(z))

    start, end = np.zeros(dim), np.zeros(dim)
    start[:2], end[:2] = (3.0, 0.0), (0.0, 3.0)
    dists = {}
    for hessian in ("sobolev", "blocks"):
        space = LatentSpace(
            generator,
            dim,
            log_quality=log_quality,
            lengths_in="samples",
            solver_options=dict(tol=1e-6, hessian=hessian, on_failure="raise"),
        )
        dists[hessian] = float(space.metric.dist(gs.array(start), gs.array(end)))
    assert dists["sobolev"] == pytest.approx(dists["blocks"], rel=1e-5)
    # The quality's bowl bends the curve: it is shorter than the segment.
    segment = LatentSpace(generator, dim, log_quality=log_quality, lengths_in="samples")
    straight = segment.metric.curve_sq_lengths(torch.from_numpy(np.linspace(start, end, 513)))
    assert dists["blocks"] < float(torch.sqrt(straight).sum())


def test_bad_input_raises_clear_errors():
    generator = tiny_generator()
    with pytest.raises(ValueError, match=r"generator failed on a batch of shape \[1, 3\]"):
        LatentSpace(generator, 3, log_quality=Constant(0.5))
    with pytest.raises(ValueError, match="generator must return a torch tensor"):
        LatentSpace(lambda z: z.numpy(), 2, log_quality=Constant(0.5))
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        LatentSpace(generator, 0, log_quality=Constant(0.5))
    with pytest.raises(ValueError, match="lengths_in"):
        LatentSpace(generator, 2, log_quality=Constant(0.5), lengths_in="pixels")
    with pytest.raises(ValueError, match="needs a quality"):
        LatentSpace(generator, 2)
    with pytest.raises(ValueError, match="not both"):
        LatentSpace(generator, 2, log_quality=Constant(0.5), log_density=Gaussian(np.zeros(2)))
    with pytest.raises(ValueError, match="classifier needs target"):
        LatentSpace(generator, 2, classifier=tiny_classifier())
    space = LatentSpace(generator, 2, log_quality=Constant(0.5))
    with pytest.raises(ValueError, match=r"codes must have shape \[\.\.\., 2\]"):
        space.decode(gs.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="NaN or infinite coordinate"):
        space.interpolate(gs.array([np.nan, 0.0]), gs.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="n_points"):
        space.interpolate(gs.array([0.0, 0.0]), gs.array([1.0, 0.0]), n_points=1)


def test_generator_returning_nan_is_a_domain_error():
    def exploding(codes):
        return torch.where(codes[:, :1] > 1.0, torch.nan, codes)

    space = LatentSpace(exploding, 2, log_quality=Constant(0.5), lengths_in="samples")
    with pytest.raises(
        DomainError, match=r"generator returned NaN or infinite values at point \[2\.0"
    ):
        space.decode(gs.array([[0.0, 0.0], [2.0, 0.0]]))


def test_interpolate_returns_the_solvers_curve_with_its_length():
    """Constant quality through ``A z + b``: the geodesic is the segment, ``dist = ln 2 |A dz|``."""
    space = LatentSpace(
        linear_generator(MATRIX, OFFSET), 3, log_quality=Constant(0.5), lengths_in="samples"
    )
    start, end = np.array([0.2, -1.0, 0.5]), np.array([1.0, 0.4, -0.3])
    codes, curve = space.interpolate(gs.array(start), gs.array(end), n_points=5, return_curve=True)
    assert float(curve.dist) == pytest.approx(
        LN2 * np.linalg.norm(MATRIX @ (end - start)), rel=1e-9
    )
    assert bool(curve.converged) and int(curve.n_iterations) >= 0
    np.testing.assert_allclose(as_numpy(codes), np.linspace(start, end, 5), atol=1e-7)
    samples, same = space.decode_interpolations(
        gs.array(start), gs.array(end), n_points=5, return_curve=True
    )
    assert float(same.dist) == pytest.approx(float(curve.dist), rel=1e-12)
    expected = np.linspace(start, end, 5) @ MATRIX.T + OFFSET
    np.testing.assert_allclose(as_numpy(samples["geodesic"]), expected, atol=1e-6)
    np.testing.assert_allclose(as_numpy(samples["linear"]), expected, atol=1e-12)


def test_on_failure_warns_raises_or_flags_for_one_call():
    """One Newton iteration on one node count cannot bend the segment onto the bowl's geodesic."""
    generator = linear_generator(MATRIX, OFFSET)
    space = LatentSpace(
        generator,
        3,
        log_quality=lambda z: bowl_quality(generator(z)),
        lengths_in="samples",
        solver_options=dict(max_iter=1, tol=1e-6, max_nodes=17),
    )
    start, end = gs.array([2.0, -1.0, 0.5]), gs.array([-1.0, 2.0, -0.3])
    with pytest.warns(GeodesicConvergenceWarning, match="did not converge"):
        space.interpolate(start, end)
    with pytest.raises(GeodesicConvergenceError, match="did not converge"):
        space.decode_interpolations(start, end, on_failure="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes, curve = space.interpolate(start, end, on_failure="ignore", return_curve=True)
    assert not bool(curve.converged)
    np.testing.assert_allclose(
        as_numpy(codes)[[0, -1]], as_numpy(gs.stack([start, end])), atol=1e-12
    )
    assert space.metric.log_solver.on_failure == "warn"
    with pytest.raises(ValueError, match="on_failure must be one of"):
        space.interpolate(start, end, on_failure="stop")
    neural = LatentSpace(
        generator, 3, log_quality=Constant(0.5), method="neural", solver_options=dict(n_steps=1)
    )
    # The neural baseline reports its failures too: one Adam step has not converged.
    with pytest.raises(GeodesicConvergenceError, match="did not converge"):
        neural.interpolate(start, end, on_failure="raise")
    assert neural.metric.log_solver.on_failure == "warn"
