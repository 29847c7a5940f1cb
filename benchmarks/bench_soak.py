"""Soak of the embedded stack under injected faults, ending in an invariant check (prints figures).

A mix of no-op tasks, chords and (with `--renders`) real render jobs of the built-in voice runs
through the embedded stack (the supervisor, its push dispatcher and N worker processes) while faults
are injected at random:

- duplicates: 30% of messages are delivered again after their ack (once, sometimes twice more);
- kills: 10% of push deliveries SIGKILL their worker process, at a random point: before the lease,
  mid-task (at the task's next store operation), or after the task before the answer (the ack);
- transient store errors: 5% of the workers' document and blob operations fail (TransientBackendError;
  a blob write sometimes fails after it landed);
- the dispatcher is restarted mid-run;
- the clock of a running lease is pushed past expiry and another owner takes the task over (fence + 1).

It ends by checking the invariants (`check_invariants`) and prints each violation with its task or job
id; any violation fails the run (exit status 1). Then it prints the data folder's size before and after
the housekeeping that production's TTL and lifecycle rules do, run as if their retention had passed.

`python -m benchmarks soak [--deliveries N] [--renders] [--workers W] [--seed S] [--family local|gcp]`
(`--family gcp`: the same faults and invariants on Google's emulators, benchmarks/soak_gcp.py);
`python -m benchmarks.bench_soak --recovery` measures recovery after process kills instead (a real
render, a worker killed mid-phrase, then the whole stack killed and restarted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import taskkit
from benchmarks.machine import cpu_line
from taskkit import Kit, Settings, chord
from taskkit.backends.base import BlobStore, Document, DocumentStore, Query, Snapshot, Transaction, Watch
from taskkit.backends.local.blobs import LocalBlobStore
from taskkit.backends.local.broker import open_queue
from taskkit.backends.local.cleanup import expire_blobs, folder_size, housekeeping
from taskkit.backends.local.dispatcher import ENDPOINT_DOWN, LocalDispatcher, Subscription, _Claim
from taskkit.backends.local.documents import LocalDocumentStore
from taskkit.canvas import Signature
from taskkit.errors import TransientBackendError
from taskkit.executor import DEAD_LETTERS
from taskkit.lease import LEASES, Acquired, Exhausted, lease_path
from taskkit.logging import configure_logging
from taskkit.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[1]
APP = "benchmarks.bench_soak:kit"
RENDER_APP = "benchmarks.bench_soak:render_kit"
WORKER_COMMAND = ("-m", "benchmarks.bench_soak", "worker")
FAULTS_VARIABLE = "SOAK_FAULTS"  # JSON: the worker-side fault plan (benchmarks may read the environment)
EFFECTS = "soak_effects"
BODIES = "soak_bodies"
HELD = ("running", "failing")
ENDED_JOB = ("completed", "failed", "cancelled")
# Fast redelivery and short leases, so faults cost seconds, not minutes.
TIMINGS: dict[str, Any] = {
    "ack_deadline_s": 600,
    "max_delivery_attempts": 100,
    "min_backoff_s": 0.05,
    "max_backoff_s": 5.0,  # 100 deliveries span minutes: a worker restarting (torch imports) outlasts none
    "deadline_margin_s": 1.0,
    "grace_s": 1.0,
    "lease_ttl_s": 3.0,
    "sweep_interval_s": 5.0,
}
SINGER_ENV = {
    "SINGER_DEFAULT_CREDITS": "40",
    "SINGER_MAX_JOBS_IN_FLIGHT": "3",
    "SINGER_MAX_SONG_SECONDS": "30",
    "SINGER_STALE_PENDING_S": "20",
    "SINGER_RENDER_TIME_LIMIT_S": "60",
}


# ------------------------------------------------------------------------------------------- the tasks
def apply_effect(kit: Kit, kind: str) -> None:
    """The task's side effect, once per task id: a fenced transaction that counts a first application.

    The count is incremented only when no earlier attempt applied the effect, in the same atomic,
    fenced transaction as the check; a count above 1 means the store or the fencing let two attempts
    both apply it. Every body that reaches this point is counted apart (`soak_bodies`), for the figures.
    """
    ctx = taskkit.current()

    def apply(tx: Transaction) -> None:
        path = f"{EFFECTS}/{ctx.task_id}"
        doc = tx.get(path)
        if doc is None:
            tx.set(path, {"count": 1, "kind": kind, "fence": ctx.fence})

    ctx.transaction(apply)

    def count_body(tx: Transaction) -> None:
        doc = tx.get(f"{BODIES}/{ctx.task_id}") or {"count": 0}
        tx.set(f"{BODIES}/{ctx.task_id}", {"count": doc["count"] + 1})

    with contextlib.suppress(Exception):  # a figure only
        kit.documents.transaction(count_body)


def register_soak_tasks(kit: Kit) -> None:
    """The soak's own tasks on `kit`: a no-op with a side effect, chord members and their callback."""

    @kit.task(name="soak.noop", max_attempts=10, time_limit_s=20, min_backoff_s=0.05, max_backoff_s=0.5)
    def noop(sleep_s: float = 0.0) -> None:
        deadline = time.monotonic() + sleep_s
        while time.monotonic() < deadline:
            taskkit.current().check_time()
            time.sleep(0.01)
        apply_effect(kit, "noop")

    @kit.task(name="soak.member", max_attempts=10, time_limit_s=20, min_backoff_s=0.05, max_backoff_s=0.5)
    def member(chord_id: str, index: int) -> dict[str, int]:
        apply_effect(kit, "member")
        return {"index": index}

    @kit.task(name="soak.join", max_attempts=10, time_limit_s=20, min_backoff_s=0.05, max_backoff_s=0.5)
    def join(chord_id: str) -> None:
        results = [(taskkit.member_result(kit, f"{chord_id}:{i}") or {}).get("index") for i in range(3)]
        if results != [0, 1, 2]:
            raise taskkit.Retry(f"chord {chord_id} fired before its members' results were readable: {results}")
        apply_effect(kit, "join")


kit = Kit("soak")
register_soak_tasks(kit)


def __getattr__(name: str) -> Any:
    """`render_kit`: the render service's Kit with the soak tasks added (imports singer_tasks on use)."""
    if name == "render_kit":
        import singer_tasks.render.tasks as render_tasks

        if "soak.noop" not in render_tasks.kit.registry:
            register_soak_tasks(render_tasks.kit)
        return render_tasks.kit
    raise AttributeError(name)


# ------------------------------------------------------------------------------- worker-side faults
@dataclass
class FaultPlan:
    """What a worker process injects; every injected fault is appended to `log` before it happens."""

    seed: int = 0
    kill_rate: float = 0.10
    transient_rate: float = 0.05
    log: str = ""
    rng: random.Random = field(default_factory=random.Random)
    armed_mid: bool = False

    def record(self, kind: str, detail: str = "") -> None:
        if not self.log:
            return
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{kind}\t{detail}\n".encode())
        finally:
            os.close(fd)

    def die(self, point: str, detail: str = "") -> None:
        self.record(f"kill:{point}", detail)
        os.kill(os.getpid(), signal.SIGKILL)

    def store_operation(self, kind: str, what: str) -> None:
        """Before a store operation: die if a mid-task kill is armed and a task runs, or fail transiently."""
        ctx = taskkit.current_or_none()
        if self.armed_mid and ctx is not None:
            self.die("mid-task", ctx.task_id)
        if self.rng.random() < self.transient_rate:
            self.record(f"transient:{kind}", what)
            raise TransientBackendError(f"soak: injected transient {kind} failure ({what})")


class FaultyDocuments(DocumentStore):
    """A document store whose operations fail now and then (and may kill the process mid-task)."""

    def __init__(self, inner: DocumentStore, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan

    def _get(self, path: str) -> Document | None:
        self.plan.store_operation("doc", "get")
        return self.inner._get(path)

    def _create(self, path: str, data: Document) -> bool:
        self.plan.store_operation("doc", "create")
        return self.inner._create(path, data)

    def _set(self, path: str, data: Document) -> None:
        self.plan.store_operation("doc", "set")
        self.inner._set(path, data)

    def _update(self, path: str, fields: Document) -> None:
        self.plan.store_operation("doc", "update")
        self.inner._update(path, fields)

    def _delete(self, path: str) -> None:
        self.plan.store_operation("doc", "delete")
        self.inner._delete(path)

    def _query(self, query: Query) -> list[Snapshot]:
        self.plan.store_operation("doc", "query")
        return self.inner._query(query)

    def _transaction(self, fn: Callable[[Transaction], Any], deadline_s: float | None) -> Any:
        self.plan.store_operation("doc", "transaction")
        return self.inner._transaction(fn, deadline_s)

    def _watch_document(self, path: str, callback: Any) -> Watch:
        return self.inner._watch_document(path, callback)

    def _watch_query(self, query: Query, callback: Any) -> Watch:
        return self.inner._watch_query(query, callback)

    def close(self) -> None:
        self.inner.close()


class FaultyBlobs(BlobStore):
    """A blob store whose operations fail now and then; a failed write sometimes landed all the same."""

    def __init__(self, inner: BlobStore, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan

    def _put(self, key: str, data: bytes, content_type: str, if_absent: bool) -> None:
        self.plan.store_operation("blob", "put")
        self.inner._put(key, data, content_type, if_absent)
        if self.plan.rng.random() < self.plan.transient_rate / 5:
            self.plan.record("transient:blob", "put after it landed")
            raise TransientBackendError("soak: injected failure after the write landed")

    def _get(self, key: str) -> bytes:
        self.plan.store_operation("blob", "get")
        return self.inner._get(key)

    def _exists(self, key: str) -> bool:
        self.plan.store_operation("blob", "exists")
        return self.inner._exists(key)

    def _delete(self, key: str) -> None:
        self.plan.store_operation("blob", "delete")
        self.inner._delete(key)

    def _list(self, prefix: str) -> Iterable[str]:
        self.plan.store_operation("blob", "list")
        return self.inner._list(prefix)

    def _signed_url(
        self, key: str, method: Any, expires_s: int, content_type: str | None, max_bytes: int | None
    ) -> str:
        return self.inner._signed_url(key, method, expires_s, content_type, max_bytes)


def kill_points(app: Any, plan: FaultPlan) -> Any:
    """ASGI wrapper: a push delivery kills the process with probability `kill_rate`, at a random point."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("path") != "/_taskkit/push":
            await app(scope, receive, send)
            return
        plan.record("delivery")
        point = (
            plan.rng.choice(("before-lease", "mid-task", "before-ack")) if plan.rng.random() < plan.kill_rate else ""
        )
        if point == "before-lease":
            plan.die(point)
        plan.armed_mid = point == "mid-task"

        async def send_or_die(message: dict[str, Any]) -> None:
            if point == "before-ack" and message["type"] == "http.response.start":
                plan.die(point, str(message.get("status")))
            await send(message)

        try:
            await app(scope, receive, send_or_die)
        finally:
            plan.armed_mid = False

    return wrapped


def serve_faulty_worker(app_ref: str, port: int) -> None:
    """`python -m benchmarks.bench_soak worker --app REF --port P`: a worker with the fault plan installed."""
    import uvicorn

    from taskkit.executor import Executor
    from taskkit.lifecycle import OrphanGuard, set_parent_death_signal, supervisor_pid_from
    from taskkit.supervisor import load_kit
    from taskkit.worker import WorkerServer, create_worker_app

    configure_logging(level="CRITICAL")  # injected failures would fill the terminal
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    raw = json.loads(os.environ.get(FAULTS_VARIABLE) or "{}")
    plan = FaultPlan(**raw)
    plan.rng = random.Random(f"{plan.seed}-{os.getpid()}")
    served = load_kit(app_ref)
    # The worker's own kit reads and writes through the faulty stores (a benchmark may reach inside).
    served._documents = FaultyDocuments(served.documents, plan)
    served._blobs = FaultyBlobs(served.blobs, plan)
    executor = Executor(served)
    app = kill_points(create_worker_app(served, executor), plan)
    supervisor_pid = supervisor_pid_from(os.environ)
    if supervisor_pid is not None:
        set_parent_death_signal(signal.SIGTERM)
        OrphanGuard(supervisor_pid, lambda: os.kill(os.getpid(), signal.SIGTERM), exit_after_s=10).start()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    WorkerServer(config, executor).run()


# --------------------------------------------------------------------------- dispatcher-side faults
@dataclass
class DeliveryStats:
    """Shared by every dispatcher of one soak (it survives a dispatcher restart)."""

    rng: random.Random
    duplicate_rate: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    deliveries: int = 0  # requests that reached a worker (answered, or cut by its death)
    refused: int = 0  # connection refused: the endpoint's worker was dead or restarting
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicated_messages: int = 0
    duplicate_deliveries: int = 0
    owed: dict[str, int] = field(default_factory=dict)  # message id -> extra deliveries still to make
    decided: set[str] = field(default_factory=set)

    def settle(self, key: str, acked: bool, outcome: str) -> bool:
        """Count one answer to delivery `key` (message id/subscription); True if this ack is to be turned
        into a redelivery of the same message (30% of messages, once or twice after their first ack)."""
        with self.lock:
            if outcome == ENDPOINT_DOWN:
                self.refused += 1
            else:
                self.deliveries += 1
            self.outcomes[outcome if len(outcome) < 12 else outcome.split(":")[0]] += 1
            if not acked:
                return False
            if key not in self.decided:
                self.decided.add(key)
                if self.rng.random() < self.duplicate_rate:
                    self.owed[key] = 1 if self.rng.random() < 0.8 else 2
                    self.duplicated_messages += 1
            if not self.owed.get(key):
                return False
            self.owed[key] -= 1
            self.duplicate_deliveries += 1
            return True


class DuplicatingDispatcher(LocalDispatcher):
    """The local dispatcher, but an acked message is delivered again (30% of messages, once or twice)."""

    def __init__(self, queue_path: Path, subscriptions: list[Subscription], stats: DeliveryStats) -> None:
        super().__init__(queue_path, subscriptions)
        self.stats = stats

    def _settle(self, claim: _Claim, acked: bool, outcome: str, retry_after_s: float | None = None) -> None:
        again = self.stats.settle(f"{claim.message_id}/{claim.subscription.name}", acked, outcome)
        # Delivered again as Pub/Sub redelivers an acked message: same message id, next attempt number.
        super()._settle(claim, acked and not again, "soak duplicate" if again else outcome, retry_after_s)


class DeliveryPath(Protocol):
    """What carries the soak's messages to the workers: the local dispatcher, or the gcp family's relay."""

    def restart_dispatcher(self) -> None:
        """Stop the deliverer and start a fresh one, as after a crash (what it held is delivered again)."""


class SoakSupervisor(Supervisor):
    """The embedded stack's supervisor with the duplicating dispatcher and the faulty workers."""

    def __init__(self, *args: Any, stats: DeliveryStats, **kwargs: Any) -> None:
        super().__init__(*args, worker_command=WORKER_COMMAND, **kwargs)
        self.stats = stats

    def make_dispatcher(self, subscriptions: list[Subscription]) -> LocalDispatcher:
        return DuplicatingDispatcher(self.settings.data_dir / "broker.sqlite3", subscriptions, self.stats)


# ------------------------------------------------------------------------------------- invariants
@dataclass
class Submitted:
    """What the soak sent: the ids the invariant check follows."""

    noops: list[str] = field(default_factory=list)
    chords: dict[str, list[str]] = field(default_factory=dict)  # chord id -> member ids
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> uid
    cancelled_requests: int = 0


@dataclass
class Violation:
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}"


@dataclass
class Verdict:
    checks: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # tasks failed for good, by error code

    def check(self, name: str, ok: bool, subject: str, problem: str) -> None:
        self.checks[name] += 1
        if not ok:
            self.violations.append(Violation(subject, f"{name}: {problem}"))


def check_invariants(documents: DocumentStore, queue_path: Path | None, submitted: Submitted) -> Verdict:
    """Every invariant of the soak, on the final state; violations name their task or job id.

    `queue_path`: the local family's queue (its deliveries must all have ended; each dead-lettered one
    must be kept with its reason); None on the gcp family, where Pub/Sub holds the queue.
    """
    v = Verdict()
    leases = {s.id: s.data for s in documents.query(LEASES)}
    effects = {s.id: int(s.data.get("count", 0)) for s in documents.query(EFFECTS)}
    kept = [s.data for s in documents.query(DEAD_LETTERS)]
    for task_id, lease in leases.items():
        v.check("no lease left held", lease.get("status") not in HELD, task_id, f"lease {lease.get('status')}")
    for task_id in [*submitted.noops, *(m for ms in submitted.chords.values() for m in ms)]:
        status = (leases.get(task_id) or {}).get("status")
        v.check("every task ended", status in ("done", "failed"), task_id, f"lease status {status}")
        count = effects.get(task_id, 0)
        v.check("side effect applied at most once", count <= 1, task_id, f"applied {count} times")
        if status == "done":
            v.check("a done task's side effect applied", count == 1, task_id, f"applied {count} times")
    check_chords(documents, submitted, leases, effects, v)
    for task_id, lease in leases.items():
        if lease.get("status") == "failed":
            reasons = [k.get("reason") for k in kept if k.get("task_id") == task_id and k.get("source") == "failed"]
            v.check("failed task kept with its reason", bool(reasons and reasons[0]), task_id, "no dead letter")
    v.failures = Counter(
        str((lease.get("error") or {}).get("code", "?")) for lease in leases.values() if lease.get("status") == "failed"
    )
    if submitted.jobs:
        check_jobs(documents, submitted, v)
    if queue_path is not None:
        check_queue(queue_path, kept, v)
    return v


def check_queue(queue_path: Path, kept: list[Document], v: Verdict) -> None:
    """The local queue: every delivery ended; every dead-lettered one kept with its reason."""
    queue = open_queue(queue_path)
    try:
        rows = (
            queue.connection()
            .execute("SELECT d.state, m.attributes FROM deliveries d JOIN messages m ON m.id = d.message_id")
            .fetchall()
        )
    finally:
        queue.close()
    for state, attributes in rows:
        task_id = json.loads(attributes).get("id", "?")
        v.check("queue drained", state not in ("ready", "inflight"), task_id, f"delivery still {state}")
        if state == "dead_lettered":
            reasons = [
                k.get("reason") for k in kept if k.get("task_id") == task_id and k.get("source") == "dead-letter"
            ]
            v.check("dead letter kept with its reason", bool(reasons and reasons[0]), task_id, "not kept")


def check_chords(
    documents: DocumentStore, submitted: Submitted, leases: dict[str, Document], effects: dict[str, int], v: Verdict
) -> None:
    """Each chord whose members all finished ran its callback once; a failed chord never runs it."""
    for chord_id, members in submitted.chords.items():
        record = documents.get(f"taskkit_chords/{chord_id}") or {}
        callback = f"{chord_id}:join"
        all_done = all((leases.get(m) or {}).get("status") == "done" for m in members)
        if all_done:
            status = (leases.get(callback) or {}).get("status")
            v.check("chord callback ended", status in ("done", "failed"), callback, f"lease {status}")
            if status == "done":
                v.check("chord callback's effect applied once", effects.get(callback, 0) == 1, callback, "not once")
            if record.get("status") != "fired":
                # Not an invariant (the callback ran once); canvas.maybe_fire_chord leaves such a chord open.
                v.notes.append(f"{chord_id}: chord record still {record.get('status')} after its callback ran")
        else:
            v.check("no callback for a failed chord", callback not in effects, callback, "ran")


def check_jobs(documents: DocumentStore, submitted: Submitted, v: Verdict) -> None:
    """Render jobs: ended; charged at most once and refunded exactly when not completed; credits conserved."""
    charged_by_user: Counter[str] = Counter()
    for job_id, uid in submitted.jobs.items():
        job = documents.get(f"jobs/{job_id}") or {}
        status = job.get("status")
        v.check("every job ended", status in ENDED_JOB, job_id, f"job {status}")
        credits = job.get("credits") or {}
        reserved, charged, refunded = (int(credits.get(k, 0)) for k in ("reserved", "charged", "refunded"))
        entries = {s.id: s.data for s in documents.query(f"users/{uid}/ledger", [("jobId", "==", job_id)])}
        charges = [e for e in entries.values() if e.get("kind") == "charge"]
        refunds = [e for e in entries.values() if e.get("kind") == "refund"]
        v.check("charged at most once", len(charges) <= 1, job_id, f"{len(charges)} charge entries")
        if status == "completed":
            v.check("completed job charged", charged >= 1 and len(charges) == 1, job_id, f"charged {charged}")
            v.check("completed job not refunded", not refunds and charged + refunded == reserved, job_id, str(credits))
        else:
            v.check("ended job refunded exactly", len(refunds) == 1 and refunded == reserved, job_id, str(credits))
            v.check("ended job not charged", charged == 0 and not charges, job_id, str(credits))
        charged_by_user[uid] += charged
    for uid in sorted(set(submitted.jobs.values())):
        user = documents.get(f"users/{uid}") or {}
        granted = sum(
            int(s.data.get("amount", 0))
            for s in documents.query(f"users/{uid}/ledger")
            if s.data.get("kind") in ("grant", "refill")
        )
        balance = int(user.get("credits", 0))
        v.check(
            "credits conserved",
            granted == balance + charged_by_user[uid],
            uid,
            f"start {granted} != balance {balance} + charged {charged_by_user[uid]}",
        )
        v.check("nothing left reserved", int(user.get("reserved", 0)) == 0, uid, f"reserved {user.get('reserved')}")
        v.check("nothing left in flight", int(user.get("inFlight", 0)) == 0, uid, f"inFlight {user.get('inFlight')}")


# ---------------------------------------------------------------------------------------- the run
def push_lease_clock(client: Kit, rng: random.Random) -> int:
    """A running lease's clock jumps past its expiry and another owner takes the task over (fence + 1).

    The taker never runs the task: its lease lapses too and a redelivery runs the task after it, while the
    attempt that was overtaken meets LeaseLost at its next fenced write. Returns 1 if a takeover happened.
    """
    running = client.documents.query(LEASES, [("status", "==", "running")])
    if not running:
        return 0
    snap = rng.choice(running)

    def expire(tx: Transaction) -> bool:
        record = tx.get(lease_path(snap.id))
        if not record or record.get("status") != "running" or record.get("fence") != snap.data.get("fence"):
            return False
        tx.update(lease_path(snap.id), {"lease_until": time.time() - 0.001})
        return True

    if not client.documents.transaction(expire):
        return 0
    got = client.leases.acquire(
        snap.id, task_name=str(snap.data.get("task")), owner="soak-clock", ttl_s=3.0, max_attempts=10**6
    )
    return 1 if isinstance(got, Acquired | Exhausted) else 0


def song(bars: int, seed: int) -> bytes:
    """A short score for the built-in voice: `bars` bars, one phrase per two bars, notes from `seed`."""
    from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, rest, tempo, voice_score

    rng = random.Random(seed)
    measures = []
    for b in range(bars):
        items = [tempo(120)] if b == 0 else []
        last = b == bars - 1 or b % 2 == 1
        for _ in range(3 if last else 4):
            items.append(note(rng.choice(["C4", "D4", "E4", "G4", "A4"]), 4, rng.choice(["la", "li", "lo", "lu"])))
        if last:
            items.append(rest(4))
        measures.append(measure(b + 1, *items))
    return voice_score(measures)


@dataclass
class SoakConfig:
    deliveries: int = 10_000
    workers: int = 2
    seed: int = 1
    renders: bool = False
    duplicate_rate: float = 0.30
    kill_rate: float = 0.10
    transient_rate: float = 0.05
    clock_pushes: int = 5
    drain_timeout_s: float = 900.0
    family: str = "local"  # or "gcp": benchmarks/soak_gcp.py, on Google's emulators


@dataclass
class SoakResult:
    verdict: Verdict
    submitted: Submitted
    stats: DeliveryStats
    faults: Counter[str]
    wall_s: float
    clock_takeovers: int
    dispatcher_restarts: int
    disk_before: int = 0
    disk_after: int = 0
    cleanup: dict[str, Any] = field(default_factory=dict)


class Soak:
    """One soak run on a fresh data folder."""

    def __init__(self, data_dir: Path, config: SoakConfig) -> None:
        self.data_dir, self.config = data_dir, config
        self.rng = random.Random(config.seed)
        self.submitted = Submitted()
        self.stats = DeliveryStats(random.Random(config.seed + 1), config.duplicate_rate)
        self.fault_log = data_dir.parent / f"{data_dir.name}-faults.log"
        self.clock_takeovers = 0
        self.dispatcher_restarts = 0

    def settings(self) -> Settings:
        return Settings(backend="local", data_dir=self.data_dir, **TIMINGS)

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """The workers' environment: timings, the fault plan, the render settings (restored after)."""
        plan = {
            "seed": self.config.seed,
            "kill_rate": self.config.kill_rate,
            "transient_rate": self.config.transient_rate,
            "log": str(self.fault_log),
        }
        values = {f"TASKKIT_{k.upper()}": str(v) for k, v in TIMINGS.items()}
        values |= {FAULTS_VARIABLE: json.dumps(plan), "TASKKIT_LOG_LEVEL": "CRITICAL"}
        values["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
        if self.config.renders:
            values |= SINGER_ENV
        with patched_environ(values):
            yield

    def run(self) -> SoakResult:
        with self.environment():
            return self._run()

    def _run(self) -> SoakResult:
        app = RENDER_APP if self.config.renders else APP
        supervisor = SoakSupervisor(app, settings=self.settings(), workers=self.config.workers, stats=self.stats)
        client = Kit("soak-client", settings=supervisor.settings)
        supervisor.kit = Kit("soak-supervisor", settings=supervisor.settings)
        begin = time.time()
        try:
            supervisor.start_workers()
            self.drive(supervisor, client)
            self.drain(supervisor, client)
        finally:
            supervisor.stop()
            supervisor.kit.close()
        wall = time.time() - begin
        result = self.result(check_invariants(client.documents, self.data_dir / "broker.sqlite3", self.submitted), wall)
        self.clean_up(client, result)
        client.close()
        return result

    def result(self, verdict: Verdict, wall_s: float) -> SoakResult:
        """The run's figures: the verdict, what was sent and delivered, the faults the workers logged."""
        faults = Counter(line.split("\t", 1)[0] for line in _lines(self.fault_log))
        del faults["delivery"]
        return SoakResult(
            verdict, self.submitted, self.stats, faults, wall_s, self.clock_takeovers, self.dispatcher_restarts
        )

    # -- sending the mix ---------------------------------------------------------------------------
    def drive(self, supervisor: DeliveryPath, client: Kit) -> None:
        target = self.config.deliveries
        restart_at = target // 2
        push_every = max(1, target // (self.config.clock_pushes + 1))
        next_push = push_every
        users = [f"soak-user-{i}" for i in range(4)]
        scores: dict[str, str] = {}
        n = 0
        while self.stats.deliveries < target:
            # Keep a bounded backlog: the mix is sent as fast as the stack takes it, no faster.
            if self.backlog(supervisor) > 4 * self.config.workers:
                time.sleep(0.05)
            else:
                n += 1
                roll = self.rng.random()
                if self.config.renders and roll < 0.1:
                    self.send_job(client, users[n % len(users)], scores, n)
                elif roll < 0.3:
                    self.send_chord(client, f"c{n}")
                else:
                    task_id = f"n{n}"
                    client.send_task("soak.noop", {"sleep_s": self.rng.uniform(0.0, 0.05)}, task_id=task_id)
                    self.submitted.noops.append(task_id)
            if self.stats.deliveries >= restart_at and not self.dispatcher_restarts:
                supervisor.restart_dispatcher()
                self.dispatcher_restarts += 1
            if self.stats.deliveries >= next_push:
                next_push += push_every
                self.push_lease_clock(client)

    def send_chord(self, client: Kit, chord_id: str) -> None:
        members = [Signature("soak.member", {"chord_id": chord_id, "index": i}, f"{chord_id}:{i}") for i in range(3)]
        callback = Signature("soak.join", {"chord_id": chord_id}, f"{chord_id}:join")
        chord(members, callback, chord_id=chord_id).apply_async(client)
        self.submitted.chords[chord_id] = [m.task_id for m in members]

    def send_job(self, client: Kit, uid: str, scores: dict[str, str], n: int) -> None:
        """Create a render job as the API does (reserve credits, then publish); refusals are expected."""
        from singer_tasks.errors import SingerError
        from singer_tasks.jobs import transitions as jobs
        from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
        from singer_tasks.settings import SingerSettings

        settings = SingerSettings.from_env()
        if uid not in scores:
            scores[uid] = f"uploads/{uid}/score-{n}.musicxml"
            client.blobs.put(scores[uid], song(4, self.config.seed + n), content_type="application/xml")
        request = jobs.JobRequest(
            uid=uid, input_path=scores[uid], render_type="preview", voice="builtin", language=None
        )
        try:
            job = jobs.create_job(client.documents, request, settings)
        except SingerError:
            return  # out of credits or too many in flight: what the API answers 402/429 for
        self.submitted.jobs[job.id] = uid
        client.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
        if self.rng.random() < 0.1:  # the user changes their mind at once (only a pending job cancels)
            self.submitted.cancelled_requests += 1
            with contextlib.suppress(SingerError):
                jobs.cancel_job(client.documents, job.id, uid)

    def backlog(self, supervisor: DeliveryPath) -> int:
        """Messages sent but not yet delivered (the mix is sent no faster than the stack takes it)."""
        assert isinstance(supervisor, SoakSupervisor) and supervisor.dispatcher is not None
        counts = supervisor.dispatcher.counts()
        queue = open_queue(self.data_dir / "broker.sqlite3")
        try:
            unrouted = queue.connection().execute("SELECT COUNT(*) FROM messages WHERE routed = 0").fetchone()[0]
        finally:
            queue.close()
        return int(counts.get("ready", 0)) + int(unrouted)

    def push_lease_clock(self, client: Kit) -> None:
        self.clock_takeovers += push_lease_clock(client, self.rng)

    def drain(self, supervisor: DeliveryPath, client: Kit) -> None:
        """Wait until nothing is queued, in flight or held, and every job has ended."""
        assert isinstance(supervisor, SoakSupervisor)
        deadline = time.monotonic() + self.config.drain_timeout_s
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            busy = self.backlog(supervisor) or (
                supervisor.dispatcher and supervisor.dispatcher.counts().get("inflight")
            )
            held = client.documents.query(LEASES, [("status", "in", ["running", "failing", "retry"])])
            open_jobs = [
                j
                for j in self.submitted.jobs
                if (client.documents.get(f"jobs/{j}") or {}).get("status") not in ENDED_JOB
            ]
            if not busy and not held and not open_jobs and not self.unfired_callbacks(client):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 2.0:  # no late redelivery or sweep changed anything
                    return
            else:
                quiet_since = None
            time.sleep(0.2)

    def unfired_callbacks(self, client: Kit) -> list[str]:
        """Chords whose members are all done but whose callback has not ended (the sweep fires those)."""
        statuses = {s.id: s.data.get("status") for s in client.documents.query(LEASES)}
        return [
            c
            for c, members in self.submitted.chords.items()
            if all(statuses.get(m) == "done" for m in members) and statuses.get(f"{c}:join") not in ("done", "failed")
        ]

    # -- disk ----------------------------------------------------------------------------------------
    def clean_up(self, client: Kit, result: SoakResult) -> None:
        """Housekeeping as if every retention period had passed: the data folder's size before and after."""
        result.disk_before = folder_size(self.data_dir)
        documents = client.documents
        blobs = client.blobs
        assert isinstance(documents, LocalDocumentStore) and isinstance(blobs, LocalBlobStore)
        later = time.time() + TIMINGS_RETENTION_S + 3600
        report = housekeeping(
            self.data_dir, documents=documents, blobs=blobs, retention_s=TIMINGS_RETENTION_S, now=later
        )
        result.cleanup = report.as_dict()
        if self.config.renders:
            from singer_tasks.settings import SingerSettings

            rules = SingerSettings.from_env().blob_lifecycle_rules()
            result.cleanup["blobs"] = expire_blobs(blobs, rules, now=time.time() + max(rules.values()) + 3600)
            from taskkit.backends.local.cleanup import compact

            compact(documents.sqlite)
        result.disk_after = folder_size(self.data_dir)


TIMINGS_RETENTION_S = Settings().record_retention_s


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """This process's environment with `values` set (the workers inherit it), restored after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def print_result(config: SoakConfig, result: SoakResult) -> None:
    s = result.stats
    gcp = config.family == "gcp"
    print(f"CPU: {cpu_line()}, {config.workers} workers, seed {config.seed}")
    if gcp:
        print(
            "family: gcp (Firestore emulator, fake-gcs-server, Pub/Sub emulator pull subscriptions relayed "
            "to the workers' push endpoints as wrapped push envelopes)"
        )
    kinds = "no-op tasks, chords" + (", render jobs (built-in voice)" if config.renders else "")
    print(
        f"deliveries: {s.deliveries} ({kinds}: {len(result.submitted.noops)} no-ops, "
        f"{len(result.submitted.chords)} chords, {len(result.submitted.jobs)} jobs)"
    )
    print(
        f"wall: {result.wall_s:.1f} s, {s.deliveries / result.wall_s:.1f} deliveries/s "
        f"(and {s.refused} pushes refused while a killed worker restarted)"
    )
    print(
        f"faults: duplicates {s.duplicated_messages} messages ({s.duplicate_deliveries} extra deliveries); "
        + ", ".join(f"{k} {n}" for k, n in sorted(result.faults.items()) if k != "delivery")
        + f"; {'relay' if gcp else 'dispatcher'} restarts {result.dispatcher_restarts}"
        + f"; lease clock takeovers {result.clock_takeovers}"
    )
    print("delivery outcomes: " + ", ".join(f"{k} {n}" for k, n in s.outcomes.most_common(8)))
    if result.submitted.jobs:
        print(f"cancel requests: {result.submitted.cancelled_requests}")
    v = result.verdict
    print(f"invariant checks: {sum(v.checks.values())} ({len(v.checks)} kinds), violations: {len(v.violations)}")
    for name, count in sorted(v.checks.items()):
        print(f"  {name}: {count}")
    print("tasks failed for good: " + (", ".join(f"{k} {n}" for k, n in v.failures.items()) or "none"))
    for violation in v.violations[:50]:
        print(f"VIOLATION {violation}")
    for note in v.notes[:10]:
        print(f"note: {note}")
    if gcp:  # no data folder: Firestore TTL and bucket lifecycle rules clean up in production
        return
    print(
        f"data folder: {result.disk_before / 1e6:.2f} MB after the soak, {result.disk_after / 1e6:.2f} MB after "
        f"housekeeping past the retention periods ({result.cleanup})"
    )


# ------------------------------------------------------------------------------------ recovery
RECOVERY_SONG_BARS = 8  # four phrases of the built-in voice


class RecoveryStack:
    """`python -m taskkit run` with the render service and production timings (30 s leases, 10..600 s backoff)."""

    def __init__(self, data_dir: Path, workers: int = 2) -> None:
        self.data_dir, self.workers = data_dir, workers
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from taskkit.supervisor import free_port, wait_until_healthy

        port = self.port = free_port()
        env = dict(os.environ, TASKKIT_BACKEND="local", TASKKIT_DATA_DIR=str(self.data_dir), PYTHONPATH=str(REPO))
        env |= {"TASKKIT_LOG_LEVEL": "ERROR", "SINGER_DEFAULT_CREDITS": "1000", "SINGER_MAX_JOBS_IN_FLIGHT": "10"}
        cmd = [sys.executable, "-m", "taskkit", "run", "--app", "singer_tasks.render.tasks:kit", "--web", ""]
        cmd += ["--port", str(port), "--workers", str(self.workers)]
        self.process = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
        process = self.process
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", alive=lambda: process.poll() is None, timeout_s=180)

    def kill(self) -> None:
        """SIGKILL the supervisor and every worker at once, as a power cut would."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(60)


def worker_pid(owner: str) -> int | None:
    """The pid of the worker process whose lease owner id is `owner` (read from its environment)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"TASKKIT_OWNER={owner}".encode() in environ:
            return int(entry.name)
    return None


def start_render(client: Kit, uid: str, seed: int) -> str:
    """Upload a fresh song (a new seed: nothing in the phrase cache) and create its job; the job id."""
    from singer_tasks.jobs import transitions as jobs
    from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
    from singer_tasks.settings import SingerSettings

    key = f"uploads/{uid}/recovery-{seed}.musicxml"
    client.blobs.put(key, song(RECOVERY_SONG_BARS, seed), content_type="application/xml")
    settings = SingerSettings(default_credits=1000, max_jobs_in_flight=10)
    request = jobs.JobRequest(uid=uid, input_path=key, render_type="final", voice="builtin", language=None)
    job = jobs.create_job(client.documents, request, settings)
    client.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
    return job.id


def wait_job(client: Kit, job_id: str, timeout_s: float = 900) -> tuple[str, float]:
    """Wait until the job ended; its status and the time it ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.documents.get(f"jobs/{job_id}") or {}
        if job.get("status") in ENDED_JOB:
            return str(job["status"]), float(job.get("finishedAt") or time.time())
        time.sleep(0.1)
    return "timed out", time.time()


def running_phrase(client: Kit, job_id: str, timeout_s: float = 300) -> Snapshot | None:
    """A running phrase task of the job (its lease), once one runs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for snap in client.documents.query(LEASES, [("status", "==", "running")]):
            if snap.id.startswith(f"{job_id}:") and snap.id.split(":")[1].isdigit():
                return snap
        time.sleep(0.05)
    return None


def recovery(seed: int) -> int:
    """Recovery after a process kill on a real render: the figures for "60 s plus its own render time"."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-recovery-")) / "data"
    stack = RecoveryStack(data_dir)
    client = Kit("recovery-client", settings=Settings(backend="local", data_dir=data_dir))
    print(f"CPU: {cpu_line()}, 2 workers, production timings (30 s leases)")
    failed = False
    try:
        stack.start()
        wait_job(client, start_render(client, "warm", seed))  # the workers load the voice
        job = start_render(client, "base", seed + 1)
        created = time.time()
        status, finished = wait_job(client, job)
        baseline = finished - created
        print(f"undisturbed render ({RECOVERY_SONG_BARS} bars, 4 phrases): {baseline:.1f} s ({status})")

        job = start_render(client, "worker-kill", seed + 2)
        created = time.time()
        lease = running_phrase(client, job)
        pid = worker_pid(str(lease.data.get("owner"))) if lease else None
        if lease is None or pid is None:
            print("worker kill: no running phrase found")
            failed = True
        else:
            os.kill(pid, signal.SIGKILL)
            killed = time.time()
            status, finished = wait_job(client, job)
            extra = finished - created - baseline
            print(
                f"worker SIGKILLed mid-phrase ({lease.id}) at +{killed - created:.1f} s: job {status} "
                f"{finished - created:.1f} s after creation, {extra:.1f} s more than undisturbed (limit 60 s)"
            )
            failed |= status != "completed" or extra > 60

        job = start_render(client, "stack-kill", seed + 3)
        created = time.time()
        lease = running_phrase(client, job)
        stack.kill()
        killed = time.time()
        stack.start()
        restarted = time.time()
        status, finished = wait_job(client, job)
        extra = finished - created - baseline
        print(
            f"whole stack SIGKILLed mid-phrase ({lease.id if lease else '?'}) at +{killed - created:.1f} s, "
            f"serving again {restarted - killed:.1f} s later: job {status} {finished - created:.1f} s after "
            f"creation, {finished - restarted:.1f} s after the restart, {extra:.1f} s more than undisturbed "
            f"({extra - (restarted - killed):.1f} s without the restart itself; limit 60 s)"
        )
        failed |= status != "completed" or extra - (restarted - killed) > 60
    finally:
        stack.stop()
        client.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_soak", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--renders", action="store_true", help="mix in real render jobs of the built-in voice")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recovery", action="store_true", help="measure recovery after kills instead")
    parser.add_argument(
        "--family",
        choices=("local", "gcp"),
        default="local",
        help="local: the embedded stack; gcp: Google's emulators and fake-gcs-server (benchmarks/soak_gcp.py)",
    )
    args = parser.parse_args(argv or [])
    configure_logging(level="ERROR")
    if args.recovery:
        return recovery(args.seed)
    config = SoakConfig(
        deliveries=args.deliveries, workers=args.workers, seed=args.seed, renders=args.renders, family=args.family
    )
    data_dir = Path(tempfile.mkdtemp(prefix="bench-soak-")) / "data"
    if config.family == "gcp":
        from benchmarks.soak_gcp import run_on_emulators

        result = run_on_emulators(data_dir, config)
    else:
        result = Soak(data_dir, config).run()
    print_result(config, result)
    return 1 if result.verdict.violations else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker = argparse.ArgumentParser()
        worker.add_argument("--app", required=True)
        worker.add_argument("--port", type=int, required=True)
        parsed = worker.parse_args(sys.argv[2:])
        serve_faulty_worker(parsed.app, parsed.port)
    else:
        sys.exit(main(sys.argv[1:]))
