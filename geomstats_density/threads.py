"""Torch's intra-op threads for small problems.

On small CPUs torch's thread wake-ups cost more than they save on tiny kernels (a
geodesic in low dimension); :func:`torch_threads_for` runs such problems on one
thread and gives the caller's setting back after, leaving the user's global
setting alone.
"""

import contextlib

import torch

# Below this many scalars per evaluation, torch's intra-op threads cost more than
# they save (thread wake-ups dominate tiny kernels on small CPUs).
SMALL_PROBLEM_SIZE = 200_000


@contextlib.contextmanager
def torch_threads_for(n_scalars):
    """Run small problems on one torch thread, restoring the caller's setting after.

    Parameters
    ----------
    n_scalars : int
        Number of scalars one evaluation of the problem touches.
    """
    previous = torch.get_num_threads()
    if n_scalars >= SMALL_PROBLEM_SIZE or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
