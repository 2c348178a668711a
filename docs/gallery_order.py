"""Order of the gallery: the examples by the number in their file name."""

import pathlib
import re


class ExampleNumberSortKey:
    """Sort key of the gallery's ``plot_<N>_<name>.py``: ``N``, then the name.

    Parameters
    ----------
    src_dir : str
        The gallery's source directory (sphinx-gallery passes it; unused).
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """``(N, file name)``; ``N`` is infinite for a file name without a number."""
        name = pathlib.Path(filename).name
        match = re.match(r"plot_(\d+)_", name)
        return (int(match.group(1)) if match else float("inf"), name)

    def __repr__(self):
        return f"{type(self).__name__}()"
