r"""Levi-Civita connection and curvature of conformal metrics, torch in and out.

A metric ``g = e^F I`` on an open set of ``R^n`` (a conformal metric on a vector
space, or on a Poincare model with the model's own factor folded into ``F``) has
its connection and curvature in closed form from the gradient and Hessian of
``F``, which the metric's ``log_factor_jet`` gives:

.. math::

    \Gamma(a, b) &= \tfrac12 \big((\nabla F \cdot a)\, b + (\nabla F \cdot b)\, a
                    - (a \cdot b)\, \nabla F\big), \\
    (D_w \Gamma)(a, b) &= \text{the same with } \nabla F \text{ replaced by }
                    \nabla^2 F\, w, \\
    R(x, y) z &= (D_x \Gamma)(y, z) - (D_y \Gamma)(x, z)
                 + \Gamma(x, \Gamma(y, z)) - \Gamma(y, \Gamma(x, z)),

and, in dimension ``n``,
``Ric = -(n - 2)/2 (Hess F - 1/2 grad F grad F^T) - 1/2 (Delta F + (n - 2)/2 |grad F|^2) I``
and ``S = -e^{-F} (n - 1) (Delta F + (n - 2)/4 |grad F|^2)``.

A pull-back ``g = e^f J^T J`` (a map ``phi``) has the same formula for ``R``
with ``D Gamma`` by autodiff of the metric's closed-form ``Gamma``; the
covariant derivative of the curvature takes one more derivative by autodiff on
every metric. Autodiff runs in torch, so all of this works under geomstats'
numpy backend too.

Conventions are geomstats': ``Gamma^k_ij`` with the contravariant index first,
``R(x, y) z = nabla_x nabla_y z - nabla_y nabla_x z - nabla_[x, y] z``, the
Riemann tensor ``R[..., i, j, k, l] = dx^l(R(e_j, e_k) e_i)`` and the Ricci
tensor ``Ric[..., i, k] = R[..., i, j, k, j]``.
"""

import torch


def christoffel_product(gradient, vec_a, vec_b):
    r"""``Gamma(a, b)`` of the metric ``e^F I`` from ``grad F``.

    Parameters
    ----------
    gradient : torch.Tensor, shape=[..., dim]
        ``grad F`` (or ``Hess F w``, which gives ``(D_w Gamma)(a, b)``).
    vec_a, vec_b : torch.Tensor, shape=[..., dim]

    Returns
    -------
    gamma : torch.Tensor, shape=[..., dim]
    """
    return 0.5 * (
        (gradient * vec_a).sum(-1, keepdim=True) * vec_b
        + (gradient * vec_b).sum(-1, keepdim=True) * vec_a
        - (vec_a * vec_b).sum(-1, keepdim=True) * gradient
    )


def curvature_from_connection(gamma, d_gamma, vec_x, vec_y, vec_z):
    """``R(x, y) z`` from the connection and its derivative.

    Parameters
    ----------
    gamma : callable
        ``gamma(a, b)``: ``Gamma(a, b)``, shape ``[..., dim]``.
    d_gamma : callable
        ``d_gamma(w, a, b)``: ``(D_w Gamma)(a, b)``, shape ``[..., dim]``.
    vec_x, vec_y, vec_z : torch.Tensor, shape=[..., dim]

    Returns
    -------
    curvature : torch.Tensor, shape=[..., dim]
    """
    return (
        d_gamma(vec_x, vec_y, vec_z)
        - d_gamma(vec_y, vec_x, vec_z)
        + gamma(vec_x, gamma(vec_y, vec_z))
        - gamma(vec_y, gamma(vec_x, vec_z))
    )


def conformal_curvature(gradient, hessian, vec_x, vec_y, vec_z):
    """``R(x, y) z`` of the metric ``e^F I`` from ``grad F`` and ``Hess F``.

    Parameters
    ----------
    gradient : torch.Tensor, shape=[..., dim]
    hessian : torch.Tensor, shape=[..., dim, dim]
    vec_x, vec_y, vec_z : torch.Tensor, shape=[..., dim]

    Returns
    -------
    curvature : torch.Tensor, shape=[..., dim]
    """

    def gamma(vec_a, vec_b):
        return christoffel_product(gradient, vec_a, vec_b)

    def d_gamma(vec_w, vec_a, vec_b):
        hessian_w = (hessian @ vec_w.unsqueeze(-1)).squeeze(-1)
        return christoffel_product(hessian_w, vec_a, vec_b)

    return curvature_from_connection(gamma, d_gamma, vec_x, vec_y, vec_z)


def dense_riemann(curvature_map, batch_shape, dim, dtype):
    """The Riemann tensor ``R[..., i, j, k, l] = dx^l(R(e_j, e_k) e_i)``.

    Parameters
    ----------
    curvature_map : callable
        ``curvature_map(x, y, z)``: ``R(x, y) z`` for vectors broadcast against
        points of shape ``batch_shape + (1, 1, 1, dim)``.
    batch_shape : tuple of int
    dim : int
    dtype : torch.dtype

    Returns
    -------
    riemann : torch.Tensor, shape=[..., dim, dim, dim, dim]
    """
    eye = torch.eye(dim, dtype=dtype)
    shape = (*batch_shape, dim, dim, dim, dim)
    vec_z = eye[:, None, None, :].expand(shape)  # e_i
    vec_x = eye[None, :, None, :].expand(shape)  # e_j
    vec_y = eye[None, None, :, :].expand(shape)  # e_k
    return curvature_map(vec_x, vec_y, vec_z)


def conformal_ricci(gradient, hessian):
    """Ricci tensor of the metric ``e^F I``, shape ``[..., dim, dim]``.

    Parameters
    ----------
    gradient : torch.Tensor, shape=[..., dim]
    hessian : torch.Tensor, shape=[..., dim, dim]
    """
    dim = gradient.shape[-1]
    outer = gradient.unsqueeze(-1) * gradient.unsqueeze(-2)
    sq_norm = (gradient * gradient).sum(-1)
    trace = _laplacian(hessian) + 0.5 * (dim - 2) * sq_norm
    eye = torch.eye(dim, dtype=gradient.dtype)
    return -0.5 * (dim - 2) * (hessian - 0.5 * outer) - 0.5 * trace[..., None, None] * eye


def conformal_scalar_curvature(log_factor, gradient, hessian):
    """Scalar curvature of the metric ``e^F I``, shape ``[...]``.

    Parameters
    ----------
    log_factor : torch.Tensor, shape=[...]
        ``F``.
    gradient : torch.Tensor, shape=[..., dim]
    hessian : torch.Tensor, shape=[..., dim, dim]
    """
    dim = gradient.shape[-1]
    trace = _laplacian(hessian) + 0.25 * (dim - 2) * (gradient * gradient).sum(-1)
    return -(dim - 1) * torch.exp(-log_factor) * trace


def _laplacian(hessian):
    """``Delta F``, the trace of the Hessian, shape ``[...]``."""
    return torch.diagonal(hessian, dim1=-2, dim2=-1).sum(-1)


def directional_derivative(function, points, direction):
    """``D_w function(points)``: a Jacobian-vector product by two reverse passes.

    ``function`` must map each point (the last axis) to its own output, and
    ``points`` must be a tensor in the autograd graph; the result keeps the
    graph, so that it can be differentiated again.

    Parameters
    ----------
    function : callable
        Torch tensor ``[..., dim]`` to tensor ``[..., m]``.
    points : torch.Tensor, shape=[..., dim]
    direction : torch.Tensor, shape=[..., dim]

    Returns
    -------
    derivative : torch.Tensor, shape=[..., m]
    """
    values = function(points)
    if not values.requires_grad:
        return torch.zeros_like(values)
    dummy = torch.zeros_like(values, requires_grad=True)
    (pullback,) = torch.autograd.grad(
        values, points, grad_outputs=dummy, create_graph=True, allow_unused=True
    )
    if pullback is None or not pullback.requires_grad:
        return torch.zeros_like(values)
    (derivative,) = torch.autograd.grad(
        pullback, dummy, grad_outputs=direction, create_graph=True, allow_unused=True
    )
    return torch.zeros_like(values) if derivative is None else derivative


def autodiff_curvature(christoffel_map, points, vec_x, vec_y, vec_z):
    """``R(x, y) z`` with ``D Gamma`` by autodiff, keeping the graph of ``points``.

    Parameters
    ----------
    christoffel_map : callable
        ``christoffel_map(points, a, b)``: ``Gamma(a, b)`` at the points,
        differentiable in them.
    points : torch.Tensor, shape=[..., dim]
        In the autograd graph, broadcast to the vectors' shape.
    vec_x, vec_y, vec_z : torch.Tensor, shape=[..., dim]

    Returns
    -------
    curvature : torch.Tensor, shape=[..., dim]
    """

    def gamma(vec_a, vec_b):
        return christoffel_map(points, vec_a, vec_b)

    def d_gamma(vec_w, vec_a, vec_b):
        return directional_derivative(lambda at: christoffel_map(at, vec_a, vec_b), points, vec_w)

    return curvature_from_connection(gamma, d_gamma, vec_x, vec_y, vec_z)


def curvature_covariant_derivative(christoffel_map, points, vec_h, vec_x, vec_y, vec_z):
    r"""``(nabla_h R)(x, y) z`` by autodiff of ``R``.

    With ``x, y, z`` extended as constant fields of the coordinates,
    ``nabla_h x = Gamma(h, x)``, so
    ``(nabla_h R)(x, y) z = D_h(R(x, y) z) + Gamma(h, R(x, y) z)
    - R(Gamma(h, x), y) z - R(x, Gamma(h, y)) z - R(x, y) Gamma(h, z)``.

    Parameters
    ----------
    christoffel_map : callable
        As in :func:`autodiff_curvature`.
    points : torch.Tensor, shape=[..., dim]
    vec_h, vec_x, vec_y, vec_z : torch.Tensor, shape=[..., dim]

    Returns
    -------
    derivative : torch.Tensor, shape=[..., dim]
    """
    shape = torch.broadcast_shapes(points.shape, vec_h.shape, vec_x.shape, vec_y.shape, vec_z.shape)
    # One copy of each point per output: the Jacobian-vector products need it.
    leaf = points.detach().expand(shape).clone().requires_grad_(True)
    vec_h, vec_x, vec_y, vec_z = (vec.expand(shape) for vec in (vec_h, vec_x, vec_y, vec_z))
    with torch.enable_grad():

        def riemann(at, vec_a, vec_b, vec_c):
            return autodiff_curvature(christoffel_map, at, vec_a, vec_b, vec_c)

        derivative = directional_derivative(
            lambda at: riemann(at, vec_x, vec_y, vec_z), leaf, vec_h
        )

        def gamma_h(vec):
            # A vector at the point, not a field: the derivatives in the
            # corrections below must not see its dependence on the point.
            return christoffel_map(leaf, vec_h, vec).detach()

        result = (
            derivative
            + gamma_h(riemann(leaf, vec_x, vec_y, vec_z).detach())
            - riemann(leaf, gamma_h(vec_x), vec_y, vec_z)
            - riemann(leaf, vec_x, gamma_h(vec_y), vec_z)
            - riemann(leaf, vec_x, vec_y, gamma_h(vec_z))
        )
    return result.detach()
