"""Every gallery script runs, draws one figure, and gets the paper's numbers.

The scripts (``examples/``, shipped as ``geomstats_density/demo/gallery/``) are the
sphinx-gallery's sources: user code run top to bottom, whose pyplot figure the
gallery captures and which the demo runs. The tests run them the same way and read
their variables (the geodesic, the tables).
"""

import ast
import math
import pathlib
import re
import runpy
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from geomstats_density.demo.cli import GALLERY_DIR  # noqa: E402

# Where the package keeps them, as the demo reads them.
EXAMPLES_DIR = GALLERY_DIR
LN2 = math.log(2.0)


def run_script(name, tmp_path, monkeypatch):
    """Run the gallery script ``name`` from ``tmp_path``; return its variables.

    The script must leave exactly one pyplot figure open (the one the gallery
    shows); it is written to ``tmp_path`` as a PNG to check that it renders.
    """
    monkeypatch.setattr(sys, "argv", [name])
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    monkeypatch.chdir(tmp_path)
    plt.close("all")
    try:
        namespace = runpy.run_path(str(EXAMPLES_DIR / name), run_name="__main__")
        assert len(plt.get_fignums()) == 1, f"{name} draws {len(plt.get_fignums())} figures"
        path = tmp_path / "figure.png"
        plt.gcf().savefig(path)
    finally:
        plt.close("all")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return namespace


def test_every_script_has_a_gallery_title_and_a_test():
    """Each script opens with a reST title and says what it shows; a test runs it.

    The experiment scripts call the demo's experiments, whose own tests cover
    them; the others import nothing from the demo and no private name.
    """
    tests = "".join(path.read_text() for path in pathlib.Path(__file__).parent.glob("test_*.py"))
    scripts = sorted(EXAMPLES_DIR.glob("plot_*.py"))
    assert scripts, "no example scripts found"
    for script in scripts:
        source = script.read_text()
        lines = ast.get_docstring(ast.parse(source)).splitlines()
        assert lines[0].startswith("Example "), script.name
        assert lines[1] == "=" * len(lines[0]), f"{script.name}: title underline"
        assert len(lines) > 3, f"{script.name} does not say what it shows"
        assert "\n# %%\n" in source, f"{script.name} has no text cells"
        assert not re.search(r"import _|\._[a-z]", source), f"{script.name} uses a private name"
        modules = re.findall(r"^from (geomstats_density\S+) import", source, flags=re.MULTILINE)
        demo = [m for m in modules if m.startswith("geomstats_density.demo")]
        tested = [f'"{script.name}"'] + demo
        assert any(name in tests for name in tested), f"{script.name} is not tested"
        if f'"{script.name}"' in tests:
            assert not demo, f"{script.name} imports the demo"


def geodesic_length(namespace):
    return float(namespace["geodesic"].dist)


def converged(namespace):
    return bool(np.all(namespace["geodesic"].converged))


def test_example_1_plane(tmp_path, monkeypatch):
    result = run_script("plot_1_plane.py", tmp_path, monkeypatch)
    assert converged(result)
    assert geodesic_length(result) == pytest.approx(LN2 * math.sqrt(2), rel=1e-9)


def test_example_2_sphere(tmp_path, monkeypatch):
    result = run_script("plot_2_sphere.py", tmp_path, monkeypatch)
    assert converged(result)
    # The central projection maps the geodesic onto a great-circle arc of angle pi/3.
    assert geodesic_length(result) == pytest.approx(LN2 * math.pi / 3, rel=1e-7)


def test_example_3_disk(tmp_path, monkeypatch):
    result = run_script("plot_3_disk.py", tmp_path, monkeypatch)
    exact = LN2 * (2 * math.sqrt(1.3**2 - 1) + math.pi - 2 * math.acos(1 / 1.3))
    # d_M = max(0, 1 - |z|), written with a norm and a clamp, has a kink on the
    # circle the geodesic follows: with every default it still converges.
    assert converged(result)
    assert geodesic_length(result) == pytest.approx(exact, rel=1e-6)


def test_example_4_cube(tmp_path, monkeypatch):
    result = run_script("plot_4_cube.py", tmp_path, monkeypatch)
    # The path over the faces, 2 ln 2, is an upper bound: the geodesic cuts the
    # edge. Next to the face z = 1 the length element (ln 2 + K (1 - z)) |dz|
    # does not depend on x, so (ln 2 + K (1 - z)) cos(angle) is conserved (Snell);
    # it is ln 2 on the face: the geodesic leaves it tangentially on the catenary
    # 1 - z = ln 2 / K (cosh(K (x - x_0) / ln 2) - 1) and meets the diagonal x = z
    # at 45 degrees, where ln 2 + K (1 - z) = sqrt(2) ln 2. Integrating
    # (ln 2 + K (1 - z)) ds along it, against ln 2 along the faces, saves
    # (ln 2)^2 / K (1 / sqrt(2) - 1 + asinh(1) / 2) on each side of the edge.
    rate = 50.0
    exact = 2 * LN2 - 2 * LN2**2 / rate * (1 / math.sqrt(2) - 1 + math.asinh(1.0) / 2)
    # The rounding spans a few of the uniform pieces: every default still
    # converges, to the default tol=1e-8, on nodes graded there.
    assert converged(result)
    assert geodesic_length(result) == pytest.approx(exact, rel=1e-8)


def test_example_5_mixture(tmp_path, monkeypatch):
    result = run_script("plot_5_mixture.py", tmp_path, monkeypatch)
    assert converged(result)
    rows = {row["curve"]: row for row in result["table"]}
    geodesic, linear, arc = rows["geodesic"], rows["linear"], rows["circle arc"]
    # The geodesic is no longer than the hand-made arc along the horseshoe,
    # and far shorter than the segment through the empty inside.
    assert geodesic["length"] <= arc["length"] * (1 + 1e-3)
    assert geodesic["length"] < 0.2 * linear["length"]
    assert rows["slerp"]["length"] > 2 * geodesic["length"]
    # The segment crosses empty space (Q down to eps/2 = 0.05 up to the Monte-Carlo
    # error), the geodesic stays where the realism index is high.
    assert linear["min_Q"] < 0.05 + result["quality"].monte_carlo_error
    assert geodesic["min_Q"] > 0.7
    assert geodesic["min_log_density"] > linear["min_log_density"] + 3


def test_example_6_feature(tmp_path, monkeypatch):
    result = run_script("plot_6_feature.py", tmp_path, monkeypatch)
    assert converged(result)
    geodesic, linear = result["table"]
    assert geodesic["mean_P_feature"] > 5 * linear["mean_P_feature"]
    assert geodesic["length"] < linear["length"]


def test_example_7_soap_bubble(tmp_path, monkeypatch):
    result = run_script("plot_7_soap_bubble.py", tmp_path, monkeypatch)
    assert converged(result)
    rows = {row["curve"]: row for row in result["table"]}
    assert rows["linear"]["min_norm"] == pytest.approx(math.sqrt(50), rel=1e-3)
    # The chi-square median of 100 degrees of freedom is 99.33: the shell of radius 9.97.
    assert 9.9 < rows["geodesic"]["min_norm"] <= rows["geodesic"]["max_norm"] < 10.1
    assert rows["geodesic"]["length"] <= rows["slerp"]["length"]
    assert rows["geodesic"]["min_Q"] > 0.9 > 0.06 > rows["linear"]["min_Q"]


def test_exp_instability_script_flags_the_ring(tmp_path, monkeypatch):
    from geomstats_density.solvers.status import ExpStatus

    result = run_script("plot_13_exp_instability.py", tmp_path, monkeypatch)
    assert result["result"].status == ExpStatus.UNSTABLE


def test_example_11_sphere_caps(tmp_path, monkeypatch):
    result = run_script("plot_11_sphere_caps.py", tmp_path, monkeypatch)
    assert converged(result)
    geodesic, great_circle = result["table"]
    assert (geodesic["curve"], great_circle["curve"]) == ("geodesic", "great circle")
    # The great circle is a competitor: the geodesic is shorter in the metric and
    # keeps to the caps, where the great circle crosses the sparse equator.
    assert geodesic["length"] < 0.8 * great_circle["length"]
    # The table measures a 257-node resampling (midpoint rule, no extrapolation).
    assert geodesic["length"] == pytest.approx(geodesic_length(result), rel=1e-4)
    assert geodesic["min_log_density"] > great_circle["min_log_density"] + 0.3
    assert geodesic["curve_quality"] > great_circle["curve_quality"]
    # It stays on the sphere.
    points = np.asarray(result["geodesic"](np.linspace(0.0, 1.0, 101)), dtype=float)
    assert np.allclose(np.linalg.norm(points, axis=-1), 1.0, atol=1e-6)
