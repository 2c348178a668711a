"""The geomstats-density command."""

import importlib.metadata
import math
import sys

import pytest

from geomstats_density.demo import cli

TOY_SCRIPT = '''"""
Example 42: a toy
=================

The plane with ``Q = 1/2``: the segment, of length ``ln 2 * sqrt 2``.
"""

import matplotlib.pyplot as plt
import numpy as np
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.quality import Constant

space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric, log_quality=Constant(0.5), solver_options=dict(progress=False)
)
geodesic = space.metric.geodesic(initial_point=np.array([0.0, 1.0]), end_point=np.array([1.0, 0.0]))
bound = 1.0
print("printed by the script")
for _ in range(N_FIGURES):
    plt.figure()
plt.show()
'''


def test_demo_writes_figures_and_report(tmp_path, monkeypatch, capsys):
    # Two gallery scripts stand for all (each is tested on its own); an experiment
    # whose module cannot be imported is skipped with a note.
    missing = cli.experiment("not_installed")
    entries = [cli.gallery_script(name) for name in ("plot_1_plane.py", "plot_5_mixture.py")]
    entries.insert(1, missing)
    monkeypatch.setattr(cli, "DEMO_EXAMPLES", entries)
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "## Geodesic lengths" in report
    # Example 1's length and exact length are ln 2 * sqrt 2, its title the script's.
    exact = f"{math.log(2.0) * math.sqrt(2.0):.6g}"
    assert f"| 1 | the plane with a constant quality | {exact} | {exact} |" in report
    assert "## Example 5: a Gaussian mixture with empty space between its ends" in report
    # The realism index of Example 5 reads its law from 1024 samples: the DKW
    # bound sqrt(log(2 / 0.05) / (2 n)).
    dkw = math.sqrt(math.log(2 / 0.05) / (2 * 1024))
    assert f"DKW bound (95%) on its error {dkw:.3f}." in report
    assert "| geodesic |" in report and "| slerp |" in report and "| circle arc |" in report
    assert "- experiment_not_installed: No module named" in report
    for name in ("example_1_plane.png", "example_5_mixture.png"):
        assert (tmp_path / "demo" / name).read_bytes()[:4] == b"\x89PNG"
        assert f"]({name})" in report
    # The scripts' own printing is not the demo's.
    assert capsys.readouterr().out.startswith("Wrote")


def test_gallery_script_reads_the_scripts_variables(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "GALLERY_DIR", tmp_path)
    (tmp_path / "plot_42_toy.py").write_text(TOY_SCRIPT.replace("N_FIGURES", "1"))
    argv = list(sys.argv)
    result = cli.gallery_script("plot_42_toy.py")(out_dir=tmp_path / "out", progress=False)
    assert sys.argv == argv
    assert (result["example"], result["title"]) == (42, "a toy")
    assert result["length"] == pytest.approx(math.log(2.0) * math.sqrt(2.0), rel=1e-9)
    # An upper bound stands in for the exact length.
    assert result["exact"] == 1.0
    assert result["relative_error"] == pytest.approx(1.0 - math.log(2.0) * math.sqrt(2.0))
    assert result["converged"] and "table" not in result
    assert (tmp_path / "out" / "example_42_toy.png").read_bytes()[:4] == b"\x89PNG"
    assert capsys.readouterr().out == ""


def test_gallery_script_must_draw_one_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "GALLERY_DIR", tmp_path)
    (tmp_path / "plot_42_toy.py").write_text(TOY_SCRIPT.replace("N_FIGURES", "2"))
    with pytest.raises(RuntimeError, match="plot_42_toy.py leaves 2 figures, not one"):
        cli.gallery_script("plot_42_toy.py")(out_dir=None, progress=False)


def test_demo_runs_scripts_of_the_gallery():
    # Examples 1-7 and 11: the scripts exist where the installed package keeps them.
    names = {entry.__name__ for entry in cli.DEMO_EXAMPLES if entry.__name__.startswith("plot_")}
    assert len(names) == 8
    assert names <= {path.stem for path in cli.GALLERY_DIR.glob("plot_*.py")}


def test_demo_needs_a_command(capsys):
    with pytest.raises(SystemExit) as error:
        cli.main([])
    assert error.value.code == 2
    assert "demo" in capsys.readouterr().err


def test_console_script_is_declared():
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert any(
        script.name == "geomstats-density" and script.value == "geomstats_density.demo.cli:main"
        for script in scripts
    )
