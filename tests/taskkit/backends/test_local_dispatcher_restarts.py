"""A worker being restarted refuses connections: the local dispatcher does not count that as a delivery.
A nack with Retry-After (a lease another owner holds until then) is offered again at that time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response

from taskkit import Kit, Settings
from taskkit.backends.local.broker import LocalBroker
from taskkit.backends.local.dispatcher import ENDPOINT_DOWN, LocalDispatcher, Subscription, _retry_after_s
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


def _answering(statuses: list[tuple[int, dict[str, str]]]) -> Any:
    """An endpoint that answers the given (status, headers) in turn, then 204; /healthz for LiveServer."""
    app = FastAPI()
    answers = iter(statuses)

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/push")
    def push() -> Response:
        status, headers = next(answers, (204, {}))
        return Response(status_code=status, headers=headers)

    return app


def test_a_nack_with_retry_after_comes_back_then_not_after_the_backoff(tmp_path: Path) -> None:
    # A long backoff: only the worker's Retry-After can bring the redelivery forward.
    broker = LocalBroker(tmp_path / "broker.sqlite3")
    for task_id in ("held", "plain"):
        message = TaskMessage("record", task_id, {"value": task_id})
        broker.publish(task_id, message.encode(), message.attributes())
    row = "SELECT state, next_attempt_at - updated_at, delivery_attempt FROM deliveries WHERE subscription = ?"
    conn = broker._db.connection()
    held = _answering([(409, {"Retry-After": "1"})])
    plain = _answering([(409, {})])
    with LiveServer(held) as held_server, LiveServer(plain) as plain_server:
        subs = [
            Subscription(f"{name}-push", name, (f"{server.url}/push",), min_backoff_s=120.0, max_backoff_s=600.0)
            for name, server in (("held", held_server), ("plain", plain_server))
        ]
        dispatcher = LocalDispatcher(tmp_path / "broker.sqlite3", subs)
        dispatcher.start()
        try:

            def delivery(name: str) -> tuple[str, float, int]:
                return conn.execute(row, (name,)).fetchone() or ("none", 0.0, 0)

            wait_for(lambda: delivery("held-push")[0] == "acked", what="the held task's retry")
            assert delivery("held-push")[2] == 2  # nacked once, acked at the second
            nacked = wait_for(lambda: (r := delivery("plain-push"))[2] == 1 and r[0] == "ready" and r, what="a nack")
            assert nacked[1] >= 60.0  # without Retry-After: the subscription's backoff
        finally:
            dispatcher.stop()
            broker.close()


def test_retry_after_values() -> None:
    assert _retry_after_s("3") == 3.0 and _retry_after_s("0.5") == 0.5
    assert _retry_after_s(None) is None and _retry_after_s("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert _retry_after_s("-4") == 0.0
