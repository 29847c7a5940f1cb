"""The soak on the gcp family: the same faults and invariants as `bench_soak`, on Google's emulators.

Documents live in Google's Firestore emulator, blobs in fake-gcs-server, and messages in Google's
Pub/Sub emulator, all over the wire. The workers are `bench_soak`'s faulty worker processes (killed at
random points, their Firestore and GCS operations failing now and then) on gcp settings, restarted
when they die as Cloud Run starts a fresh instance; nobody releases a killed worker's leases (they
expire after their TTL).

Delivery: the Pub/Sub emulator's PUSH subscriptions stall for minutes once deliveries are nacked (seen
without a retry policy, and with one of 0.1..1 s backoff: with 30% of first deliveries nacked, 22 of 300
messages were still undelivered 50 s after the rest; cut connections alone did not stall it), so the
soak subscribes with PULL subscriptions and a relay POSTs each message to a worker's push endpoint in
Pub/Sub's wrapped push envelope (`taskkit.envelope.encode_envelope`, with the subscription's
`deliveryAttempt`): a 2xx acks it, anything else nacks it (ack deadline 0), and Pub/Sub redelivers it
after the subscription's retry-policy backoff, dead-lettering after max_delivery_attempts to the
dead-letter topic, whose own pull subscription the relay POSTs to the dead-letter endpoint. A worker
that refuses the connection (dead, restarting) is tried again with the same message, as Cloud Run holds
requests while an instance starts. Duplicates: 30% of messages have their ack turned into a nack once or
twice (`DeliveryStats.settle`), so Pub/Sub delivers them again with the same message id. The relay is
restarted half-way: what the old one held is neither acked nor nacked, and Pub/Sub delivers it again
after the ack deadline (30 s here, 90 s with renders: what taskkit's start check allows).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_soak import (
    APP,
    ENDED_JOB,
    RENDER_APP,
    SINGER_ENV,
    TIMINGS,
    WORKER_COMMAND,
    DeliveryPath,
    DeliveryStats,
    Soak,
    SoakConfig,
    SoakResult,
    check_invariants,
    patched_environ,
)
from taskkit import Kit, Settings
from taskkit.backends.local.dispatcher import ACK_STATUSES, ENDPOINT_DOWN
from taskkit.cpus import cpu_quota
from taskkit.envelope import encode_envelope
from taskkit.lease import LEASES
from taskkit.lifecycle import stop_processes
from taskkit.supervisor import WorkerProcess, free_port, wait_until_healthy
from taskkit.worker import DEAD_LETTER_PATH, PUSH_PATH, SWEEP_PATH

# A message the relay held when it was restarted comes back after the ack deadline: keep it short
# (taskkit refuses to start unless the longest time limit plus margin fits: 20 s soak tasks, 60 s renders).
ACK_DEADLINE_S = 30
RENDER_ACK_DEADLINE_S = int(SINGER_ENV["SINGER_RENDER_TIME_LIMIT_S"]) + 30
IDLE_PULL_S = 0.05  # the relay's pause after a failed pull
REFUSED_RETRY_S = 0.2  # a refused connection (worker restarting) is retried after this long
QUIET_S = 3.0  # the end: everything settled this long, so no late redelivery or sweep changed anything


@dataclass(frozen=True)
class EmulatorHosts:
    """Where the three stand-ins answer; their clients find them through Google's own variables."""

    firestore: str  # host:port
    pubsub: str  # host:port
    storage: str  # URL

    def environment(self) -> dict[str, str]:
        return {
            "FIRESTORE_EMULATOR_HOST": self.firestore,
            "PUBSUB_EMULATOR_HOST": self.pubsub,
            "STORAGE_EMULATOR_HOST": self.storage,
        }


@contextlib.contextmanager
def started_emulators() -> Iterator[EmulatorHosts]:
    """Start the three emulators as tests/emulators.py does (own process groups, free ports)."""
    from tests import emulators

    binaries = {
        "Google's Firestore emulator": emulators.firestore_binary(),
        "Google's Pub/Sub emulator": emulators.pubsub_binary(),
        "fake-gcs-server": emulators.fake_gcs_binary(),
    }
    absent = [name for name, path in binaries.items() if path is None]
    if absent:
        raise SystemExit(f"soak --family gcp needs {', '.join(absent)} (see docs/testing.md)")
    firestore, pubsub, gcs = binaries.values()
    assert firestore is not None and pubsub is not None and gcs is not None
    with (
        emulators.firestore_emulator(firestore) as f,
        emulators.pubsub_emulator(pubsub) as p,
        emulators.fake_gcs(gcs) as g,
    ):
        yield EmulatorHosts(f.host_port, p.host_port, g.url)


def run_on_emulators(data_dir: Path, config: SoakConfig) -> SoakResult:
    """`python -m benchmarks soak --family gcp`: start the emulators, soak, stop them."""
    with started_emulators() as hosts:
        return GcpSoak(data_dir, config, hosts).run()


# ------------------------------------------------------------------------------------------ the relay
@dataclass(frozen=True)
class Route:
    """A pull subscription and the worker path its messages are POSTed to."""

    subscription: str  # projects/P/subscriptions/S
    path: str  # PUSH_PATH or DEAD_LETTER_PATH
    duplicates: bool  # whether acks may be turned into redeliveries (push subscriptions only)


@dataclass
class RelayLedger:
    """What every relay of one soak saw (it survives a relay restart)."""

    stats: DeliveryStats
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: set[str] = field(default_factory=set)  # task ids that got a 2xx at least once
    in_hand: int = 0  # messages pulled and not yet settled
    last_pull: float = 0.0  # monotonic time a message was last pulled


class Relay:
    """Pulls a message at a time and POSTs it to a worker, one request at a time per worker (concurrency 1).

    Each worker has a thread per push subscription, and each dead-letter subscription one thread (it
    posts to the first worker): the emulator's pull waits about 2 s on an empty subscription, so no
    thread pulls from two.
    """

    def __init__(
        self, subscriber: Any, routes: list[Route], worker_urls: list[str], ledger: RelayLedger, ack_deadline_s: int
    ) -> None:
        self.subscriber, self.ledger = subscriber, ledger
        self.ack_deadline_s = ack_deadline_s
        self.http = httpx.Client()
        self._stop = threading.Event()
        self._busy = {url: threading.Lock() for url in worker_urls}
        pairs = [(r, url) for r in routes if r.duplicates for url in worker_urls]
        pairs += [(r, worker_urls[0]) for r in routes if not r.duplicates]
        self.threads = [
            threading.Thread(target=self._serve, args=pair, name=f"soak-relay-{i}", daemon=True)
            for i, pair in enumerate(pairs)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Stop as a crash would: a message in hand is neither acked nor nacked."""
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout=self.ack_deadline_s + 5)
        self.http.close()

    def _serve(self, route: Route, worker_url: str) -> None:
        while not self._stop.is_set():
            try:
                response = self.subscriber.pull(subscription=route.subscription, max_messages=1, timeout=10)
            except Exception:  # the emulator busy: pull again
                time.sleep(IDLE_PULL_S)
                continue
            for received in response.received_messages:
                with self.ledger.lock:
                    self.ledger.in_hand += 1
                    self.ledger.last_pull = time.monotonic()
                try:
                    with self._busy[worker_url]:
                        self._relay(received, route, worker_url)
                finally:
                    with self.ledger.lock:
                        self.ledger.in_hand -= 1

    def _relay(self, received: Any, route: Route, worker_url: str) -> None:
        message = received.message
        body = encode_envelope(
            bytes(message.data),
            dict(message.attributes),
            message_id=message.message_id,
            subscription=route.subscription,
            publish_time=message.publish_time.timestamp(),
            delivery_attempt=received.delivery_attempt or None,
        )
        acked, outcome = self._post(worker_url + route.path, body, route)
        if self._stop.is_set():
            return  # the relay "crashed" with the message in hand: Pub/Sub redelivers after the deadline
        again = False
        if route.duplicates and outcome != ENDPOINT_DOWN:  # refusals were counted as they happened
            again = self.ledger.stats.settle(f"{message.message_id}/{route.subscription}", acked, outcome)
            if acked:
                with self.ledger.lock:
                    self.ledger.answered.add(message.attributes.get("id", ""))
        with contextlib.suppress(Exception):  # refused by the emulator: the message returns after its deadline
            if acked and not again:
                self.subscriber.acknowledge(subscription=route.subscription, ack_ids=[received.ack_id])
            else:  # a nack: Pub/Sub redelivers after the retry policy's backoff
                self.subscriber.modify_ack_deadline(
                    subscription=route.subscription, ack_ids=[received.ack_id], ack_deadline_seconds=0
                )

    def _post(self, url: str, body: bytes, route: Route) -> tuple[bool, str]:
        """POST until the worker answers or the ack deadline nears; (acked, outcome)."""
        give_up = time.monotonic() + self.ack_deadline_s - 5
        while True:
            try:
                response = self.http.post(
                    url, content=body, headers={"content-type": "application/json"}, timeout=self.ack_deadline_s
                )
            except httpx.ConnectError:
                if route.duplicates:
                    self.ledger.stats.settle("", False, ENDPOINT_DOWN)  # counted as refused, not a delivery
                if self._stop.is_set() or time.monotonic() > give_up:
                    return False, ENDPOINT_DOWN
                time.sleep(REFUSED_RETRY_S)
                continue
            except httpx.TimeoutException:
                return False, "ack deadline exceeded"
            except httpx.HTTPError as e:  # the worker died mid-request
                return False, f"{type(e).__name__}: {e}"
            return response.status_code in ACK_STATUSES, str(response.status_code)


# ------------------------------------------------------------------------------------- the stack
class GcpStack:
    """The workers, their Pub/Sub subscriptions, the relay and a sweep schedule, on one project."""

    def __init__(self, settings: Settings, app_ref: str, workers: int, ledger: RelayLedger) -> None:
        self.settings, self.app_ref, self.ledger = settings, app_ref, ledger
        self.workers = [
            WorkerProcess(i, free_port(), self.worker_env(i, workers), app_ref, WORKER_COMMAND) for i in range(workers)
        ]
        self.routes: list[Route] = []
        self.subscriber: Any = None
        self.relay: Relay | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @staticmethod
    def worker_env(index: int, count: int) -> dict[str, str]:
        """The environment (gcp settings, timings, fault plan: see GcpSoak.environment), one CPU share."""
        env = dict(os.environ) | {"TASKKIT_WORKER_INDEX": str(index)}
        env["TASKKIT_WORKER_CPUS"] = f"{max(1.0, cpu_quota() / count):g}"
        env.pop("TASKKIT_OWNER", None)
        return env

    def start(self) -> None:
        from google.cloud import pubsub_v1

        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            wait_until_healthy(worker.url + "/healthz", alive=worker.alive, timeout_s=120)
        topics = list(httpx.get(self.workers[0].url + "/healthz", timeout=10).json()["topics"])
        self.subscriber = pubsub_v1.SubscriberClient()
        self.routes = self.subscribe(topics)
        self.relay = self.make_relay()
        self.relay.start()
        for target, name in ((self._watch_workers, "soak-respawn"), (self._schedule_sweeps, "soak-sweeps")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def subscribe(self, topics: list[str]) -> list[Route]:
        """Each topic, its dead-letter topic, and a pull subscription on both, set as production's push ones."""
        from google.cloud import pubsub_v1
        from google.protobuf import duration_pb2

        s = self.settings
        project = s.project
        publisher = pubsub_v1.PublisherClient()
        routes = []

        def duration(seconds: float) -> duration_pb2.Duration:
            return duration_pb2.Duration(seconds=int(seconds), nanos=int(seconds % 1 * 1e9))

        for topic in topics:
            dead = s.dead_letter_topic(topic)
            for name in (topic, dead):
                publisher.create_topic(name=publisher.topic_path(project, name))
            push = f"projects/{project}/subscriptions/{topic}-pull"
            self.subscriber.create_subscription(
                request={
                    "name": push,
                    "topic": publisher.topic_path(project, topic),
                    "ack_deadline_seconds": s.ack_deadline_s,
                    "dead_letter_policy": {
                        "dead_letter_topic": publisher.topic_path(project, dead),
                        "max_delivery_attempts": s.max_delivery_attempts,
                    },
                    "retry_policy": {
                        "minimum_backoff": duration(s.min_backoff_s),
                        "maximum_backoff": duration(s.max_backoff_s),
                    },
                }
            )
            dead_sub = f"projects/{project}/subscriptions/{dead}-pull"
            self.subscriber.create_subscription(
                request={
                    "name": dead_sub,
                    "topic": publisher.topic_path(project, dead),
                    "ack_deadline_seconds": s.ack_deadline_s,
                }
            )
            routes += [Route(push, PUSH_PATH, True), Route(dead_sub, DEAD_LETTER_PATH, False)]
        publisher.stop()
        return routes

    def make_relay(self) -> Relay:
        urls = [w.url for w in self.workers]
        return Relay(self.subscriber, self.routes, urls, self.ledger, self.settings.ack_deadline_s)

    def restart_dispatcher(self) -> None:
        """The relay crashes and a fresh one starts (DeliveryPath)."""
        if self.relay is not None:
            self.relay.stop()
        self.relay = self.make_relay()
        self.relay.start()

    def _watch_workers(self) -> None:
        # A dead worker starts again at once, as Cloud Run starts an instance; its leases simply expire.
        while not self._stop.wait(0.1):
            for worker in self.workers:
                if not worker.alive() and not self._stop.is_set():
                    worker.restarts += 1
                    worker.start()

    def _schedule_sweeps(self) -> None:
        # What Cloud Scheduler does in production: POST the sweep (complete chords fired) to a worker.
        while not self._stop.wait(self.settings.sweep_interval_s):
            live = [w for w in self.workers if w.alive()]
            if live:
                with contextlib.suppress(httpx.HTTPError):  # the next round sweeps again
                    httpx.post(live[0].url + SWEEP_PATH, timeout=self.settings.ack_deadline_s)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.relay is not None:
            self.relay.stop()
        stop_processes([w.process for w in self.workers if w.process is not None], 10.0)
        if self.subscriber is not None:
            self.subscriber.close()


# --------------------------------------------------------------------------------------- the soak
class GcpSoak(Soak):
    """One soak on a fresh project of the emulators (the fault log goes next to `data_dir`)."""

    def __init__(self, data_dir: Path, config: SoakConfig, hosts: EmulatorHosts) -> None:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(data_dir, config)
        self.hosts = hosts
        self.project = f"soak-{uuid.uuid4().hex[:8]}"
        self.bucket = f"soak-{uuid.uuid4().hex[:8]}"
        self.ledger = RelayLedger(self.stats)
        self.timings = TIMINGS | {"ack_deadline_s": RENDER_ACK_DEADLINE_S if config.renders else ACK_DEADLINE_S}

    def settings(self) -> Settings:
        return Settings(backend="gcp", project=self.project, bucket=self.bucket, push_auth=False, **self.timings)

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """The local soak's worker environment, switched to the gcp family on this soak's project."""
        values = {f"TASKKIT_{k.upper()}": str(v) for k, v in self.timings.items()}
        values |= self.hosts.environment() | {
            "TASKKIT_BACKEND": "gcp",
            "TASKKIT_PROJECT": self.project,
            "TASKKIT_BUCKET": self.bucket,
            "TASKKIT_PUSH_AUTH": "false",
        }
        with super().environment(), patched_environ(values):
            yield

    def _run(self) -> SoakResult:
        self.create_bucket()
        app = RENDER_APP if self.config.renders else APP
        stack = GcpStack(self.settings(), app, self.config.workers, self.ledger)
        client = Kit("soak-gcp-client", settings=self.settings())
        begin = time.time()
        try:
            stack.start()
            self.drive(stack, client)
            self.drain(stack, client)
        finally:
            stack.stop()
        wall = time.time() - begin
        verdict = check_invariants(client.documents, None, self.submitted)
        client.close()
        return self.result(verdict, wall)

    def create_bucket(self) -> None:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.hosts.storage},
        )
        client.create_bucket(self.bucket)

    def task_ids(self) -> list[str]:
        """The ids of every task the soak sent itself (callbacks are sent by the workers)."""
        return [*self.submitted.noops, *(m for ms in self.submitted.chords.values() for m in ms)]

    def backlog(self, supervisor: DeliveryPath) -> int:
        """Tasks sent that no worker has answered 2xx yet (Pub/Sub's emulator has no backlog metric)."""
        with self.ledger.lock:
            answered = set(self.ledger.answered)
        return sum(1 for task_id in self.task_ids() if task_id not in answered)

    def drain(self, supervisor: DeliveryPath, client: Kit) -> None:
        """Wait until every task was answered, nothing is in the relay's hands or held, every job ended."""
        deadline = time.monotonic() + self.config.drain_timeout_s
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            with self.ledger.lock:
                in_hand, recent = self.ledger.in_hand, time.monotonic() - self.ledger.last_pull < QUIET_S
            held = client.documents.query(LEASES, [("status", "in", ["running", "failing", "retry"])])
            open_jobs = [
                j
                for j in self.submitted.jobs
                if (client.documents.get(f"jobs/{j}") or {}).get("status") not in ENDED_JOB
            ]
            settled = not (self.backlog(supervisor) or in_hand or recent or held or open_jobs)
            if settled and not self.unfired_callbacks(client):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > QUIET_S:
                    return
            else:
                quiet_since = None
            time.sleep(0.5)
