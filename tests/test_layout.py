"""The layout of docs/layout.md: the library never imports the demo; its modules import
one another one way (no cycles); solvers see metrics through their protocol, and the rest
of the library sees only the solvers' public API."""

import ast
import pathlib
import subprocess
import sys

import torch
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.riemannian_metric import RiemannianMetric

import geomstats_density
from geomstats_density import ConformalMetric, DensityConformalMetric
from geomstats_density.measures import KernelMeanEmbeddingMetric
from geomstats_density.quality import Constant
from geomstats_density.solvers import SolverMetric

IMPORT_EVERY_LIBRARY_MODULE = """
import importlib, pathlib, sys
import geomstats_density

root = pathlib.Path(geomstats_density.__file__).parent
names = [
    ".".join(("geomstats_density",) + path.relative_to(root).with_suffix("").parts)
    for path in sorted(root.rglob("*.py"))
    if "demo" not in path.relative_to(root).parts
]
for name in names:
    importlib.import_module(name.removesuffix(".__init__"))
loaded = sorted(name for name in sys.modules if name.startswith("geomstats_density.demo"))
print(len(names), loaded)
"""


def test_library_modules_import_nothing_from_the_demo():
    output = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_LIBRARY_MODULE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(maxsplit=1)
    n_modules, loaded = int(output[0]), output[1].strip()
    assert n_modules > 30
    assert loaded == "[]"


LIBRARY = pathlib.Path(geomstats_density.__file__).parent
# The modules that hand metrics to the solvers or read what the solvers need of them.
SOLVER_SIDE = [
    *sorted((LIBRARY / "solvers").glob("*.py")),
    *(
        LIBRARY / name
        for name in (
            "energy.py",
            "curves.py",
            "distances.py",
            "distance_batches.py",
            "distance_tasks.py",
            "checkpoints.py",
            "transport.py",
        )
    ),
    LIBRARY / "reports.py",
]


def _module_name(path):
    parts = ("geomstats_density", *path.relative_to(LIBRARY).with_suffix("").parts)
    return ".".join(parts).removesuffix(".__init__")


def _imported_at_import_time(path, modules):
    """The library modules a module imports at its top level (not inside functions)."""
    imported = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("geomstats_density"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                imported.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if a.name.startswith("geomstats_density")}
    return imported


def test_library_modules_import_one_another_one_way():
    paths = [p for p in sorted(LIBRARY.rglob("*.py")) if "demo" not in p.relative_to(LIBRARY).parts]
    modules = {_module_name(path): path for path in paths}
    imports = {name: _imported_at_import_time(path, modules) for name, path in modules.items()}
    assert sum(len(targets) for targets in imports.values()) > 100
    # Depth-first search: a module met again while still on the path closes a cycle.
    finished, on_path = set(), []

    def visit(name):
        on_path.append(name)
        for target in sorted(imports.get(name, ())):
            assert target not in on_path, "import cycle: " + " -> ".join(
                on_path[on_path.index(target) :] + [target]
            )
            if target not in finished:
                visit(target)
        on_path.pop()
        finished.add(name)

    for name in sorted(modules):
        if name not in finished:
            visit(name)


def _metric_members_read(path):
    """Attributes read on ``metric`` or ``self.metric`` in a module."""
    read = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "metric") or (
            isinstance(owner, ast.Attribute) and owner.attr == "metric"
        ):
            read.add(node.attr)
    return read


def test_solvers_read_metrics_through_the_protocol_and_geomstats_interface():
    protocol = {name for name in dir(SolverMetric) if not name.startswith("_")}
    protocol |= set(SolverMetric.__annotations__)
    geomstats_interface = {name for name in dir(RiemannianMetric) if not name.startswith("_")}
    geomstats_interface |= {"log_solver", "exp_solver"}  # set by geomstats' __init__
    # curve_report reads the quality where the metric has one (hasattr).
    optional = {"log_quality_tensor"}
    for path in SOLVER_SIDE:
        outside = _metric_members_read(path) - protocol - geomstats_interface - optional
        assert not outside, f"{path.name} reads {sorted(outside)} of the metric"


def test_conformal_metrics_implement_the_protocol_and_geomstats_metrics_do_not():
    plane = Euclidean(2, equip=False)
    plane.equip_with_metric(ConformalMetric, log_factor=lambda z: z[..., 0])
    pullback = ConformalMetric(Euclidean(2), log_factor=lambda z: z[..., 0], phi=torch.sin)
    ball = ConformalMetric(PoincareBall(2), log_factor=lambda z: z[..., 0])
    sphere = DensityConformalMetric(Hypersphere(2), log_quality=Constant(0.5))
    clouds = KernelMeanEmbeddingMetric(Euclidean(4), Constant(0.5), n_points=2, bandwidth=1.0)
    for metric in (plane.metric, pullback, ball, sphere, clouds):
        assert isinstance(metric, SolverMetric)
    assert not isinstance(Euclidean(2).metric, SolverMetric)


def test_outside_the_solvers_only_their_public_api_is_used():
    for path in sorted(LIBRARY.rglob("*.py")):
        if path.parent == LIBRARY / "solvers":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "geomstats_density.solvers"
            ):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                owner = ast.unparse(node.value)
                assert not owner.endswith("solver"), f"{path.name} reads {owner}.{node.attr}"
