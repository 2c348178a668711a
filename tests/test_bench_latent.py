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


def test_several_settings_of_ours_are_read_as_a_work_precision_sweep(bench):
    """Our row checked is the fastest no longer than the shortest baseline curve;
    ``matched`` counts the baseline curves one of our settings beats on both
    length and time (worked out by hand for these four rows)."""
    group = dict(network="dcgan-2", D=2, lengths_in="latent")
    rows = [
        dict(group, solver="newton max_iter=60", length=1.0, seconds=5.0),
        dict(group, solver="newton max_iter=10", length=1.2, seconds=1.0),
        dict(group, solver="neural 500", length=1.1, seconds=2.0),
        dict(group, solver="neural 2000", length=1.05, seconds=8.0),
    ]
    (check,) = bench.target_checks(rows, "neural 500")
    assert check["ours_solver"] == "newton max_iter=60"
    assert check["target"] == "missed: slower"
    assert check["matched"] == "1 of 2"
    rows[1]["length"] = 1.09  # now as short as the 500-step curve, and faster
    (check,) = bench.target_checks(rows, "neural 500")
    assert check["matched"] == "2 of 2"
    assert check["ours_solver"] == "newton max_iter=60"  # still the only one <= 1.05
