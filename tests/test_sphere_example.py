"""The sphere example runs, draws its figure, and its geodesic keeps to the caps."""

import pathlib
import runpy
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "plot_11_sphere_caps.py"


def test_sphere_caps_example(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [EXAMPLE.name, "--out", str(tmp_path), "--no-progress"])
    result = runpy.run_path(str(EXAMPLE), run_name="__main__")["result"]
    assert EXAMPLE.read_text().startswith('"""Example ')
    assert pathlib.Path(result["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["converged"]
    geodesic, great_circle = result["table"]
    assert (geodesic["curve"], great_circle["curve"]) == ("geodesic", "great circle")
    assert geodesic["length"] < 0.8 * great_circle["length"]
    # The table measures a 257-node resampling (midpoint rule, no extrapolation).
    assert geodesic["length"] == pytest.approx(result["length"], rel=1e-4)
    assert geodesic["min_log_density"] > great_circle["min_log_density"] + 0.3
    assert geodesic["curve_quality"] > great_circle["curve_quality"]
