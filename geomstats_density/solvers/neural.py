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
from geomstats.numerics.geodesic import LogSolver
from tqdm.auto import tqdm

from geomstats_density._validation import (
    broadcast_pair,
    check_bool_or_none,
    check_float,
    check_int,
    check_on_failure,
    check_points,
    check_positive_float,
    check_positive_int,
    check_random_state,
    torch_generator,
)
from geomstats_density.curves import DiscreteCurve, GeodesicCurve, measured_lengths
from geomstats_density.exceptions import (
    DomainError,
    report_failure,
)
from geomstats_density.threads import torch_threads_for

# Fewest steps in each of the two windows the convergence test compares.
MIN_WINDOW = 5


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
        Adam moment decay rates, each in [0, 1).
    n_nodes : int
        Uniform times at which the trained curve is returned.
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of the weight initialisation and of the random times: an integer
        (default 0) makes every solve the same, a generator is advanced by each
        solve, None draws from torch's global generator.
    rtol : float
        Largest relative change of a converged curve's mean energy between the
        last ``n_steps // 10`` steps (at least 5) and as many steps before.
    gtol : float
        Largest norm of a converged curve's mean energy gradient over those last
        steps, relative to its largest gradient norm over as many first steps.
        Training runs ``n_steps`` steps either way; ``curve.converged`` says
        whether both tests passed.
    on_failure : {'warn', 'raise', 'ignore'}
        What to do when a curve has not converged: emit a
        :class:`~geomstats_density.GeodesicConvergenceWarning`, raise a
        :class:`~geomstats_density.GeodesicConvergenceError`, or only flag
        ``curve.converged``.
    progress : bool or None
        Show a progress bar over the steps; None shows it above 1000 steps.

    Notes
    -----
    The energy is differentiated with respect to the curves' own weights only
    (``torch.autograd.grad``): the networks and tensors the metric's callables
    hold are left as they are (no ``.grad`` written, no flag changed).
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
        random_state=0,
        rtol=1e-3,
        gtol=0.1,
        on_failure="warn",
        progress=None,
    ):
        super().__init__(solves_bvp=True)
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise ValueError(f"hidden must be a tuple of positive integers, got {hidden!r}.")
        self._space = space
        self.hidden = tuple(
            check_positive_int(width, f"hidden[{i}]") for i, width in enumerate(hidden)
        )
        self.n_points = check_int(n_points, "n_points", minimum=2)
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.lr = check_positive_float(lr, "lr")
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}.")
        self.betas = tuple(
            check_float(beta, f"betas[{i}]", 0.0, 1.0, strict=False) for i, beta in enumerate(betas)
        )
        if self.betas[0] == 1.0 or self.betas[1] == 1.0:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}.")
        self.n_nodes = check_int(n_nodes, "n_nodes", minimum=2)
        self.random_state = check_random_state(random_state)
        self.rtol = check_positive_float(rtol, "rtol")
        self.gtol = check_positive_float(gtol, "gtol")
        self.on_failure = check_on_failure(on_failure)
        self.progress = check_bool_or_none(progress, "progress")

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
            Nodes at ``n_nodes`` uniform times; ``dist`` is the returned
            curve's own length, ``curve.length()``
            (:func:`~geomstats_density.curves.measured_lengths`); ``converged``
            says whether the training met ``rtol`` and ``gtol``.

        Raises
        ------
        DomainError
            If a curve leaves the metric's domain.
        GeodesicConvergenceError
            If a curve has not converged and ``on_failure='raise'``.
        """
        metric = self._space.metric
        dim = self._space.dim
        end, start = broadcast_pair(
            check_points(point, dim, "point"), check_points(base_point, dim, "base_point")
        )
        batch_shape = tuple(start.shape[:-1])
        start = start.detach().reshape(-1, dim)
        end = end.detach().reshape(-1, dim)
        batch = start.shape[0]
        generator = torch_generator(self.random_state)
        curve = _MLPCurve(start, end, self.hidden, generator)
        optimizer = torch.optim.Adam(curve.parameters, lr=self.lr, betas=self.betas)
        show = self.progress if self.progress is not None else self.n_steps > 1000
        width = max(max(self.hidden, default=1), metric.point_cost)
        energies = np.empty((self.n_steps, batch))
        first_norms = np.zeros(batch)
        window = _window(self.n_steps)
        mean_gradients = [torch.zeros_like(parameter) for parameter in curve.parameters]
        with torch_threads_for(batch * self.n_points * width):
            for step in tqdm(range(self.n_steps), desc="neural geodesics", disable=not show):
                times = _random_times(batch, self.n_points, generator)
                with torch.enable_grad():
                    energy = _energy(metric, curve, times)
                    gradients = torch.autograd.grad(energy.sum(), curve.parameters)
                for parameter, gradient in zip(curve.parameters, gradients):
                    parameter.grad = gradient
                optimizer.step()
                energies[step] = energy.detach().numpy()
                if step < window:
                    first_norms = np.maximum(first_norms, _norms(gradients))
                if step >= self.n_steps - window:
                    for total, gradient in zip(mean_gradients, gradients):
                        total += gradient / window
            velocity = curve.initial_velocity()
            with torch.no_grad():
                times = torch.linspace(0, 1, self.n_nodes, dtype=start.dtype)
                nodes = curve(times.expand(batch, -1))
            # The returned curve's own length, measured as every length in the package.
            nodes_at = DiscreteCurve(nodes.numpy()).nodes_at
            dist, _ = measured_lengths(metric, nodes_at, self.n_nodes - 1, outside="nan")
            dist = torch.from_numpy(dist)
        finite = torch.isfinite(dist)
        if not bool(finite.all()):
            raise DomainError("The neural curve left the metric's domain during training.")
        # Curves whose gradient was zero from the first step stand still: ratio 0.
        ratio = np.divide(
            _norms(mean_gradients), first_norms, out=np.zeros(batch), where=first_norms > 0
        )
        converged = _converged(energies, ratio, self.rtol, self.gtol)
        result = GeodesicCurve(
            nodes=nodes.reshape(*batch_shape, self.n_nodes, dim),
            metric=metric,
            dist=dist.reshape(batch_shape),
            initial_velocity=velocity.reshape(*batch_shape, dim),
            converged=converged.reshape(batch_shape),
            n_iterations=np.full(batch_shape, self.n_steps),
            message=np.where(converged, "converged", self._optimiser_failure())
            .astype(object)
            .reshape(batch_shape),
        )
        self._report(converged)
        return result

    def _optimiser_failure(self):
        """Why a curve did not converge, in words (``curve.message``)."""
        return (
            f"the training's energy did not settle to rtol={self.rtol} with its gradient "
            f"below gtol={self.gtol} of its first norm within n_steps={self.n_steps}"
        )

    def remedies(self, statuses):
        """What to change for curves that did not converge, in words.

        Parameters
        ----------
        statuses : iterable of CurveStatus
            How the curves ended (all ``MAX_ITER`` for this solver).

        Returns
        -------
        remedies : str
        """
        return f"raise n_steps (now {self.n_steps}) or tune lr (now {self.lr})"

    def _report(self, converged):
        failed = int(converged.size - np.count_nonzero(converged))
        if failed == 0 or self.on_failure == "ignore":
            return
        message = (
            f"{failed} of {converged.size} neural geodesics did not converge: "
            f"{self._optimiser_failure()}. To converge: {self.remedies([])}."
        )
        report_failure(message, self.on_failure)


def _window(n_steps):
    """Steps in each of the two windows the convergence test compares."""
    return max(MIN_WINDOW, n_steps // 10)


def _norms(gradients):
    """Norm of each curve's gradient over all its weights, shape ``[batch]``."""
    return torch.sqrt(sum((g * g).flatten(1).sum(-1) for g in gradients)).numpy()


def _converged(energies, gradient_ratio, rtol, gtol):
    """Whether each curve's training settled, shape ``[batch]``.

    Parameters
    ----------
    energies : ndarray, shape=[n_steps, batch]
        The energy at each step's random times.
    gradient_ratio : ndarray, shape=[batch]
        Norm of the mean gradient over the last window of steps over the
        largest gradient norm over the first: small where the steps' gradients
        only fluctuate around zero (their mean cancels), near 1 where they
        still point downhill together.
    rtol, gtol : float
        As in :class:`NeuralGeodesicSolver`.
    """
    n_steps = energies.shape[0]
    window = _window(n_steps)
    if n_steps < 2 * window:
        return np.zeros(energies.shape[1], dtype=bool)
    last = energies[-window:].mean(0)
    before = energies[-2 * window : -window].mean(0)
    settled = np.abs(last - before) <= rtol * np.abs(last)
    return settled & (gradient_ratio <= gtol)


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
                weights = torch.rand(shape, generator=generator, dtype=start.dtype) * 2 - 1
                self.parameters.append((weights * bound).requires_grad_(True))

    def _network(self, times):
        x = times.unsqueeze(-1)
        layers = list(zip(self.parameters[::2], self.parameters[1::2]))
        for i, (weight, bias) in enumerate(layers):
            x = torch.baddbmm(bias, x, weight)
            if i < len(layers) - 1:
                x = torch.relu(x)
        return x

    def initial_velocity(self):
        """``gamma'(0)`` of each curve, shape ``[batch, dim]``, by forward-mode autodiff."""
        origin = torch.zeros(self.start.shape[0], 1, dtype=self.start.dtype)
        with torch.no_grad():
            _, velocity = torch.func.jvp(self, (origin,), (torch.ones_like(origin),))
        return velocity[:, 0]

    def __call__(self, times):
        """Points at ``times`` of shape ``[batch, n_times]``: ``[batch, n_times, dim]``."""
        ends = self._network(
            torch.tensor([[0.0, 1.0]], dtype=times.dtype).expand(times.shape[0], 2)
        )
        t = times.unsqueeze(-1)
        correction = t * ends[:, 1:2] + (1 - t) * ends[:, 0:1]
        line = t * self.end[:, None] + (1 - t) * self.start[:, None]
        return self._network(times) - correction + line
