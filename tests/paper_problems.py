"""The paper's Examples 1-4 (METHOD.md section 5) with their exact lengths.

Lengths derived by hand:

1. ``Q = 1/2`` in the plane: ``log(2) * |z1 - z0| = log(2) sqrt(2)``.
2. ``Q = 1/2``, ``phi`` the central projection onto the unit sphere centred at
   ``e3``: lines map to great circles, and the images of (0, 1) and (1, 0) are the
   unit vectors (0, 1, -1)/sqrt(2), (1, 0, -1)/sqrt(2) from ``e3``, at angle pi/3:
   ``log(2) pi / 3``.
3. Disk cut out, endpoints (-1.3, 0), (1.3, 0): the shortest path outside the
   unit disk is tangent, arc, tangent (entering the disk only costs more since
   ``d/dr [(log 2 + 5 (1 - r)) r] < 0`` at r = 1):
   ``log(2) (2 sqrt(1.3^2 - 1) + pi - 2 arccos(1 / 1.3))``.
4. Cube surface from (0, 0, 1) to (1, 0, 0): unfolded, the top and the x = 1 faces
   make a 2 x 1 strip with the endpoints at distance 2: ``2 log(2)``.

Also the data of two gallery scripts that tests and benchmarks reuse: the two
typical codes of Example 7 (``plot_7_soap_bubble.py``) and the von Mises-Fisher
caps and endpoints of Example 11 (``plot_11_sphere_caps.py``).
"""

import math

import numpy as np
import torch

from geomstats_density import VonMisesFisherMixture
from geomstats_density.quality import Constant

LN2 = math.log(2.0)


# Q = 1/2 everywhere, as the package says a constant quality on purpose.
constant_half = Constant(0.5)


def central_projection(z):
    e3 = torch.tensor([0.0, 0.0, 1.0], dtype=z.dtype)
    offset = torch.cat([z, torch.zeros_like(z[..., :1])], dim=-1) - e3
    return e3 + offset / torch.linalg.vector_norm(offset, dim=-1, keepdim=True)


def outside_disk(z):
    # The line crosses the origin, where |z| is a cone: smoothed there (by at most
    # 1e-6, and by 5e-13 on the circle) so that derivatives stay finite and moderate.
    radius = torch.sqrt((z * z).sum(-1) + 1e-12)
    return -LN2 - 5.0 * torch.clamp(1.0 - radius, min=0.0)


def on_cube(z):
    return -LN2 - 50.0 * torch.abs(1.0 - torch.amax(torch.abs(z), dim=-1))


# Example 4: over the faces the path is 2 ln 2 long (an upper bound); the geodesic
# leaves each face on a catenary and cuts the edge (Snell's law next to a face),
# which saves (ln 2)^2 / K (1 / sqrt 2 - 1 + asinh(1) / 2) on each side, K = 50.
CUBE_FACES_LENGTH = 2.0 * LN2
EXACT_LENGTHS = {
    1: LN2 * math.sqrt(2.0),
    2: LN2 * math.pi / 3.0,
    3: LN2 * (2.0 * math.sqrt(1.3**2 - 1.0) + math.pi - 2.0 * math.acos(1.0 / 1.3)),
    4: CUBE_FACES_LENGTH
    - 2.0 * LN2**2 / 50.0 * (1.0 / math.sqrt(2.0) - 1.0 + math.asinh(1.0) / 2.0),
}


def typical_codes(dim=100, seed=0):
    """Two orthogonal codes of norm ``sqrt(dim)``, typical for ``N(0, I_dim)`` (Example 7)."""
    first, second = np.random.default_rng(seed).normal(size=(2, dim))
    first *= math.sqrt(dim) / np.linalg.norm(first)
    second -= (second @ first) / dim * first
    second *= math.sqrt(dim) / np.linalg.norm(second)
    return first, second


# Example 11: caps on the equator at 0 and 90 degrees of longitude, bridged by a
# third cap at 45 degrees of latitude; the great circle between the endpoints runs
# along the sparse equator.
CAP_DIRECTIONS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.5**0.5]])
SPHERE_START = np.array([1.0, 0.0, 0.1]) / np.linalg.norm([1.0, 0.0, 0.1])
SPHERE_END = np.array([0.0, 1.0, 0.1]) / np.linalg.norm([0.0, 1.0, 0.1])


def sphere_caps():
    """The three equal vMF caps of concentration 8 of Example 11."""
    return VonMisesFisherMixture(np.ones(3), CAP_DIRECTIONS, np.full(3, 8.0))
