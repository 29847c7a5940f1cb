"""`taskkit.member_result`: a chord's callback reads what its members returned through the public API,
on the local backend, never through the lease records' private fields."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

import taskkit
from taskkit import Kit, Reject, Settings
from tests.api.driver import InlineDriver


@pytest.fixture
def app(settings: Settings) -> Iterator[Kit]:
    kit = Kit("chord-results", settings=settings)

    @kit.task(name="piece", max_attempts=2, time_limit_s=10)
    def piece(index: int) -> dict[str, int]:
        return {"index": index, "square": index * index}

    @kit.task(name="total", max_attempts=2, time_limit_s=10)
    def total(chord_id: str, size: int) -> int:
        results = [taskkit.member_result(kit, f"{chord_id}:{i}") for i in range(size)]
        value = sum(r["square"] for r in results if r is not None)
        kit.documents.set(f"totals/{chord_id}", {"value": value, "missing": results.count(None)})
        return value

    @kit.task(name="scalar", max_attempts=2, time_limit_s=10)
    def scalar() -> int:
        return 5

    @kit.task(name="nothing", max_attempts=2, time_limit_s=10)
    def nothing() -> None:
        return None

    @kit.task(name="refuse", max_attempts=2, time_limit_s=10)
    def refuse() -> dict[str, int]:
        raise Reject("not this one", code="refused")

    yield kit
    kit.close()


def test_a_callback_reads_its_members_results(app: Kit) -> None:
    members = [app.registry["piece"].signature({"index": i}, task_id=f"c1:{i}") for i in range(4)]
    callback = app.registry["total"].signature({"chord_id": "c1", "size": 4}, task_id="c1:total")
    taskkit.chord(members, callback, chord_id="c1").apply_async(app)
    assert taskkit.member_result(app, "c1:0") is None  # not run yet
    InlineDriver(app).drain()
    assert [taskkit.member_result(app, f"c1:{i}") for i in range(4)] == [
        {"index": i, "square": i * i} for i in range(4)
    ]
    assert app.documents.get("totals/c1") == {"value": 0 + 1 + 4 + 9, "missing": 0}
    progress = taskkit.chord_progress(app, "c1")
    assert progress is not None and progress.complete and progress.size == 4


def test_no_result_for_unknown_failed_or_non_object_results(app: Kit) -> None:
    for name in ("scalar", "nothing", "refuse"):
        app.registry[name].signature({}, task_id=f"t-{name}").apply_async(app)
    InlineDriver(app).drain()
    assert app.documents.get("taskkit_leases/t-refuse") is not None
    for task_id in ("t-scalar", "t-nothing", "t-refuse", "never-sent"):
        assert taskkit.member_result(app, task_id) is None, task_id


def test_the_result_is_a_copy(app: Kit) -> None:
    app.registry["piece"].signature({"index": 3}, task_id="p3").apply_async(app)
    InlineDriver(app).drain()
    result = taskkit.member_result(app, "p3")
    assert result == {"index": 3, "square": 9}
    result["square"] = 0
    assert taskkit.member_result(app, "p3") == {"index": 3, "square": 9}


def test_a_chord_whose_status_update_was_lost_after_its_callback_ran_is_recorded_fired(app: Kit) -> None:
    """The callback ran but the chord's `fired` write was lost (a crash between the two): the next look
    at the chord publishes nothing and records it fired, so sweeps stop revisiting it."""
    members = [app.registry["piece"].signature({"index": i}, task_id=f"c9:{i}") for i in range(2)]
    callback = app.registry["total"].signature({"chord_id": "c9", "size": 2}, task_id="c9:total")
    taskkit.chord(members, callback, chord_id="c9").apply_async(app)
    InlineDriver(app).drain()
    assert app.documents.get("totals/c9") == {"value": 1, "missing": 0}
    app.documents.update("taskkit_chords/c9", {"status": "open"})  # the lost write
    published = published_count(app)
    assert taskkit.canvas.maybe_fire_chord(app, "c9") is False
    progress = taskkit.chord_progress(app, "c9")
    assert progress is not None and progress.status == "fired"
    assert published_count(app) == published  # the callback was not published again


def published_count(app: Kit) -> int:
    with sqlite3.connect(app.settings.data_dir / "broker.sqlite3") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
