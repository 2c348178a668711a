"""Richardson estimates over node counts: lengths, start velocities and nodes.

The discrete geodesics at one node count (a :class:`Level`) are combined with
those at half as many pieces, ``(4 X_{h/2} - X_h) / 3``, into an
:class:`Estimate` of each curve's length, nodes and start velocity, with the
estimated error that decides when the refinement of
:mod:`~geomstats_density.solvers.doubling` stops. The quadratures of the energy
are symmetric, so the errors are even in the node spacing ``h`` and each
extrapolation cancels the ``h^2`` term.

The start velocity is read by the discrete Legendre transform: the momentum
``p_0 = -dE/dz_0`` of the discrete energy is a second-order approximation of
``2 g(z_0) v_0`` (:meth:`Chords.velocities`).
"""

import numpy as np
import torch

from geomstats_density.curves import polygon_lengths
from geomstats_density.curves import resample_nodes as _resample
from geomstats_density.energy import per_curve_where_outside, piece_energy_gradients


class Level:
    """Discrete geodesics at one node count: lengths, nodes, first chords.

    The start velocity is read from the first chord (:meth:`Chords.velocities`),
    once, for the levels the final estimates combine.

    Parameters
    ----------
    metric : ConformalMetric
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        The nodes' times in the energy, shared or one row per curve; uniform by
        default.
    """

    def __init__(self, metric, nodes, times=None):
        self.nodes = nodes
        self.dist = polygon_lengths(metric, nodes)
        self.restarted = np.zeros(len(nodes), dtype=bool)
        # One over the first time step: a scalar, or one per curve.
        self.first_weight = nodes.shape[1] - 1 if times is None else 1.0 / times[..., 1]

    def take(self, index):
        """The level of the curves ``index`` only."""
        level = Level.__new__(Level)
        level.nodes, level.dist = self.nodes[index], self.dist[index]
        level.restarted = self.restarted[index]
        level.first_weight = (
            self.first_weight if np.ndim(self.first_weight) == 0 else self.first_weight[index]
        )
        return level

    def restart(self, index):
        """Mark the curves ``index`` as starting over at the next level: it has no coarser one."""
        self.restarted[index] = True

    def richardson(self, coarse, coarse_estimate):
        """Estimate from this level and the previous one (``None`` at the first).

        The error of the first extrapolation is bounded by that of the finer raw
        length, ``|L_h - L_2h| / 3``. Later ones are read from the change ``d_k``
        from the previous extrapolation: where the changes keep their sign and
        shrink by a factor ``r`` per level, the error left is the geometric tail
        ``d_k / (r - 1)``, with ``r`` clipped to [2, 16] (16 is the contraction
        of the ``h^4`` term that Richardson leaves); elsewhere, and at the second
        change, ``d_k``. Both assume the curves resolved
        (:func:`~geomstats_density.solvers.length_checks.check_lengths`). Curves
        that started over at this level (:meth:`restart`) are estimated as at
        the first.
        """
        if coarse is None:
            return Estimate(
                self.nodes,
                self.dist,
                Chords.of(self, self, (1.0, 0.0)),
                error=None,
            )
        fresh = coarse.restarted
        dist = np.where(fresh, self.dist, (4 * self.dist - coarse.dist) / 3)
        first_error = np.abs(self.dist - coarse.dist) / 3
        change = None
        if coarse_estimate.error is None:
            error = first_error
        else:
            change = dist - coarse_estimate.dist
            error = np.abs(change)
            if coarse_estimate.change is not None:
                error = error / (_contraction(coarse_estimate.change, change) - 1)
            # Curves that started over one level before: their first extrapolation.
            restarted_before = np.isinf(coarse_estimate.error)
            error = np.where(restarted_before, first_error, error)
            change = np.where(restarted_before, np.nan, change)
        return Estimate(
            nodes=np.where(
                fresh[:, None, None],
                self.nodes[:, ::2],
                (4 * self.nodes[:, ::2] - coarse.nodes) / 3,
            ),
            dist=dist,
            chords=Chords.of(self, coarse, np.where(fresh[:, None], (1.0, 0.0), (4 / 3, -1 / 3))),
            error=np.where(fresh, np.inf, error),
            change=change,
        )


def _contraction(previous, change):
    """Observed factor by which the changes shrink, in [2, 16].

    It is 2 if their sign flips or the previous change is unknown (NaN: the curve
    started over).
    """
    ratio = np.abs(previous) / np.maximum(np.abs(change), np.finfo(float).tiny)
    return np.where(previous * change > 0, np.clip(ratio, 2.0, 16.0), 2.0)


class Chords:
    """First chords of the levels whose start velocities an estimate combines.

    Attributes
    ----------
    chords : ndarray, shape=[batch, 2, 2, n_coords]
        The first two nodes of the finer and of the coarser level.
    first_weights : ndarray, shape=[batch, 2]
        One over the first piece's time step in each level's energy (its number
        of pieces at uniform times).
    weights : ndarray, shape=[batch, 2]
        Richardson's weights (4/3, -1/3), or (1, 0) at the first level.
    """

    def __init__(self, chords, first_weights, weights):
        self.chords, self.first_weights, self.weights = chords, first_weights, weights

    @classmethod
    def of(cls, fine, coarse, weights):
        """The first chords of two levels (``Level``) of the same curves."""
        batch = fine.nodes.shape[0]
        return cls(
            np.stack([fine.nodes[:, :2], coarse.nodes[:, :2]], axis=1),
            np.stack(
                [np.broadcast_to(level.first_weight, (batch,)) for level in (fine, coarse)], -1
            ),
            np.broadcast_to(np.asarray(weights), (batch, 2)),
        )

    def take(self, index):
        """The first chords of the curves ``index`` only."""
        return Chords(self.chords[index], self.first_weights[index], self.weights[index])

    @classmethod
    def concatenate(cls, parts):
        """One batch from the first chords of several."""
        return cls(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in ("chords", "first_weights", "weights")
            )
        )

    def velocities(self, metric):
        """Combined start velocities, shape ``[batch, n_coords]``: one autodiff pass.

        Discrete Legendre transform: ``v_0 = g(z_0)^{-1} p_0 / 2`` with
        ``p_0 = -dE/dz_0``, the momentum of each level's discrete energy. Where
        the metric is degenerate at ``z_0`` (a map ``phi`` whose Jacobian is not
        of full rank, such as a ReLU generator with dead units) the momentum does
        not determine the velocity, and the level's first chord gives it:
        ``v_0 = (z_1 - z_0) / (t_1 - t_0)``, the returned curve's own tangent.
        """
        batch, n_levels, _, n_coords = self.chords.shape
        chords = self.chords.reshape(-1, 2, n_coords)
        first_weights = self.first_weights.reshape(-1)
        # Curves that stopped at the first level weigh their second chord by 0.
        needed = np.flatnonzero(self.weights.reshape(-1) != 0)
        gradient = piece_energy_gradients(
            metric,
            torch.from_numpy(chords[needed, 0]),
            torch.from_numpy(chords[needed, 1]),
            torch.from_numpy(first_weights[needed].astype(float)),
        )[0].numpy()

        def sharp(rows):
            rows = rows[:, 0, 0]
            with torch.no_grad():
                return metric.sharp_tensor(
                    torch.from_numpy(chords[needed[rows], 0]), torch.from_numpy(gradient[rows])
                ).numpy()

        def from_chord(rows, error):
            row = needed[rows[:, 0, 0]]
            return -2.0 * first_weights[row, None] * (chords[row, 1] - chords[row, 0])

        momentum = np.zeros((batch * n_levels, n_coords))
        momentum[needed] = per_curve_where_outside(
            sharp, np.arange(needed.size)[:, None, None], from_chord
        )
        momentum = momentum.reshape(batch, n_levels, n_coords)
        return -0.5 * np.einsum("bl,blc->bc", self.weights, momentum)


class Estimate:
    """Best estimates for a batch of geodesics.

    ``change`` is the signed change of the length from the previous estimate
    (None before the second extrapolation), which the next one's error needs.
    """

    def __init__(self, nodes, dist, chords, error, change=None):
        self.nodes, self.dist, self.chords, self.error = nodes, dist, chords, error
        self.change = change

    @classmethod
    def failed(cls, nodes):
        """The estimate of curves that could not be solved: NaN lengths, their nodes."""
        batch, n_nodes, _ = nodes.shape
        chords = Chords(
            np.stack([nodes[:, :2], nodes[:, :2]], axis=1),
            np.full((batch, 2), n_nodes - 1),
            np.broadcast_to([1.0, 0.0], (batch, 2)),
        )
        return cls(nodes, np.full(batch, np.nan), chords, error=np.full(batch, np.nan))

    def take(self, index):
        """The estimates of the curves ``index`` only."""
        return Estimate(
            self.nodes[index],
            self.dist[index],
            self.chords.take(index),
            None if self.error is None else self.error[index],
            None if self.change is None else self.change[index],
        )

    @classmethod
    def concatenate(cls, parts):
        """One batch from estimates that may end at different node counts.

        Curves with fewer nodes than the most refined one are resampled on their
        cubic spline to its node count. Errors are None if no part has one, and
        infinite for the curves of parts without one (stopped at the first level).
        """
        errors = None
        if any(part.error is not None for part in parts):
            errors = np.concatenate(
                [
                    np.full(part.dist.shape, np.inf) if part.error is None else part.error
                    for part in parts
                ]
            )
        n_nodes = max(part.nodes.shape[1] for part in parts)
        return cls(
            np.concatenate(
                [
                    part.nodes if part.nodes.shape[1] == n_nodes else _resample(part.nodes, n_nodes)
                    for part in parts
                ]
            ),
            np.concatenate([part.dist for part in parts]),
            Chords.concatenate([part.chords for part in parts]),
            errors,
        )
