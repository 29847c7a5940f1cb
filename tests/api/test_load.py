"""The API under concurrent users on the embedded stack: no 5xx, and no user sees another's data.

A short run of `python -m benchmarks load` (benchmarks/bench_load.py): 20 users sign in, upload and
create jobs (most refused for credits or the in-flight cap) while others follow their event streams
and poll; each answer is checked for jobs the user did not create, and fetching a neighbour's job must
be a 404. Latencies are the benchmark's business; this test asserts correctness only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.bench_load import LoadStack, run_load

pytestmark = pytest.mark.slow


def test_concurrent_users_get_no_5xx_and_only_their_own_data(tmp_path: Path) -> None:
    with LoadStack(tmp_path / "data") as stack:
        result = asyncio.run(run_load(stack.url, users=20, seconds=6, seed=3))
    assert result.server_errors == 0, result.errors
    assert not result.leaks, result.leaks
    creates = result.statuses["POST /v1/jobs"]
    assert creates[202] >= 1 and creates[402] + creates[429] >= 1  # accepted and refused both happened
    assert result.statuses["GET /v1/jobs/{id} (another's)"][404] >= 1  # the cross-user fetch was tried
    assert sum(result.statuses["GET /v1/jobs"].values()) >= 20
