"""bench/latent.py: the smoke run, and clear errors for networks it cannot build."""

import importlib
import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "latent.py"


@pytest.fixture(scope="module")
def bench():
    """bench/latent.py as the module ``latent``, importable by the rows' spawned processes."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        yield importlib.import_module("latent")
    finally:
        sys.path.remove(str(BENCH.parent))
        sys.modules.pop("latent", None)


def test_quick_run_measures_every_curve_and_ours_is_the_shortest(bench, capsys):
    rows = bench.main(["--quick", "--lengths-in", "latent"])
    assert [row["solver"] for row in rows] == ["newton", "neural 50", "neural 200"]
    # Every curve joins the same endpoints: none is shorter than the geodesic, up to
    # the 1025-point measure's discretisation (far below 1e-5 on this smooth problem).
    ours = rows[0]
    assert ours["converged"]
    assert ours["length"] <= min(row["length"] for row in rows[1:]) * (1 + 1e-5)
    assert ours["length"] == pytest.approx(ours["dist"], rel=1e-3)
    report = capsys.readouterr().out
    assert "| smooth-2 | latent |" in report and "## Measurements" in report


def test_missing_dcgan_module_and_unknown_networks_raise(bench):
    with pytest.raises(ImportError, match="The DCGAN rows need no_such_dcgan_module"):
        bench.main(["--networks", "vae-2,dcgan-2", "--dcgan-module", "no_such_dcgan_module"])
    with pytest.raises(ValueError, match="Unknown network 'gan-3'"):
        bench.network("gan-3")
    with pytest.raises(ValueError, match="latent dimension 2 or 100"):
        bench.network("dcgan-16")


def test_a_row_past_its_time_limit_is_reported_as_stopped(bench):
    """A fresh process cannot even import torch in 0.1 s: the row says it was stopped."""
    task = ("smooth-16", "samples", "newton", "newton", dict(tol=1e-4), bench.DCGAN_MODULE)
    row = bench.run_isolated(task, timeout=0.1)
    assert row == dict(
        network="smooth-16",
        D=16,
        lengths_in="samples",
        solver="newton",
        seconds=0.1,
        note="stopped after 0.1 s",
    )
    checks = bench.target_checks(
        [row, dict(row, solver="neural 500", length=1.0, note=None)], "neural 500"
    )
    assert checks[0]["target"] == "missed: stopped after 0.1 s"
