"""Checkpoints of distance computations: finished tasks on disk, for a run to resume.

:func:`~geomstats_density.distances.pairwise_distances` and
:func:`~geomstats_density.distances.paired_distances` with ``checkpoint=`` a
directory write each finished task there as it arrives (:class:`Checkpoint`);
a call with the same arguments after an interruption loads those tasks instead
of solving them again. The directory's header holds the problem's
:func:`problem_fingerprint`: a call with other points or options is refused
rather than mixed with its tasks.
"""

import hashlib
import io
import json
import os
import re

import numpy as np

from geomstats_density.backend import tracks_gradients


def check_without_gradients(checkpoint, *points):
    """No checkpoint of distances between points that require grad: it stores values."""
    if checkpoint is not None and tracks_gradients(*points):
        raise ValueError(
            f"checkpoint={os.fspath(checkpoint)!r} with points that require grad: a "
            "checkpoint stores values, not the autograd graph the distances carry. "
            "Detach the points (or compute the matrix under torch.no_grad()) to checkpoint it."
        )


def problem_fingerprint(metric, coordinates, pairs, batch_size):
    """What identifies a distance problem, as JSON values.

    The points by their shape and a hash of their bytes, the pairs' layout, the
    batches, and the metric's and solver's classes and options (scalars by value,
    objects by class: a log-factor, a function or a network, is not compared).
    """
    solver = metric.log_solver
    fingerprint = {
        "format": 1,
        "pairs": [type(pairs).__name__, *pairs.shape],
        "coordinates_shape": list(coordinates.shape),
        "coordinates_sha256": hashlib.sha256(coordinates.tobytes()).hexdigest(),
        "batch_size": batch_size,
        "metric": _qualified_name(metric),
        "metric_options": _options(metric),
        "solver": _qualified_name(solver),
        # Progress bars and warnings do not change the distances.
        "solver_options": _options(solver, ignore=("progress", "on_failure")),
    }
    return json.loads(json.dumps(fingerprint))


def _qualified_name(instance):
    return f"{type(instance).__module__}.{type(instance).__qualname__}"


def _options(instance, ignore=()):
    """Public attributes of ``instance``: scalars and strings by value, objects by class."""
    return {
        name: value
        if value is None or isinstance(value, (bool, int, float, str))
        else _qualified_name(value)
        for name, value in sorted(vars(instance).items())
        if not name.startswith("_") and name not in ignore
    }


class Checkpoint:
    """A directory of one problem's finished tasks: a header and a file per task.

    Every file is written to a temporary name and renamed (``os.replace``), so a
    process killed while writing leaves either the whole file or none of it.

    Parameters
    ----------
    path : str or path-like
    fingerprint : dict
        :func:`problem_fingerprint` of the problem, checked against the header.
    """

    HEADER = "checkpoint.json"
    TASK_FILE = re.compile(r"task-(\d+)-(\d+)\.npz")

    def __init__(self, path, fingerprint):
        self.path = os.fspath(path)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"checkpoint {self.path!r} is a file, not a checkpoint directory.")
        os.makedirs(self.path, exist_ok=True)
        header = os.path.join(self.path, self.HEADER)
        if not os.path.exists(header):
            if any(not name.startswith(".") for name in os.listdir(self.path)):
                raise ValueError(
                    f"checkpoint {self.path!r} is a non-empty directory without "
                    f"{self.HEADER}: not a checkpoint; pass a new or empty directory."
                )
            self._write(self.HEADER, json.dumps(fingerprint, indent=1).encode())
            return
        with open(header) as file:
            stored = json.load(file)
        differing = sorted(
            key
            for key in stored.keys() | fingerprint.keys()
            if stored.get(key) != fingerprint.get(key)
        )
        if differing:
            raise ValueError(
                f"checkpoint {self.path!r} belongs to another problem (different "
                f"{', '.join(differing)}): pass the points and arguments it was made "
                "with, or a new directory to start this one."
            )

    def tasks(self, n_pairs):
        """``(begin, stop, (dist, status, message))`` of each finished task on disk."""
        for name in sorted(os.listdir(self.path)):
            match = self.TASK_FILE.fullmatch(name)
            if match is None:
                if name.endswith(".tmp"):  # a write that a kill interrupted
                    os.remove(os.path.join(self.path, name))
                continue
            begin, stop = int(match[1]), int(match[2])
            try:
                with np.load(os.path.join(self.path, name), allow_pickle=False) as task:
                    dist, status, message = task["dist"], task["status"], task["message"]
            except (OSError, ValueError, KeyError) as error:
                raise ValueError(
                    f"checkpoint {self.path!r}: {name} is unreadable ({error}); delete "
                    "that file to solve its pairs again."
                ) from error
            if not begin < stop <= n_pairs or dist.shape != (stop - begin,):
                raise ValueError(
                    f"checkpoint {self.path!r}: {name} does not fit the {n_pairs} pairs "
                    "of this problem; delete that file to solve its pairs again."
                )
            yield begin, stop, (dist, status, str(message[0]) if message.size else None)

    def save(self, begin, stop, result):
        """Write the task of pairs ``begin`` to ``stop``, ``(dist, status, message)``."""
        dist, status, message = result
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            dist=np.asarray(dist, dtype=float),
            status=np.asarray(status, dtype=int),
            message=np.array([] if message is None else [message], dtype=str),
        )
        self._write(f"task-{begin:012d}-{stop:012d}.npz", buffer.getvalue())

    def _write(self, name, content):
        temporary = os.path.join(self.path, f".{name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, os.path.join(self.path, name))
