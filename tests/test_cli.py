"""The geomstats-density command."""

import importlib.metadata

import pytest

from geomstats_density.demo import cli
from geomstats_density.demo.paper_examples import example_1, example_5


def test_demo_writes_figures_and_report(tmp_path, monkeypatch, capsys):
    # Two examples stand for all (each is tested on its own); an experiment whose
    # module cannot be imported is skipped with a note.
    missing = cli.experiment("not_installed")
    monkeypatch.setattr(cli, "DEMO_EXAMPLES", (example_1, missing, example_5))
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "## Geodesic lengths" in report
    assert "| 1 | Plane, Q = 1/2 | 0.980258 | 0.980258 |" in report
    assert "## Example 5: Gaussian mixture (horseshoe)" in report
    assert "| geodesic |" in report and "| slerp |" in report
    assert "- experiment_not_installed: No module named" in report
    for name in ("example_1_plane.png", "example_5_mixture.png"):
        assert (tmp_path / "demo" / name).read_bytes()[:4] == b"\x89PNG"
        assert f"]({name})" in report
    assert "Wrote" in capsys.readouterr().out


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
