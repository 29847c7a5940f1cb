"""A worker being restarted refuses connections: the local dispatcher does not count that as a delivery."""

from __future__ import annotations

import time
from pathlib import Path

from taskkit import Kit, Settings
from taskkit.backends.local.broker import LocalBroker
from taskkit.backends.local.dispatcher import ENDPOINT_DOWN, LocalDispatcher, Subscription
from taskkit.message import TaskMessage
from taskkit.supervisor import free_port
from taskkit.worker import create_worker_app
from tests.taskkit.apps import make_kit, runs
from tests.taskkit.conftest import FAST, LiveServer, wait_for


def test_refused_connections_use_no_attempts_and_the_message_waits_for_its_worker(tmp_path: Path) -> None:
    kit: Kit = make_kit(Settings(backend="local", data_dir=tmp_path / "data", **FAST))  # type: ignore[arg-type]
    port = free_port()  # nobody listens yet: the worker is "restarting"
    broker = LocalBroker(tmp_path / "data" / "broker.sqlite3")
    message = TaskMessage("record", "r1", {"value": "x"})
    broker.publish("tasks", message.encode(), message.attributes())
    sub = Subscription(
        "tasks-push", "tasks", (f"http://127.0.0.1:{port}/_taskkit/push",), min_backoff_s=0.01, max_delivery_attempts=5
    )
    dispatcher = LocalDispatcher(tmp_path / "data" / "broker.sqlite3", [sub])
    dispatcher.start()
    try:
        row = "SELECT state, delivery_attempt, last_outcome FROM deliveries"
        conn = broker._db.connection()
        wait_for(lambda: (r := conn.execute(row).fetchone()) and r[2] == ENDPOINT_DOWN, what="a refused push")
        time.sleep(1.5)  # about three refusals, more than enough to exhaust 5 counted attempts at this backoff
        state, attempts, _ = conn.execute(row).fetchone()
        assert (state, attempts) in (("ready", 0), ("inflight", 1))
        with LiveServer(create_worker_app(kit, watchdog=False), port=port):
            wait_for(lambda: conn.execute(row).fetchone()[0] == "acked", what="delivery once the worker is up")
        assert conn.execute(row).fetchone()[1] == 1  # one counted delivery: the one that reached the worker
        assert len(runs(kit, "r1")) == 1
    finally:
        dispatcher.stop()
        broker.close()
        kit.close()
