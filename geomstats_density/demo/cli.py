"""The ``geomstats-density`` command.

``geomstats-density demo [--out DIR] [--no-progress]`` runs the paper's examples
on built-in data, then the experiments of :mod:`geomstats_density.demo.experiments`
(MNIST VAE, MNIST DCGANs, molecules, point clouds; each skipped, with a note, when the packages of
the ``experiments`` extra are missing), writes their figures and a Markdown
report (lengths against their exact values, the interpolation comparison
tables) to DIR.
"""

import argparse
import importlib
import pathlib
import sys
import time

from tqdm.auto import tqdm

from geomstats_density.demo.manifold_examples import example_sphere_caps
from geomstats_density.demo.paper_examples import EXAMPLES
from geomstats_density.reports import markdown_table


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


# Everything the demo runs, in the order of its report.
DEMO_EXAMPLES = (
    *EXAMPLES,
    example_sphere_caps,
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
        As returned by the ``example_*`` functions of
        :mod:`geomstats_density.demo.paper_examples`.
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
