"""Operator commands for dead letters: list, show, replay (same task id), --rerun-failed, exit statuses."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskkit import Kit, Settings
from taskkit.backends.local.broker import LocalBroker
from taskkit.dead_letters import (
    add_parser,
    get_dead_letter,
    list_dead_letters,
    replay,
    run_command,
)
from taskkit.executor import Executor
from taskkit.message import TaskMessage
from taskkit.outcome import Answer
from tests.emulators import Emulator, firestore_host, pubsub_host
from tests.taskkit.apps import count_hook, runs
from tests.taskkit.conftest import REPO, fast_env, push_body

__all__ = ["firestore_host", "pubsub_host"]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m taskkit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["dead-letters", *argv])


def command(kit: Kit, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run_command(parse(*argv), kit)
    out, err = capsys.readouterr()
    return status, out, err


def pending(settings: Settings, topic: str = "tasks") -> list[TaskMessage]:
    """Task messages published to `topic` and not yet delivered (no dispatcher runs in these tests)."""
    return [TaskMessage.decode(data) for data, _ in LocalBroker(settings.data_dir / "broker.sqlite3").pending(topic)]


def deliver(kit: Kit, message: TaskMessage) -> Answer:
    return Executor(kit).handle_push(push_body(message, message_id=uuid.uuid4().hex)).answer


@pytest.fixture
def kept(kit: Kit) -> Iterator[dict[str, str]]:
    """Three dead letters: an unknown task (wrapped body), a permanent failure (bare message), junk."""
    executor = Executor(kit)
    assert executor.handle_push(push_body(TaskMessage("no.such.task", "u1", {"a": 1}), message_id="m-u1")).answer
    assert executor.handle_push(push_body(TaskMessage("bad_input", "b1", {"score": "x.xml"}))).answer is Answer.FAILED
    assert executor.handle_push(b"hello").answer is Answer.FAILED
    ids = {d.record["task_id"] or "junk": d.id for d in list_dead_letters(kit)}
    yield ids


def test_list_newest_first_with_limit_and_task_filter(
    kit: Kit, kept: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    items = list_dead_letters(kit)
    assert [d.id for d in items] == [kept["junk"], kept["b1"], kept["u1"]]
    assert [d.id for d in list_dead_letters(kit, 1)] == [kept["junk"]]
    assert [d.id for d in list_dead_letters(kit, task="bad_input")] == [kept["b1"]]

    status, out, _ = command(kit, capsys, "list", "--task", "no.such.task")
    assert status == 0 and kept["u1"] in out and "unknown task 'no.such.task'" in out and kept["b1"] not in out
    status, out, _ = command(kit, capsys, "list", "--limit", "2", "--json")
    assert status == 0 and [r["id"] for r in json.loads(out)] == [kept["junk"], kept["b1"]]


def test_show_decodes_wrapped_and_bare_messages_and_reports_junk(
    kit: Kit, kept: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = command(kit, capsys, "show", kept["u1"])
    shown = json.loads(out)
    assert status == 0 and shown["reason"] == "unknown task 'no.such.task'"
    assert shown["message"] == TaskMessage("no.such.task", "u1", {"a": 1}).to_dict()
    assert shown["record"]["source"] == "push" and shown["record"]["message_id"] == "m-u1"

    status, out, _ = command(kit, capsys, "show", kept["b1"])
    shown = json.loads(out)
    assert shown["message"]["id"] == "b1" and shown["lease_status"] == "failed"
    assert "cannot read score 'x.xml'" in shown["reason"]

    status, out, _ = command(kit, capsys, "show", kept["junk"])
    shown = json.loads(out)
    assert status == 0 and shown["message"] is None and shown["raw"] == "hello" and shown["message_error"]


def test_unknown_id_exits_2_with_a_clear_message(kit: Kit, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["show", "push-nope"], ["replay", "push-nope"], ["show", "not/a/valid/id"]):
        status, out, err = command(kit, capsys, *argv)
        assert status == 2 and out == "" and "no dead letter" in err, (argv, err)
    status, _, err = command(kit, capsys, "replay")
    assert status == 2 and "needs a dead letter ID or --all" in err


def test_replay_republishes_under_the_same_task_id_and_marks_the_record(
    kit: Kit, settings: Settings, kept: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = command(kit, capsys, "replay", kept["u1"])
    assert status == 0 and "as task u1" in out
    [message] = pending(settings)
    assert message == TaskMessage("no.such.task", "u1", {"a": 1})
    record = get_dead_letter(kit, kept["u1"]).record
    assert record["replayCount"] == 1 and record["replayedAt"] >= record["createdAt"]
    assert replay(kit, kept["u1"]) == "u1"
    assert get_dead_letter(kit, kept["u1"]).record["replayCount"] == 2

    status, _, err = command(kit, capsys, "replay", kept["junk"])
    assert status == 1 and "holds no task message" in err
    assert "replayCount" not in get_dead_letter(kit, kept["junk"]).record


def test_replay_goes_to_the_given_topic(kit: Kit, settings: Settings, kept: dict[str, str]) -> None:
    replay(kit, kept["u1"], topic="elsewhere")
    assert [m.id for m in pending(settings, "elsewhere")] == ["u1"] and pending(settings) == []


def test_a_done_task_replayed_is_acked_as_duplicate_without_running(kit: Kit, settings: Settings) -> None:
    message = TaskMessage("record", "r1", {"value": "v"})
    executor = Executor(kit)
    assert executor.handle_push(push_body(message)).answer is Answer.DONE
    # Pub/Sub dead-lettered an earlier copy: the dead-letter endpoint keeps it and acks it (task done).
    assert executor.handle_dead_letter(push_body(message, message_id="dl-1")).answer is Answer.DUPLICATE
    [dead] = list_dead_letters(kit, task="record")
    assert replay(kit, dead.id) == "r1"
    [again] = pending(settings)
    assert again == message
    assert deliver(kit, again) is Answer.DUPLICATE
    assert len(runs(kit, "r1")) == 1


def test_failed_task_reruns_only_with_rerun_failed(
    kit: Kit, settings: Settings, kept: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(runs(kit, "b1")) == 1 and count_hook(kit, "b1") == 1

    status, out, _ = command(kit, capsys, "replay", kept["b1"])
    assert status == 0 and "--rerun-failed" in out
    [first] = pending(settings)
    assert first.id == "b1" and deliver(kit, first) is Answer.DUPLICATE
    assert len(runs(kit, "b1")) == 1

    status, out, _ = command(kit, capsys, "replay", kept["b1"], "--rerun-failed")
    assert status == 0
    lease = kit.leases.get("b1")
    assert lease is not None and lease["status"] == "retry" and lease["attempts"] == 0
    assert "cannot read score" in lease["previousError"]["message"]
    second = pending(settings)[-1]
    assert second.id == "b1" and deliver(kit, second) is Answer.FAILED  # it ran again (and failed again)
    assert len(runs(kit, "b1")) == 2 and count_hook(kit, "b1") == 2
    assert get_dead_letter(kit, kept["b1"]).record["replayCount"] == 2


def test_replay_all_skips_junk_and_already_replayed(
    kit: Kit, settings: Settings, kept: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    replay(kit, kept["u1"])
    status, _, err = command(kit, capsys, "replay", "--all")
    assert status == 1 and kept["junk"] in err
    assert [m.id for m in pending(settings)] == ["u1", "b1"]
    status, _, _ = command(kit, capsys, "replay", "--all", "--again", "--task", "no.such.task")
    assert status == 0 and [m.id for m in pending(settings)] == ["u1", "b1", "u1"]


def test_the_command_line_loads_the_app_and_exits_2_for_an_unknown_id(tmp_path: Path) -> None:
    code = (
        "import argparse, sys; from taskkit.dead_letters import add_parser; "
        "p = argparse.ArgumentParser(); add_parser(p.add_subparsers(dest='command', required=True)); "
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.fn(a))"
    )
    env = fast_env(tmp_path / "data")
    base = [sys.executable, "-c", code, "dead-letters"]
    done = subprocess.run(
        [*base, "show", "push-missing", "--app", "tests.taskkit.apps:kit"], env=env, cwd=REPO, capture_output=True
    )
    assert done.returncode == 2 and b"no dead letter 'push-missing'" in done.stderr, done.stderr
    listed = subprocess.run([*base, "list"], env=env, cwd=REPO, capture_output=True, text=True)
    assert listed.returncode == 0 and "no dead letters" in listed.stdout, listed.stderr


@pytest.mark.emulator
def test_replay_on_the_gcp_family(
    firestore_host: Emulator, pubsub_host: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud import pubsub_v1

    from tests.taskkit.apps import make_kit

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_host.host_port)
    project, topic = f"dl-{uuid.uuid4().hex[:8]}", f"dl-{uuid.uuid4().hex[:8]}"
    kit = make_kit(Settings(backend="gcp", project=project, default_topic=topic, push_auth=False))
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    subscription = f"projects/{project}/subscriptions/{topic}"
    try:
        publisher.create_topic(name=f"projects/{project}/topics/{topic}")
        subscriber.create_subscription(name=subscription, topic=f"projects/{project}/topics/{topic}")
        task_id = uuid.uuid4().hex
        executor = Executor(kit)
        body = push_body(TaskMessage("bad_input", task_id, {"score": "s"}), message_id=uuid.uuid4().hex)
        assert executor.handle_push(body).answer is Answer.FAILED
        [dead] = list_dead_letters(kit, task="bad_input")
        assert replay(kit, dead.id, rerun_failed=True) == task_id
        lease: Any = kit.leases.get(task_id)
        assert lease["status"] == "retry" and lease["attempts"] == 0
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=20)
        [received] = response.received_messages
        assert TaskMessage.decode(bytes(received.message.data)).id == task_id
        assert dict(received.message.attributes)["id"] == task_id
        assert get_dead_letter(kit, dead.id).record["replayCount"] == 1
    finally:
        kit.close()
        subscriber.close()
