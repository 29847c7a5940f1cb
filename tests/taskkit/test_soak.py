"""A short seeded soak of the embedded stack under injected faults, with the benchmark's invariant check.

The same harness as `python -m benchmarks soak` (benchmarks/bench_soak.py) at a few hundred deliveries:
duplicates, worker kills at the three crash points, transient store failures, a dispatcher restart and
lease clocks pushed past expiry. Taskkit only: no-op tasks and chords (the render jobs are in
tests/api/test_soak_render.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_soak import Soak, SoakConfig

pytestmark = pytest.mark.slow


def test_short_soak_keeps_every_invariant(tmp_path: Path) -> None:
    config = SoakConfig(deliveries=200, workers=2, seed=7, clock_pushes=3)
    result = Soak(tmp_path / "data", config).run()
    verdict = result.verdict
    assert not verdict.violations, "\n".join(str(v) for v in verdict.violations)
    # The faults really happened and the checks really ran.
    assert result.stats.deliveries >= config.deliveries
    assert result.stats.duplicate_deliveries > 0
    assert result.dispatcher_restarts == 1
    assert sum(n for kind, n in result.faults.items() if kind.startswith("kill:")) > 0
    assert result.faults["transient:doc"] > 0
    assert verdict.checks["every task ended"] >= 50
    assert verdict.checks["chord callback ended"] > 0
    assert result.disk_after < result.disk_before  # housekeeping past the retention frees space
