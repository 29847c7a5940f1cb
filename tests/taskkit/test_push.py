"""The push endpoint over real HTTP: outcomes, answers, dead letters, duplicates."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import httpx

from taskkit import Kit
from taskkit.executor import DEAD_LETTERS
from taskkit.message import TaskMessage
from tests.taskkit.apps import count_hook, runs
from tests.taskkit.conftest import Dispatching, LiveServer, push_body, wait_for

PUSH = "/_taskkit/push"


def post(server: LiveServer, body: bytes) -> httpx.Response:
    return httpx.post(server.url + PUSH, content=body, headers={"content-type": "application/json"}, timeout=30)


def dead_letters(kit: Kit) -> list[dict]:  # type: ignore[type-arg]
    return [s.data for s in kit.documents.query(DEAD_LETTERS)]


def test_success_acks_and_duplicate_acks_without_rerun(kit: Kit, worker: LiveServer) -> None:
    message = TaskMessage("record", "r1", {"value": "v"})
    assert post(worker, push_body(message)).status_code == 200
    assert post(worker, push_body(message, message_id="other-id")).status_code == 200
    assert len(runs(kit, "r1")) == 1
    assert kit.leases.get("r1")["result"] == "v"  # type: ignore[index]


def test_undecodable_messages_are_kept_and_acked(kit: Kit, worker: LiveServer) -> None:
    bodies = {
        "bad base64": json.dumps({"message": {"data": "%%%"}}).encode(),
        "bad json": json.dumps({"message": {"data": base64.b64encode(b"{nope").decode()}}).encode(),
        "absent data": json.dumps({"message": {"messageId": "1"}}).encode(),
        "missing task": json.dumps({"message": {"data": base64.b64encode(b'{"id":"x"}').decode()}}).encode(),
        "not an envelope": b"hello",
    }
    for name, body in bodies.items():
        assert post(worker, body).status_code == 200, name
    kept = dead_letters(kit)
    assert len(kept) == len(bodies)
    assert {base64.b64decode(k["raw_b64"]) for k in kept} == set(bodies.values())
    assert all(k["reason"] for k in kept)


def test_unknown_task_is_kept_with_reason(kit: Kit, worker: LiveServer) -> None:
    assert post(worker, push_body(TaskMessage("no.such.task", "u1"))).status_code == 200
    [kept] = dead_letters(kit)
    assert "unknown task 'no.such.task'" in kept["reason"] and kept["task_id"] == "u1"


def test_permanent_failure_runs_once_acks_and_runs_hook_once(kit: Kit, worker: LiveServer) -> None:
    message = TaskMessage("bad_input", "b1", {"score": "x.xml"})
    assert post(worker, push_body(message)).status_code == 200
    assert post(worker, push_body(message)).status_code == 200  # redelivery: already failed
    assert len(runs(kit, "b1")) == 1
    assert count_hook(kit, "b1") == 1
    lease = kit.leases.get("b1")
    assert lease["status"] == "failed" and lease["error"]["code"] == "ValueError"  # type: ignore[index]
    assert "cannot read score" in lease["error"]["message"]  # type: ignore[index]
    assert any(d["source"] == "failed" and d["task_id"] == "b1" for d in dead_letters(kit))


def test_reject_is_permanent_with_its_code(kit: Kit, worker: LiveServer) -> None:
    assert post(worker, push_body(TaskMessage("rejecting", "rj"))).status_code == 200
    assert kit.leases.get("rj")["error"]["code"] == "no_lyrics"  # type: ignore[index]
    assert kit.documents.get("hooks/rj") == {"count": 1, "code": "no_lyrics"}


def test_transient_failure_nacks(kit: Kit, worker: LiveServer) -> None:
    response = post(worker, push_body(TaskMessage("flaky", "f0", {"fail_times": 1})))
    assert response.status_code == 503
    assert kit.leases.get("f0")["status"] == "retry"  # type: ignore[index]


def test_transient_twice_then_success_runs_three_times(kit: Kit, worker: LiveServer, dispatch: object) -> None:
    d: Dispatching = dispatch([worker.url])  # type: ignore[operator]
    kit.registry["flaky"].apply_async({"fail_times": 2}, task_id="f1")
    wait_for(lambda: (kit.leases.get("f1") or {}).get("status") == "done", what="flaky done")
    d.wait_idle()
    assert [r["attempt"] for r in sorted(runs(kit, "f1"), key=lambda r: r["attempt"])] == [1, 2, 3]
    assert kit.leases.get("f1")["result"] == 3  # type: ignore[index]
    assert count_hook(kit, "f1") == 0


def test_max_attempts_ends_in_dead_letter_table(kit: Kit, worker: LiveServer, dispatch: object) -> None:
    d: Dispatching = dispatch([worker.url])  # type: ignore[operator]
    kit.registry["flaky"].apply_async({"fail_times": 99}, task_id="f2")
    wait_for(lambda: (kit.leases.get("f2") or {}).get("status") == "failed", what="flaky failed")
    counts = d.wait_idle()
    assert len(runs(kit, "f2")) == 5  # max_attempts
    assert count_hook(kit, "f2") == 1
    assert kit.leases.get("f2")["error"]["code"] == "ConnectionError"  # type: ignore[index]
    assert any(k["task_id"] == "f2" and k["source"] == "failed" for k in dead_letters(kit))
    assert counts.get("acked") == 1  # the final failure acked the message


def test_200_concurrent_duplicates_run_once(kit: Kit, worker: LiveServer) -> None:
    message = TaskMessage("record", "dup", {"sleep_s": 0.5, "value": "x"})
    with ThreadPoolExecutor(max_workers=64) as pool:
        answers = list(pool.map(lambda i: post(worker, push_body(message, message_id=f"m{i}")).status_code, range(200)))
    assert set(answers) <= {200, 409}
    assert answers.count(409) > 0  # some met the live lease
    assert len(runs(kit, "dup")) == 1
    # Every nacked copy is redelivered; now they all ack as duplicates.
    assert {post(worker, push_body(message)).status_code for _ in range(5)} == {200}
    assert len(runs(kit, "dup")) == 1


def test_chord_callback_fires_once_under_redelivery(kit: Kit, worker: LiveServer, dispatch: object) -> None:
    from taskkit import chord

    d: Dispatching = dispatch([worker.url])  # type: ignore[operator]
    members = [kit.registry["member"].signature({"index": i}, task_id=f"c1:{i}") for i in range(6)]
    callback = kit.registry["join"].signature({"chord_id": "c1"}, task_id="c1:join")
    chord(members, callback, chord_id="c1").apply_async(kit)
    wait_for(lambda: (kit.leases.get("c1:join") or {}).get("status") == "done", what="callback done")
    # Redeliver every member (as Pub/Sub may) and apply the chord again (a retried publisher).
    for m in members:
        assert post(worker, push_body(m.message({"chord": "c1"}))).status_code == 200
    chord(members, callback, chord_id="c1").apply_async(kit)
    d.wait_idle()
    assert len(runs(kit, "c1:join")) == 1
    assert all(len(runs(kit, m.task_id)) == 1 for m in members)


def test_chain_runs_links_in_order(kit: Kit, worker: LiveServer, dispatch: object) -> None:
    from taskkit import chain

    d: Dispatching = dispatch([worker.url])  # type: ignore[operator]
    links = [kit.registry["record"].signature({"value": str(i)}, task_id=f"ch:{i}") for i in range(3)]
    chain(*links).apply_async(kit)
    wait_for(lambda: (kit.leases.get("ch:2") or {}).get("status") == "done", what="chain end")
    d.wait_idle()
    started = [kit.leases.get(f"ch:{i}")["startedAt"] for i in range(3)]  # type: ignore[index]
    assert started == sorted(started)
