"""A short seeded soak with real render jobs (built-in voice) under injected faults.

The harness of `python -m benchmarks soak --renders` (benchmarks/bench_soak.py): render jobs created as
the API creates them (credits reserved, some refused for credits or the in-flight cap, some cancelled at
once) mixed with no-op tasks and chords, while deliveries are duplicated, workers are SIGKILLed at the
three crash points, store operations fail transiently, the dispatcher restarts and lease clocks jump.
The invariant check covers the jobs too: every job ended, charged at most once, refunded exactly when
it did not complete, credits conserved per user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_soak import Soak, SoakConfig

pytestmark = pytest.mark.slow


# A killed render worker takes seconds to start again (it imports torch): more time than the default.
@pytest.mark.timeout(900)
def test_render_soak_keeps_every_invariant(tmp_path: Path) -> None:
    config = SoakConfig(deliveries=60, workers=2, seed=11, renders=True, clock_pushes=2)
    result = Soak(tmp_path / "data", config).run()
    verdict = result.verdict
    assert not verdict.violations, "\n".join(str(v) for v in verdict.violations)
    assert result.submitted.jobs, "no render job was created"
    assert verdict.checks["every job ended"] == len(result.submitted.jobs)
    assert verdict.checks["credits conserved"] >= 1
    assert sum(n for kind, n in result.faults.items() if kind.startswith("kill:")) > 0
    assert result.disk_after < result.disk_before
