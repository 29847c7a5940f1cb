"""End to end through real Pub/Sub push: Google's Pub/Sub emulator POSTs to a uvicorn worker.

A topic with a push subscription (dead-letter topic, max_delivery_attempts=5) points at the worker
endpoint served on localhost; the documents live in Google's Firestore emulator. Tasks are enqueued
through the kit's gcp broker. The emulator sends no OIDC token, so push auth is off explicitly here.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

import taskkit
from taskkit import Kit, Reject, Settings
from taskkit.lease import lease_path
from taskkit.message import TaskMessage
from taskkit.worker import DEAD_LETTER_PATH, PUSH_PATH, create_worker_app
from tests.emulators import Emulator, firestore_host, free_port, pubsub_host
from tests.taskkit.backends.concurrency import wait_for

__all__ = ["firestore_host", "pubsub_host"]
pytestmark = [pytest.mark.emulator, pytest.mark.slow]
MAX_DELIVERY_ATTEMPTS = 5


def build_kit(settings: Settings) -> Kit:
    kit = Kit("gcp-e2e", settings=settings)

    def record(name: str) -> None:
        ctx = taskkit.current()
        kit.documents.set(f"e2e_runs/{ctx.task_id}-{uuid.uuid4().hex[:6]}", {"task": name, "task_id": ctx.task_id})

    @kit.task(name="ok", max_attempts=2, time_limit_s=10)
    def ok(value: str) -> str:
        record("ok")
        return value

    @kit.task(name="bad", max_attempts=2, time_limit_s=10)
    def bad(score: str) -> None:
        record("bad")
        raise Reject(f"cannot read {score}", code="bad_score")

    # Fails transiently, then waits out a long retry backoff: every later delivery is nacked.
    @kit.task(name="unavailable", max_attempts=2, time_limit_s=10, min_backoff_s=300, max_backoff_s=300)
    def unavailable() -> None:
        record("unavailable")
        raise ConnectionError("dependency unavailable")

    @kit.task(name="member", max_attempts=2, time_limit_s=10)
    def member(index: int) -> int:
        record("member")
        return index

    @kit.task(name="join", max_attempts=2, time_limit_s=10)
    def join() -> None:
        record("join")

    return kit


@dataclass
class Stack:
    kit: Kit
    project: str
    topic: str
    subscriber: Any

    def runs(self, task_id: str) -> int:
        return len(self.kit.documents.query("e2e_runs", [("task_id", "==", task_id)]))

    def lease_status(self, task_id: str) -> str | None:
        record = self.kit.documents.get(lease_path(task_id))
        return None if record is None else str(record.get("status"))

    def dead_lettered(self) -> list[Any]:
        """Messages on the dead-letter topic so far (pulled and acked)."""
        name = f"projects/{self.project}/subscriptions/{self.topic}-dead-letter-inspect"
        response = self.subscriber.pull(subscription=name, max_messages=50, timeout=5)
        if response.received_messages:
            self.subscriber.acknowledge(subscription=name, ack_ids=[m.ack_id for m in response.received_messages])
        return [m.message for m in response.received_messages]


@pytest.fixture(scope="module")
def stack(firestore_host: Emulator, pubsub_host: Emulator) -> Iterator[Stack]:
    from google.cloud import pubsub_v1

    with pytest.MonkeyPatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
        env.setenv("PUBSUB_EMULATOR_HOST", pubsub_host.host_port)
        project, topic = f"e2e-{uuid.uuid4().hex[:8]}", f"e2e-{uuid.uuid4().hex[:8]}"
        settings = Settings(
            backend="gcp",
            project=project,
            default_topic=topic,
            push_auth=False,
            ack_deadline_s=30,
            max_delivery_attempts=MAX_DELIVERY_ATTEMPTS,
            deadline_margin_s=5,
            grace_s=2,
        )
        kit = build_kit(settings)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_worker_app(kit, watchdog=False), host="127.0.0.1", port=port, log_config=None)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        assert wait_for(lambda: server.started, 20), "worker did not start"

        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic_path = publisher.topic_path(project, topic)
        dead_path = publisher.topic_path(project, settings.dead_letter_topic(topic))
        publisher.create_topic(name=topic_path)
        publisher.create_topic(name=dead_path)
        # A dead-letter topic without a subscription loses its messages: one to inspect, one for taskkit.
        subscriber.create_subscription(
            name=f"projects/{project}/subscriptions/{topic}-dead-letter-inspect", topic=dead_path
        )
        subscriber.create_subscription(
            request={
                "name": f"projects/{project}/subscriptions/{topic}-dead-letter-push",
                "topic": dead_path,
                "push_config": {"push_endpoint": f"http://127.0.0.1:{port}{DEAD_LETTER_PATH}"},
            }
        )
        subscriber.create_subscription(
            request={
                "name": f"projects/{project}/subscriptions/{topic}-push",
                "topic": topic_path,
                "push_config": {"push_endpoint": f"http://127.0.0.1:{port}{PUSH_PATH}"},
                "ack_deadline_seconds": settings.ack_deadline_s,
                "dead_letter_policy": {
                    "dead_letter_topic": dead_path,
                    "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
                },
                # The emulator would honour a retry policy's backoff (10 s, 20 s, ...); its default spacing
                # of a few seconds keeps this test short.
            }
        )
        yield Stack(kit, project, topic, subscriber)
        server.should_exit = True
        thread.join(timeout=10)
        kit.close()
        subscriber.close()


def test_delay_runs_through_real_push(stack: Stack) -> None:
    task_id = stack.kit.registry["ok"].delay(value="hello")
    assert wait_for(lambda: stack.lease_status(task_id) == "done", 30), stack.lease_status(task_id)
    assert stack.runs(task_id) == 1


def test_failures_permanent_acked_transient_dead_lettered_intact(stack: Stack) -> None:
    bad_id = stack.kit.registry["bad"].delay(score="scores/broken.musicxml")
    message = TaskMessage("unavailable", uuid.uuid4().hex)
    stack.kit.publish(message)

    # The permanent failure is recorded where its owner can see it, and acked.
    assert wait_for(lambda: stack.lease_status(bad_id) == "failed", 30), stack.lease_status(bad_id)
    record = stack.kit.documents.get(lease_path(bad_id))
    assert record is not None and record["error"]["code"] == "bad_score", record

    # The transient one is nacked on every delivery and dead-lettered after 5 with its raw message.
    dead: list[Any] = []
    deadline = time.monotonic() + 90
    while not any(m.attributes.get("id") == message.id for m in dead) and time.monotonic() < deadline:
        dead += stack.dead_lettered()
    copies = [m for m in dead if m.attributes.get("id") == message.id]
    assert len(copies) == 1, [dict(m.attributes) for m in dead]
    assert bytes(copies[0].data) == message.encode(), "the raw message is intact"
    assert dict(copies[0].attributes).items() >= message.attributes().items()
    assert copies[0].attributes.get("CloudPubSubDeadLetterSourceDeliveryCount") == str(MAX_DELIVERY_ATTEMPTS)
    assert stack.runs(message.id) == 1, "deliveries during the retry backoff are not attempts"
    assert all(m.attributes.get("id") != bad_id for m in dead), "the acked permanent failure is not dead-lettered"
    assert stack.runs(bad_id) == 1

    # taskkit's dead-letter endpoint (pushed from the dead-letter topic) then fails the task for good.
    assert wait_for(lambda: stack.lease_status(message.id) == "failed", 30), stack.lease_status(message.id)


def test_a_chord_fires_its_callback_once_through_real_push(stack: Stack) -> None:
    chord_id = uuid.uuid4().hex[:12]
    members = [stack.kit.registry["member"].signature({"index": i}, task_id=f"{chord_id}:{i}") for i in range(4)]
    callback = stack.kit.registry["join"].signature({}, task_id=f"{chord_id}:join")
    taskkit.chord(members, callback, chord_id=chord_id).apply_async(stack.kit)
    assert wait_for(lambda: stack.lease_status(f"{chord_id}:join") == "done", 60), "the callback never ran"
    # Redeliver every member as Pub/Sub may: each acks as a duplicate and the callback does not rerun.
    for m in members:
        stack.kit.publish(m.message({"chord": chord_id}))
    time.sleep(3)
    assert [stack.runs(m.task_id) for m in members] == [1, 1, 1, 1]
    assert stack.runs(f"{chord_id}:join") == 1
    progress = taskkit.chord_progress(stack.kit, chord_id)
    assert progress is not None and progress.complete and progress.status == "fired"
