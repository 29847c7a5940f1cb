"""Short seeded soaks under injected faults, with the benchmark's invariant check, on both families.

The same harness as `python -m benchmarks soak` (benchmarks/bench_soak.py) at a few hundred deliveries:
duplicates, worker kills at the three crash points, transient store failures, a dispatcher restart and
lease clocks pushed past expiry. Taskkit only: no-op tasks and chords (the render jobs are in
tests/api/test_soak_render.py). The gcp family runs on Google's Firestore and Pub/Sub emulators and
fake-gcs-server (benchmarks/soak_gcp.py), its messages relayed from pull subscriptions to the workers'
push endpoints. Each soak also plants violations in its final state and checks that the checker names them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_soak import EFFECTS, Soak, SoakConfig, SoakResult, Submitted, Verdict, check_invariants
from taskkit import Kit
from taskkit.backends.base import DocumentStore
from taskkit.lease import lease_path
from tests.emulators import Emulator, firestore_host, gcs_host, pubsub_host

__all__ = ["firestore_host", "gcs_host", "pubsub_host"]
pytestmark = pytest.mark.slow


def planted_verdict(documents: DocumentStore, queue_path: Path | None, submitted: Submitted) -> tuple[Verdict, str]:
    """Check the final state again with two violations planted in one done task, then take them out.

    The task's side effect is counted twice and its lease is put back to running; returns the verdict
    and the task's id.
    """
    task_id = next(t for t in submitted.noops if (documents.get(lease_path(t)) or {}).get("status") == "done")
    effect, lease = documents.get(f"{EFFECTS}/{task_id}"), documents.get(lease_path(task_id))
    assert effect is not None and lease is not None
    documents.update(f"{EFFECTS}/{task_id}", {"count": 2})
    documents.update(lease_path(task_id), {"status": "running"})
    try:
        return check_invariants(documents, queue_path, submitted), task_id
    finally:
        documents.set(f"{EFFECTS}/{task_id}", effect)
        documents.set(lease_path(task_id), lease)


def assert_planted_violations_named(verdict: Verdict, task_id: str) -> None:
    named = {str(v) for v in verdict.violations if v.subject == task_id}
    assert any("side effect applied at most once: applied 2 times" in v for v in named), named
    assert any("no lease left held: lease running" in v for v in named), named
    assert any("every task ended: lease status running" in v for v in named), named
    assert len(verdict.violations) == len(named), "only the planted violations"


def assert_soak_kept_invariants_under_faults(result: SoakResult, config: SoakConfig) -> None:
    verdict = result.verdict
    assert not verdict.violations, "\n".join(str(v) for v in verdict.violations)
    # The faults really happened and the checks really ran.
    assert result.stats.deliveries >= config.deliveries
    assert result.stats.duplicate_deliveries > 0
    assert result.dispatcher_restarts == 1
    assert sum(n for kind, n in result.faults.items() if kind.startswith("kill:")) > 0
    assert result.faults["transient:doc"] > 0
    assert verdict.checks["every task ended"] >= config.deliveries // 4
    assert verdict.checks["chord callback ended"] > 0


class PlantingSoak(Soak):
    """The local soak, checked once more with planted violations before its housekeeping deletes the leases."""

    planted: tuple[Verdict, str] | None = None

    def clean_up(self, client: Kit, result: SoakResult) -> None:
        self.planted = planted_verdict(client.documents, self.data_dir / "broker.sqlite3", self.submitted)
        super().clean_up(client, result)


def test_short_soak_keeps_every_invariant(tmp_path: Path) -> None:
    config = SoakConfig(deliveries=200, workers=2, seed=7, clock_pushes=3)
    soak = PlantingSoak(tmp_path / "data", config)
    result = soak.run()
    assert_soak_kept_invariants_under_faults(result, config)
    assert result.disk_after < result.disk_before  # housekeeping past the retention frees space
    assert soak.planted is not None
    assert_planted_violations_named(*soak.planted)


@pytest.mark.emulator
@pytest.mark.timeout(600)
def test_gcp_soak_on_the_emulators_keeps_every_invariant(
    tmp_path: Path,
    firestore_host: Emulator,
    pubsub_host: Emulator,
    gcs_host: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks.soak_gcp import EmulatorHosts, GcpSoak

    hosts = EmulatorHosts(firestore_host.host_port, pubsub_host.host_port, gcs_host.url)
    config = SoakConfig(deliveries=120, workers=2, seed=5, clock_pushes=5, family="gcp")
    soak = GcpSoak(tmp_path / "data", config, hosts)
    result = soak.run()
    assert_soak_kept_invariants_under_faults(result, config)
    assert result.clock_takeovers > 0
    assert result.stats.outcomes["200"] > 0  # the workers answered the relayed push envelopes

    for name, value in hosts.environment().items():
        monkeypatch.setenv(name, value)
    client = Kit("soak-check", settings=soak.settings())
    try:
        assert_planted_violations_named(*planted_verdict(client.documents, None, soak.submitted))
    finally:
        client.close()
