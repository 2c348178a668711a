"""The paper's solver, kept as the baseline: a neural curve trained by Adam.

Struski et al. parametrise the curve by a small MLP ``f: R -> R^dim`` with the
endpoints pinned by an affine correction,

    gamma(t) = f(t) - (t f(1) + (1 - t) f(0)) + (t z_1 + (1 - t) z_0),

and at each step draw sorted uniform times (the first forced to 0, the last to 1),
evaluate Eq. 5 with the factor at ``gamma`` of the mid-times, and take one Adam
step. Curves of a batch are trained together, each by its own MLP (the weights
carry a batch axis), which is the same as training them one by one.
"""

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from geomstats.numerics.geodesic import LogSolver

from geomstats_density._arrays import broadcast_pair, check_points, torch_threads_for
from geomstats_density.curves import GeodesicCurve
from geomstats_density.exceptions import DomainError


class NeuralGeodesicSolver(LogSolver):
    """Geodesics as MLP curves trained on the discrete energy (the paper's baseline).

    Parameters
    ----------
    space : Manifold
        Space equipped with a :class:`~geomstats_density.ConformalMetric`.
    hidden : tuple of int
        Widths of the hidden ReLU layers.
    n_points : int
        Random times drawn per step (endpoints included).
    n_steps : int
        Adam steps.
    lr : float
        Adam learning rate.
    betas : tuple of float
        Adam moment decay rates.
    n_nodes : int
        Uniform times at which the trained curve is returned and measured.
    seed : int
        Seed of the weight initialisation and of the random times.
    progress : bool or None
        Show a progress bar over the steps; None shows it above 1000 steps.
    """

    def __init__(
        self,
        space,
        hidden=(100, 100, 100),
        n_points=20,
        n_steps=500,
        lr=1e-2,
        betas=(0.9, 0.999),
        n_nodes=257,
        seed=0,
        progress=None,
    ):
        super().__init__(solves_bvp=True)
        if n_points < 2 or n_nodes < 2 or n_steps < 1:
            raise ValueError("n_points and n_nodes must be >= 2 and n_steps >= 1.")
        self._space = space
        self.hidden = tuple(hidden)
        self.n_points = n_points
        self.n_steps = n_steps
        self.lr = lr
        self.betas = betas
        self.n_nodes = n_nodes
        self.seed = seed
        self.progress = progress

    def log(self, point, base_point):
        """Initial velocity of the trained curve, ``gamma'(0)``, shape ``[..., dim]``."""
        return self.solve(point, base_point).initial_velocity

    def geodesic_bvp(self, point, base_point):
        """The trained curve from ``base_point`` to ``point``, a :class:`GeodesicCurve`."""
        return self.solve(point, base_point)

    def solve(self, point, base_point):
        """Train one MLP curve per pair of endpoints.

        Parameters
        ----------
        point, base_point : array-like, shape=[..., dim]

        Returns
        -------
        curve : GeodesicCurve
            ``dist`` is the discrete length at ``n_nodes`` uniform times.
        """
        metric = self._space.metric
        dim = self._space.dim
        end, start = broadcast_pair(
            check_points(point, dim, "point"), check_points(base_point, dim, "base_point")
        )
        batch_shape = tuple(start.shape[:-1])
        start = start.detach().reshape(-1, dim)
        end = end.detach().reshape(-1, dim)
        generator = torch.Generator().manual_seed(self.seed)
        curve = _MLPCurve(start, end, self.hidden, generator)
        optimizer = torch.optim.Adam(curve.parameters, lr=self.lr, betas=self.betas)
        show = self.progress if self.progress is not None else self.n_steps > 1000
        width = max(max(self.hidden, default=1), metric.point_cost)
        with torch_threads_for(start.shape[0] * self.n_points * width):
            for _ in tqdm(range(self.n_steps), desc="neural geodesics", disable=not show):
                times = _random_times(start.shape[0], self.n_points, generator)
                loss = _energy(metric, curve, times).sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.enable_grad():
                origin = torch.zeros(start.shape[0], 1, dtype=start.dtype, requires_grad=True)
                first = curve(origin)[:, 0]
                velocity = torch.stack(
                    [
                        torch.autograd.grad(first[:, j].sum(), origin, retain_graph=True)[0][:, 0]
                        for j in range(dim)
                    ],
                    dim=-1,
                )
            with torch.no_grad():
                times = torch.linspace(0, 1, self.n_nodes, dtype=start.dtype)
                nodes = curve(times.expand(start.shape[0], -1))
                dist = torch.sqrt(metric.curve_sq_lengths(nodes)).sum(-1)
        finite = torch.isfinite(dist)
        if not bool(finite.all()):
            raise DomainError("The neural curve left the metric's domain during training.")
        return GeodesicCurve(
            nodes=nodes.reshape(*batch_shape, self.n_nodes, dim),
            metric=metric,
            dist=dist.reshape(batch_shape),
            initial_velocity=velocity.detach().reshape(*batch_shape, dim),
            converged=np.ones(batch_shape, dtype=bool),
            n_iterations=np.full(batch_shape, self.n_steps),
        )


def _random_times(batch, n_points, generator):
    times, _ = torch.rand(batch, n_points, generator=generator, dtype=torch.float64).sort(-1)
    times[:, 0], times[:, -1] = 0.0, 1.0
    return times


def _energy(metric, curve, times):
    """Eq. 5 with the factor at the curve's mid-time points, shape ``[batch]``."""
    nodes = curve(times)
    mid = curve(0.5 * (times[:, 1:] + times[:, :-1]))
    image = metric.image_tensor(nodes)
    chord = image[:, 1:] - image[:, :-1]
    steps = torch.diff(times, dim=-1).clamp_min(1e-12)
    return (torch.exp(metric.log_factor_tensor(mid)) * (chord * chord).sum(-1) / steps).sum(-1)


class _MLPCurve:
    """A batch of MLPs ``R -> R^dim`` with the endpoint correction of the paper."""

    def __init__(self, start, end, hidden, generator):
        self.start, self.end = start, end
        widths = (1, *hidden, start.shape[-1])
        self.parameters = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's initialisation
            for shape in ((start.shape[0], fan_in, fan_out), (start.shape[0], 1, fan_out)):
                weights = (torch.rand(shape, generator=generator, dtype=start.dtype) * 2 - 1)
                self.parameters.append((weights * bound).requires_grad_(True))

    def _network(self, times):
        x = times.unsqueeze(-1)
        layers = list(zip(self.parameters[::2], self.parameters[1::2]))
        for i, (weight, bias) in enumerate(layers):
            x = torch.baddbmm(bias, x, weight)
            if i < len(layers) - 1:
                x = torch.relu(x)
        return x

    def __call__(self, times):
        """Points at ``times`` of shape ``[batch, n_times]``: ``[batch, n_times, dim]``."""
        ends = self._network(torch.tensor([[0.0, 1.0]], dtype=times.dtype).expand(times.shape[0], 2))
        t = times.unsqueeze(-1)
        correction = t * ends[:, 1:2] + (1 - t) * ends[:, 0:1]
        line = t * self.end[:, None] + (1 - t) * self.start[:, None]
        return self._network(times) - correction + line
