"""The embedded stack runs the sweep itself, as Cloud Scheduler does in production."""

from __future__ import annotations

import pytest

from taskkit import Kit, Settings, chord
from taskkit.lease import Acquired
from tests.taskkit.apps import runs
from tests.taskkit.conftest import Stack, wait_for

pytestmark = pytest.mark.slow


def test_stack_sweeps_on_its_own_and_fires_a_stranded_chord(kit: Kit, settings: Settings) -> None:
    members = [kit.registry["member"].signature({"index": i}, task_id=f"st:{i}") for i in range(2)]
    callback = kit.registry["join"].signature({"chord_id": "st"}, task_id="st:join")
    chord(members, callback, chord_id="st").apply_async(kit)
    # The members finished but their process died before publishing the callback: only a sweep helps.
    for m in members:
        got = kit.leases.acquire(
            m.task_id, task_name="member", owner="dead", ttl_s=5, max_attempts=3, extra={"chord": "st"}
        )
        assert isinstance(got, Acquired)
        kit.leases.finish(got.lease)
    stack = Stack(settings.data_dir, sweep_interval_s=1).start()
    try:
        wait_for(lambda: runs(kit, "st:join"), timeout_s=60, what="the callback run by the scheduled sweep")
        wait_for(lambda: stack.health()["sweeps"] >= 2, timeout_s=60, what="a second scheduled sweep")
    finally:
        stack.stop()
    assert len(runs(kit, "st:join")) == 1
    assert (kit.documents.get("taskkit_chords/st") or {}).get("status") == "fired"
