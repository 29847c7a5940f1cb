"""Running one push delivery: decode, take the lease, run, record the outcome, answer.

HTTP-free, so the same logic serves the push endpoint, the dead-letter endpoint and tests. The push
contract (docs/push-contract.md, "Outcome -> HTTP answer"): success or a duplicate of a finished task
acks; a permanent failure is recorded where its owner sees it (failure hook) and acks; a transient
failure, a live lease elsewhere or a stale attempt nacks. Nothing undecodable is dropped: it is kept
in `taskkit_dead_letters`.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog

from taskkit import canvas
from taskkit.app import Kit
from taskkit.context import TaskContext, activate, deactivate
from taskkit.envelope import PushEnvelope, decode_envelope
from taskkit.errors import DecodeError, EnqueueError, LeaseLost, Reject
from taskkit.heartbeat import Heartbeat
from taskkit.lease import Acquired, Busy, Exhausted, Finished, Lease
from taskkit.message import TaskMessage, to_json
from taskkit.outcome import Answer, Verdict, classify
from taskkit.task import Failure, Task

DEAD_LETTERS = "taskkit_dead_letters"
_MAX_KEPT_BYTES = 512 * 1024  # a Firestore document holds at most 1 MiB
log = structlog.get_logger("taskkit.worker")


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery: what to answer and why."""

    answer: Answer
    detail: str = ""
    retry_after_s: float | None = None


class Executor:
    """Runs deliveries for one worker process (one owner identity)."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.owner = kit.settings.owner
        self.shutdown = threading.Event()
        self.active: dict[str, TaskContext] = {}
        self._active_lock = threading.Lock()

    # -- entry points -------------------------------------------------------------------------------
    def handle_push(self, body: bytes) -> Delivery:
        """Handle one push request body."""
        if self.shutdown.is_set():
            return Delivery(Answer.SHUTTING_DOWN, "worker is shutting down")
        decoded = self._decode(body, "push")
        if isinstance(decoded, Delivery):
            return decoded
        envelope, message, task = decoded
        with structlog.contextvars.bound_contextvars(
            task=message.task, task_id=message.id, delivery_attempt=envelope.delivery_attempt
        ):
            return self._run(task, message)

    def handle_dead_letter(self, body: bytes) -> Delivery:
        """Handle one delivery from the dead-letter topic: keep it, and fail its task unless done or live."""
        decoded = self._decode(body, "dead-letter")
        if isinstance(decoded, Delivery):
            return decoded
        envelope, message, task = decoded
        count = envelope.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "?")
        reason = f"undeliverable after {count} deliveries"
        self.keep_dead_letter(body, reason=reason, source="dead-letter", message=message, envelope=envelope)
        with structlog.contextvars.bound_contextvars(task=message.task, task_id=message.id):
            result = self._acquire(task, message, fail=True)
            if isinstance(result, Exhausted):
                return self._fail(task, message, result.lease, "dead_lettered", reason)
            if isinstance(result, Finished):
                return Delivery(Answer.DUPLICATE, f"task already {result.status}")
            if isinstance(result, Busy):
                return Delivery(Answer.BUSY, result.reason, result.retry_after_s)
            raise AssertionError(f"unexpected lease result {result!r}")

    def begin_shutdown(self) -> None:
        """SIGTERM: stop taking deliveries and release held leases (same fence, expiry now)."""
        self.shutdown.set()
        with self._active_lock:
            held = [ctx.lease for ctx in self.active.values()]
        for lease in held:
            try:
                self.kit.leases.release(lease, error="worker shutting down")
                log.info("lease.released", task_id=lease.task_id, fence=lease.fence)
            except Exception:  # shutting down: the lease expires on its own anyway
                log.exception("lease.release_failed", task_id=lease.task_id)

    # -- the attempt --------------------------------------------------------------------------------
    @staticmethod
    def _message(envelope: PushEnvelope) -> TaskMessage:
        if envelope.data is None:
            raise DecodeError("push message has no data")
        return TaskMessage.decode(envelope.data)

    def _decode(self, body: bytes, source: str) -> tuple[PushEnvelope, TaskMessage, Task[Any, Any]] | Delivery:
        """The envelope, message and task of a delivery, or the answer for one that cannot run (kept)."""
        envelope: PushEnvelope | None = None
        try:
            envelope = decode_envelope(body)
            message = self._message(envelope)
        except DecodeError as e:
            self.keep_dead_letter(body, reason=e.reason, source=source, envelope=envelope)
            return Delivery(Answer.FAILED, f"undecodable message kept: {e.reason}")
        task = self.kit.registry.get(message.task)
        if task is None:
            reason = f"unknown task {message.task!r}"
            self.keep_dead_letter(body, reason=reason, source=source, message=message, envelope=envelope)
            return Delivery(Answer.FAILED, f"{reason} kept")
        return envelope, message, task

    def _acquire(self, task: Task[Any, Any], message: TaskMessage, *, fail: bool = False) -> Any:
        chord_id = (message.parent or {}).get("chord")
        return self.kit.leases.acquire(
            message.id,
            task_name=task.name,
            owner=self.owner,
            ttl_s=task.options.lease_ttl(self.kit.settings),
            max_attempts=task.options.max_attempts,
            extra={"chord": chord_id} if isinstance(chord_id, str) else None,
            fail=fail,
        )

    def _run(self, task: Task[Any, Any], message: TaskMessage) -> Delivery:
        result = self._acquire(task, message)
        if isinstance(result, Finished):
            if result.status == "done":
                self._after_done(message)  # heal a chord whose member died before firing it
            return Delivery(Answer.DUPLICATE, f"task already {result.status}")
        if isinstance(result, Busy):
            return Delivery(Answer.BUSY, result.reason, result.retry_after_s)
        if isinstance(result, Exhausted):
            error = result.record.get("error") or "no error recorded"
            text = f"gave up after {result.lease.attempt} attempts: {error}"
            return self._fail(task, message, result.lease, "max_attempts", text)
        assert isinstance(result, Acquired)
        return self._attempt(task, message, result.lease)

    def _context(self, task: Task[Any, Any], message: TaskMessage, lease: Lease) -> TaskContext:
        return TaskContext(message, lease, self.kit.leases, task.options.time_limit_s, self.shutdown)

    def _attempt(self, task: Task[Any, Any], message: TaskMessage, lease: Lease) -> Delivery:
        ctx = self._context(task, message, lease)
        log.info("task.started", attempt=lease.attempt, fence=lease.fence)
        heartbeat = Heartbeat(self.kit.leases, lease, task.options.lease_ttl(self.kit.settings))
        ctx.lost = lambda: heartbeat.lost
        token = activate(ctx)
        with self._active_lock:
            self.active[message.id] = ctx
        try:
            heartbeat.__enter__()
            try:
                arguments = task.bind(**message.kwargs)
            except EnqueueError as e:
                raise Reject(str(e), code="bad_arguments") from e
            value = task.fn(**arguments)
            self._publish_next(message)
            self.kit.leases.finish(lease, result=_storable(value))
        except Exception as exc:
            heartbeat.stop()  # a retry releases the lease; a failure keeps it in `failing` on its own
            return self._failed_attempt(task, message, lease, exc)
        finally:
            heartbeat.stop()
            with self._active_lock:
                self.active.pop(message.id, None)
            deactivate(token)
        log.info("task.succeeded", attempt=lease.attempt, seconds=round(time.monotonic() - ctx.started_at, 3))
        self._after_done(message)
        return Delivery(Answer.DONE)

    def _failed_attempt(self, task: Task[Any, Any], message: TaskMessage, lease: Lease, exc: Exception) -> Delivery:
        verdict = classify(exc, task.options)
        if verdict.verdict is Verdict.STALE:
            log.warning("task.stale", error=verdict.message)
            return Delivery(Answer.STALE, verdict.message)
        if verdict.verdict is Verdict.PERMANENT or lease.attempt >= task.options.max_attempts:
            log.error("task.failed", code=verdict.code, error=verdict.message, attempt=lease.attempt, exc_info=exc)
            return self._fail(task, message, lease, verdict.code, verdict.message)
        delay = verdict.delay_s if verdict.delay_s is not None else task.options.backoff_s(lease.attempt)
        log.warning("task.retry", code=verdict.code, error=verdict.message, attempt=lease.attempt, retry_in_s=delay)
        try:
            self.kit.leases.release(lease, retry_at=time.time() + delay, error=f"{verdict.code}: {verdict.message}")
        except Exception:  # the lease expires on its own; the redelivery takes it over then
            log.exception("lease.release_failed")
        return Delivery(Answer.RETRY, verdict.message, delay)

    def _fail(self, task: Task[Any, Any], message: TaskMessage, lease: Lease, code: str, text: str) -> Delivery:
        """Run the failure hook under `lease`, keep the message, then record the task failed."""
        failure = Failure(task.name, message.id, dict(message.kwargs), code, text, lease.attempt)
        if task.options.on_failure is not None:
            token = activate(self._context(task, message, lease))
            try:
                task.options.on_failure(failure)
            except LeaseLost as e:
                return Delivery(Answer.STALE, str(e))
            except Exception as e:
                log.exception("task.failure_hook_failed", code=code)
                self.kit.leases.release(lease, error=f"failure hook: {e}")
                return Delivery(Answer.RETRY, f"failure hook failed: {e}")
            finally:
                deactivate(token)
        self.keep_dead_letter(message.encode(), reason=f"{code}: {text}", source="failed", message=message)
        try:
            self.kit.leases.mark_failed(lease, error={"code": code, "message": text})
        except LeaseLost as e:
            return Delivery(Answer.STALE, str(e))
        chord_id = (message.parent or {}).get("chord")
        if isinstance(chord_id, str):
            canvas.mark_chord_failed(self.kit, chord_id, f"member {message.id} failed: {code}")
        log.error("task.failed_for_good", code=code, error=text)
        return Delivery(Answer.FAILED, f"{code}: {text}")

    def _publish_next(self, message: TaskMessage) -> None:
        links = (message.parent or {}).get("chain") or []
        if links:
            nxt = canvas.Signature.from_dict(links[0])
            rest = links[1:]
            self.kit.publish(nxt.message({"chain": rest} if rest else None), topic=nxt.topic)

    def _after_done(self, message: TaskMessage) -> None:
        chord_id = (message.parent or {}).get("chord")
        if isinstance(chord_id, str):
            try:
                canvas.maybe_fire_chord(self.kit, chord_id)
            except Exception:  # the sweep fires it later
                log.exception("chord.fire_failed", chord=chord_id)

    # -- keeping what cannot run --------------------------------------------------------------------
    def keep_dead_letter(
        self,
        raw: bytes,
        *,
        reason: str,
        source: str,
        message: TaskMessage | None = None,
        envelope: PushEnvelope | None = None,
    ) -> None:
        """Keep a message that cannot (or can no longer) run, with the reason.

        One record per message (its broker id), or per task id for failures, so redeliveries of the
        same message do not pile up copies.
        """
        if source == "failed" and message is not None:
            identity = message.id
        elif envelope is not None and envelope.message_id:
            identity = envelope.message_id
        else:
            identity = hashlib.sha256(raw).hexdigest()[:40]
        key = f"{source}-{identity}"
        now = time.time()
        kept = raw[:_MAX_KEPT_BYTES]
        record: dict[str, Any] = {
            "source": source,
            "reason": reason,
            "raw_b64": base64.b64encode(kept).decode("ascii"),
            "truncated": len(raw) > len(kept),
            "task": message.task if message else None,
            "task_id": message.id if message else None,
            "message_id": envelope.message_id if envelope else None,
            "createdAt": now,
            "expireAt": now + self.kit.settings.record_retention_s,
        }
        self.kit.documents.create(f"{DEAD_LETTERS}/{key}", record)
        log.warning("message.kept", source=source, reason=reason, dead_letter=key)


def _storable(value: Any) -> Any:
    """A task's return value if it is small JSON (kept in its lease record), else None."""
    if value is None:
        return None
    try:
        text = to_json(value, "task result")
    except Exception:
        return None
    return value if len(text) <= 16 * 1024 else None
