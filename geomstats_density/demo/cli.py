"""The ``geomstats-density`` command.

``geomstats-density demo [--out DIR] [--no-progress]`` runs the gallery scripts of
the paper's examples and of the sphere example (``examples/plot_*.py``, the
sources of the documentation's gallery, shipped as ``demo/gallery/``), then the experiments of
:mod:`geomstats_density.demo.experiments` (MNIST VAE, MNIST DCGANs, molecules,
point clouds; each skipped, with a note, when the packages of the ``experiments``
extra are missing), writes their figures and a Markdown report (lengths against
their exact values, the interpolation comparison tables) to DIR.

The demo reads a gallery script's numbers from the variables it leaves behind:

- ``geodesic``: the solved :class:`~geomstats_density.GeodesicCurve` (required);
  its ``dist`` is the length reported;
- ``exact``: the exact length, where the script knows it; or ``bound``, an upper
  bound on it, reported in its place;
- ``table``: the rows comparing the geodesic with other curves, if any;
- ``quality``: the quality, whose ``monte_carlo_error`` is reported if it has one.

The number and the title are those of the script's file name
(``plot_<number>_<name>.py``) and of its reST title (``Example <number>: <title>``);
its one pyplot figure is written to DIR as ``example_<number>_<name>.png``.
"""

import argparse
import ast
import contextlib
import importlib
import io
import pathlib
import re
import runpy
import sys
import time

from tqdm.auto import tqdm

from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.reports import markdown_table

# The gallery scripts: ``examples/`` at the top of the repository, linked here
# (a symbolic link) so that the package ships them as data; the documentation's
# gallery is built from them too.
GALLERY_DIR = pathlib.Path(__file__).resolve().parent / "gallery"


def experiment(name, **options):
    """The demo entry running ``geomstats_density.demo.experiments.<name>.run(**options)``.

    The module is imported when the entry runs: the molecule experiment needs
    RDKit, which the core package does not.
    """

    def run_experiment(out_dir, progress):
        module = importlib.import_module(f"geomstats_density.demo.experiments.{name}")
        return module.run(out_dir=out_dir, progress=progress, **options)

    suffix = "".join(f"_{key}{value}" for key, value in options.items())
    run_experiment.__name__ = f"experiment_{name}{suffix}"
    return run_experiment


@contextlib.contextmanager
def _as_script(path):
    """Run code as ``python <path>`` would, quietly, drawing off screen.

    ``sys.argv`` is the script's name alone, so that a script's own flags take
    their defaults; what it prints is dropped (the report has its numbers).
    pyplot is switched to the Agg backend, on which ``plt.show()`` opens no
    window and returns at once. Figures left open are closed on exit.
    """
    import matplotlib.pyplot as plt

    plt.switch_backend("agg")
    plt.close("all")
    argv = sys.argv
    sys.argv = [str(path)]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield plt
    finally:
        sys.argv = argv
        plt.close("all")


def gallery_script(name):
    """The demo entry running the gallery script ``name`` and reading its numbers.

    Parameters
    ----------
    name : str
        File name in ``GALLERY_DIR``, ``plot_<number>_<name>.py``.

    Returns
    -------
    run_script : callable
        ``run_script(out_dir, progress)`` runs the script, writes its figure to
        ``out_dir`` and returns its result as
        :func:`~geomstats_density.demo.results.example_result` does (``seconds``:
        the whole script's run time). Scripts show no progress bars.
    """
    path = GALLERY_DIR / name
    number, stem = re.fullmatch(r"plot_(\d+)_(\w+)\.py", name).groups()

    def run_script(out_dir, progress):
        source = path.read_text()
        title = ast.get_docstring(ast.parse(source)).splitlines()[0]
        title = title.removeprefix(f"Example {number}: ")
        with _as_script(path) as plt:
            clock = time.perf_counter()
            variables = runpy.run_path(str(path), run_name="__main__")
            seconds = time.perf_counter() - clock
            if len(plt.get_fignums()) != 1:
                raise RuntimeError(f"{name} leaves {len(plt.get_fignums())} figures, not one.")
            figure = figure_path(out_dir, f"example_{number}_{stem}")
            if figure is not None:
                plt.gcf().savefig(figure, dpi=120)
        extra = {"table": variables["table"]} if "table" in variables else {}
        return example_result(
            int(number),
            title,
            variables["geodesic"],
            seconds,
            exact=variables.get("exact", variables.get("bound")),
            figure=figure,
            monte_carlo_error=getattr(variables.get("quality"), "monte_carlo_error", None),
            **extra,
        )

    run_script.__name__ = path.stem
    return run_script


# Everything the demo runs, in the order of its report.
DEMO_EXAMPLES = (
    *(
        gallery_script(name)
        for name in (
            "plot_1_plane.py",
            "plot_2_sphere.py",
            "plot_3_disk.py",
            "plot_4_cube.py",
            "plot_5_mixture.py",
            "plot_6_feature.py",
            "plot_7_soap_bubble.py",
            "plot_11_sphere_caps.py",
        )
    ),
    experiment("mnist"),
    experiment("dcgan", latent_dim=2),
    experiment("dcgan", latent_dim=100),
    experiment("molecules"),
    experiment("point_clouds"),
)

LENGTH_COLUMNS = ["example", "title", "length", "exact", "relative_error", "converged", "seconds"]


def demo_report(results, skipped=()):
    """The demo's Markdown report from the examples' results.

    Parameters
    ----------
    results : list of dict
        As :func:`~geomstats_density.demo.results.example_result` returns them.
    skipped : sequence of str
        One line per example that could not run.

    Returns
    -------
    report : str
    """
    sections = [
        "# geomstats-density demo",
        "## Geodesic lengths",
        (
            "Examples 1-4 have exact lengths (4's in closed form, 0.2% below the path "
            "over the cube's faces); 3 and 4 have kinks in their qualities and are "
            "solved with every default."
        ),
        markdown_table(results, columns=LENGTH_COLUMNS, digits=6),
    ]
    if skipped:
        sections.append("Skipped:\n\n" + "\n".join(f"- {line}" for line in skipped))
    for result in results:
        if "table" in result:
            sections.append(f"## Example {result['example']}: {result['title']}")
            if result.get("monte_carlo_error") is not None:
                sections.append(
                    "Realism index estimated by Monte Carlo: DKW bound (95%) on its "
                    f"error {result['monte_carlo_error']:.3f}."
                )
            sections.append(markdown_table(result["table"]))
    figures = [result[key] for result in results for key in ("figure", "strip") if result.get(key)]
    sections.append("## Figures")
    sections.extend(f"![{pathlib.Path(path).stem}]({pathlib.Path(path).name})" for path in figures)
    return "\n\n".join(sections) + "\n"


def run_demo(out_dir, progress=True):
    """Run every example, writing figures and ``report.md`` to ``out_dir``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
    progress : bool
        Show progress bars.

    Returns
    -------
    report_path : pathlib.Path
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, skipped = [], []
    with tqdm(DEMO_EXAMPLES, desc="examples", unit="example", disable=not progress) as bar:
        for example in bar:
            bar.set_postfix_str(example.__name__)
            try:
                results.append(example(out_dir=out_dir, progress=progress))
            except ImportError as error:  # an experiment whose extra is missing
                skipped.append(f"{example.__name__}: {error}")
                print(f"Skipped {example.__name__}: {error}", file=sys.stderr)
    report_path = out_dir / "report.md"
    report_path.write_text(demo_report(results, skipped))
    return report_path


def main(argv=None):
    """Entry point of the ``geomstats-density`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; ``sys.argv[1:]`` by default.

    Returns
    -------
    status : int
    """
    parser = argparse.ArgumentParser(
        prog="geomstats-density",
        description="Geodesics of density- and quality-conformal metrics.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="run the paper's examples; write figures and a Markdown report"
    )
    demo.add_argument(
        "--out",
        default="geomstats-density-demo",
        type=pathlib.Path,
        help="output directory (default: %(default)s)",
    )
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    report_path = run_demo(args.out, progress=not args.no_progress)
    print(f"Wrote {report_path} in {time.perf_counter() - clock:.0f} s.", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
