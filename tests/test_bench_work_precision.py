"""bench/work_precision.py: the smoke run's structure, and ratios read off our curve."""

import importlib
import math
import os
import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "work_precision.py"


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("stochman")
    sys.path.insert(0, str(BENCH.parent))
    try:
        yield importlib.import_module("work_precision")
    finally:
        sys.path.remove(str(BENCH.parent))
        for name in ("work_precision", "suite", "geodesics"):
            sys.modules.pop(name, None)


@pytest.mark.skipif(
    os.environ.get("GEOMSTATS_BACKEND") != "pytorch",
    reason="geomstats' solvers in the benchmark differentiate through the metric (pytorch)",
)
def test_quick_run_writes_a_report_and_a_figure_with_every_family(bench, tmp_path, capsys):
    results, checks = bench.main(["--quick", "--only", "H2-near-0", "--out", str(tmp_path)])
    ((problem, points),) = results
    assert problem.key == "H2-near-0"
    assert {p.family for p in points} == set(bench.FAMILIES)
    # The half-plane's closed form (geomstats') is the reference; every curve joins
    # the same endpoints, so no returned length is shorter than the distance beyond
    # the 1025-point measure's error.
    assert all(p.value >= problem.exact * (1 - 1e-9) for p in points if p.ok)
    assert [family for _, family, _ in checks] == list(bench.FAMILIES[1:])
    report = (tmp_path / "work-precision.md").read_text()
    assert "## Headline" in report and "| H2-near-0 | neural |" in report
    assert (tmp_path / "work-precision-H2-near-0.png").read_bytes()[:4] == b"\x89PNG"
    # The saved run renders the same report again.
    replotted = tmp_path / "again"
    bench.main(["--replot", str(tmp_path / "work-precision.json"), "--out", str(replotted)])
    assert (replotted / "work-precision.md").read_text() == report
    assert "## All points" in capsys.readouterr().out


def test_our_time_is_interpolated_in_log_log_on_the_front(bench):
    # (0.05 s, 1e-3) is slower and less accurate than (0.01 s, 1e-4): not on the front.
    front = bench.pareto([(0.1, 1e-8), (0.05, 1e-3), (0.01, 1e-4)])
    assert front == [(0.01, 1e-4), (0.1, 1e-8)]
    # 1e-6 is halfway between 1e-4 and 1e-8 in log: halfway in log time, sqrt(0.01 * 0.1).
    assert bench.our_time_at(front, 1e-6) == pytest.approx(math.sqrt(1e-3), rel=1e-12)
    assert bench.our_time_at(front, 1e-2) == 0.01  # looser than ours: our fastest time
    assert math.isnan(bench.our_time_at(front, 1e-10))  # beyond our best
    # Float64 ties: a peer at or below 1e-14 takes our first point at or below 1e-14,
    # and a peer error between two of ours is interpolated, not rounded to either.
    tie_front = [(0.01, 1e-4), (0.02, 3e-15)]
    assert bench.our_time_at(tie_front, 1e-16) == 0.02
    assert 0.01 < bench.our_time_at(tie_front, 1e-13) < 0.02


def test_ratios_and_target_over_peers_slower_than_5_ms(bench):
    ours = [
        bench.Point("ours", "a", seconds=0.01, error=1e-4),
        bench.Point("ours", "b", seconds=0.1, error=1e-8),
    ]
    peer = [
        bench.Point("neural", "slow", seconds=1.0, error=1e-6),
        bench.Point("neural", "fast", seconds=0.001, error=1e-2),
        bench.Point("neural", "failed", note="invalid: shot lands far"),
    ]
    rows = bench.ratios(ours, peer)
    assert [point.setting for point, _, _ in rows] == ["slow", "fast"]
    assert rows[0][2] == pytest.approx(math.sqrt(1e-3))
    assert rows[1][2] == pytest.approx(10.0)
    # The 1 ms peer point is outside the target: only the 1 s one counts.
    assert bench.target_check(rows) == "met"
    peer.append(bench.Point("neural", "exact", seconds=2.0, error=1e-10))
    assert bench.target_check(bench.ratios(ours, peer)).startswith("missed (1 peer point")
    assert bench.target_check(bench.ratios(ours, peer[1:2])) == "n/a (peer <= 5 ms)"
    # Both exact to float64: a tie whatever the times.
    exact = [bench.Point("ours", "a", seconds=0.05, error=1e-15)]
    peer = [bench.Point("stochman", "x", seconds=0.01, error=2e-16)]
    assert bench.target_check(bench.ratios(exact, peer)) == "tie (both exact to float64)"
