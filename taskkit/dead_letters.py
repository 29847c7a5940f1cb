"""Operator commands for kept dead letters: list, show and replay (`python -m taskkit dead-letters ...`).

Records live in `taskkit_dead_letters` (written by `Executor.keep_dead_letter`): `raw_b64` is either a
wrapped push body (sources `push` and `dead-letter`) or a bare task message (source `failed`). A replay
publishes the original task message again under the SAME task id, so the task's lease decides whether it
runs: a `done` task acks the replay as a duplicate, a task still in retry runs. A task that failed for
good is finished too, so its replay is acked without running unless the operator asks for a rerun
(`rerun_failed`), which first resets its lease to `retry` with no attempts used. Replayed records are
marked (`replayedAt`, `replayCount`), never deleted; they expire with their `expireAt` like the rest.

Works on both backend families: only the DocumentStore and `Kit.publish` are used.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from taskkit.app import Kit
from taskkit.backends.base import Document, Snapshot, Transaction
from taskkit.envelope import decode_envelope
from taskkit.errors import BackendError, DecodeError, TaskkitError
from taskkit.executor import DEAD_LETTERS
from taskkit.lease import lease_path
from taskkit.message import TaskMessage

DEFAULT_LIMIT = 50
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class DeadLetterNotFound(TaskkitError):
    """No dead-letter record has this id."""


class NotReplayable(TaskkitError):
    """The record holds no usable task message (undecodable, truncated or empty)."""


@dataclass(frozen=True)
class DeadLetter:
    """One kept record: its id (document id) and its fields."""

    id: str
    record: Document

    @property
    def raw(self) -> bytes:
        """The kept bytes (a wrapped push body or a bare task message)."""
        return base64.b64decode(str(self.record.get("raw_b64") or ""))

    def message(self) -> TaskMessage:
        """The task message inside the record; NotReplayable says why there is none."""
        if self.record.get("truncated"):
            raise NotReplayable(f"dead letter {self.id} was truncated when kept; its message cannot be rebuilt")
        try:
            raw = self.raw
        except (binascii.Error, ValueError) as e:
            raise NotReplayable(f"dead letter {self.id} has no valid raw_b64: {e}") from e
        return decode_message(raw, self.id)

    def as_dict(self) -> dict[str, Any]:
        """The record with its id, for JSON output."""
        return {"id": self.id, **self.record}


def decode_message(raw: bytes, what: str = "message") -> TaskMessage:
    """Extract the task message from a wrapped push body, or parse `raw` as a bare task message."""
    try:
        envelope = decode_envelope(raw)
    except DecodeError:
        envelope = None
    try:
        if envelope is not None:
            if envelope.data is None:
                raise DecodeError("push message has no data", raw)
            return TaskMessage.decode(envelope.data)
        return TaskMessage.decode(raw)
    except DecodeError as e:
        raise NotReplayable(f"{what} holds no task message: {e.reason}") from e


def _path(dead_letter_id: str) -> str:
    return f"{DEAD_LETTERS}/{dead_letter_id}"


def list_dead_letters(kit: Kit, limit: int | None = DEFAULT_LIMIT, task: str | None = None) -> list[DeadLetter]:
    """Kept records, newest first, at most `limit`, only those of task `task` when given.

    With a task filter the records are sorted here rather than by the store, so Firestore needs no
    composite index (a task's dead letters are few: they expire after the retention period).
    """
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    snapshots: list[Snapshot]
    if task:
        snapshots = kit.documents.query(DEAD_LETTERS, [("task", "==", task)])
        snapshots.sort(key=lambda s: float(s.data.get("createdAt") or 0.0), reverse=True)
        snapshots = snapshots[:limit] if limit is not None else snapshots
    else:
        snapshots = kit.documents.query(DEAD_LETTERS, order_by=[("createdAt", "desc")], limit=limit)
    return [DeadLetter(s.id, s.data) for s in snapshots]


def get_dead_letter(kit: Kit, dead_letter_id: str) -> DeadLetter:
    """The record with this id; DeadLetterNotFound if there is none (or the id cannot be one)."""
    try:
        record = kit.documents.get(_path(dead_letter_id))
    except BackendError as e:  # not a valid document id
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id!r}: {e}") from e
    if record is None:
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id!r} in {DEAD_LETTERS}")
    return DeadLetter(dead_letter_id, record)


def lease_status(kit: Kit, task_id: str) -> str | None:
    """The status of a task's lease record (None when it has none)."""
    record = kit.leases.get(task_id)
    return None if record is None else str(record.get("status"))


def reset_failed_lease(kit: Kit, task_id: str) -> bool:
    """In one transaction: turn a `failed` lease into `retry` with no attempts used, so it may run again.

    The fence is kept (it only ever grows), the last error moves to `previousError`. Returns False,
    changing nothing, when the lease is not `failed` (absent, done, running, ...).
    """
    path = lease_path(task_id)

    def reset(tx: Transaction) -> bool:
        record = tx.get(path)
        if record is None or record.get("status") != "failed":
            return False
        now = time.time()
        fresh = {k: v for k, v in record.items() if k not in ("error", "finishedAt", "result")}
        fresh.update(
            status="retry",
            attempts=0,
            retry_at=now,
            lease_until=now,
            previousError=record.get("error"),
            rerunCount=int(record.get("rerunCount") or 0) + 1,
            updatedAt=now,
            expireAt=now + kit.settings.record_retention_s,
        )
        tx.set(path, fresh)
        return True

    return kit.documents.transaction(reset)


def _mark_replayed(kit: Kit, dead_letter_id: str, task_id: str) -> None:
    path = _path(dead_letter_id)

    def mark(tx: Transaction) -> None:
        record = tx.get(path)
        if record is None:  # expired meanwhile: nothing to mark
            return
        tx.update(
            path,
            {"replayedAt": time.time(), "replayCount": int(record.get("replayCount") or 0) + 1, "replayedAs": task_id},
        )

    kit.documents.transaction(mark)


def replay(kit: Kit, dead_letter_id: str, rerun_failed: bool = False, *, topic: str | None = None) -> str:
    """Publish the record's task message again under its own task id; returns the task id.

    The topic is `topic`, else the registered task's own topic, else the settings' default topic. With
    `rerun_failed`, a task whose lease says `failed` is first reset to `retry` (attempts 0) so the
    replay runs it again; without it such a replay is acked as a duplicate. The record is marked
    (`replayedAt`, `replayCount`). DeadLetterNotFound or NotReplayable when there is nothing to send.
    """
    dead = get_dead_letter(kit, dead_letter_id)
    message = dead.message()
    if rerun_failed:
        reset_failed_lease(kit, message.id)
    kit.publish(message, topic=topic)
    _mark_replayed(kit, dead_letter_id, message.id)
    return message.id


# -- command line -------------------------------------------------------------------------------------


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return datetime.fromtimestamp(float(stamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show(kit: Kit, dead: DeadLetter) -> dict[str, Any]:
    record = dict(dead.record)
    out: dict[str, Any] = {"id": dead.id, "reason": record.get("reason"), "record": record}
    try:
        message = dead.message()
    except NotReplayable as e:
        out["message"] = None
        out["message_error"] = str(e)
        try:
            out["raw"] = dead.raw.decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            out["raw"] = None
    else:
        out["message"] = message.to_dict()
        out["lease_status"] = lease_status(kit, message.id)
    return out


def _print_list(items: list[DeadLetter], as_json: bool) -> None:
    if as_json:
        print(json.dumps([d.as_dict() for d in items], indent=2, default=str))
        return
    if not items:
        print("no dead letters")
        return
    for d in items:
        r = d.record
        replayed = f"replayed x{r.get('replayCount')}" if r.get("replayCount") else "-"
        reason = str(r.get("reason") or "")
        reason = reason if len(reason) <= 80 else reason[:77] + "..."
        cells = [d.id, _when(r.get("createdAt")), str(r.get("source")), str(r.get("task")), str(r.get("task_id"))]
        print("  ".join([*cells, replayed, reason]))


def _replay_one(kit: Kit, dead_letter_id: str, args: argparse.Namespace) -> str:
    task_id = replay(kit, dead_letter_id, rerun_failed=args.rerun_failed, topic=args.topic)
    status = lease_status(kit, task_id)
    note = ""
    if status == "done":
        note = " (its task is done: the replay will be acked as a duplicate)"
    elif status == "failed":
        note = " (its task failed for good: the replay will be acked without running; use --rerun-failed)"
    print(f"replayed {dead_letter_id} as task {task_id}{note}")
    return task_id


def run_command(args: argparse.Namespace, kit: Kit) -> int:
    """Run a parsed `dead-letters` command against `kit`; returns the exit status."""
    try:
        if args.action == "list":
            _print_list(list_dead_letters(kit, args.limit, args.task), args.json)
            return EXIT_OK
        if args.action == "show":
            print(json.dumps(_show(kit, get_dead_letter(kit, args.id)), indent=2, default=str))
            return EXIT_OK
        if args.all == (args.id is not None):
            print("taskkit: dead-letters replay needs a dead letter ID or --all (not both)", file=sys.stderr)
            return EXIT_USAGE
        if args.id is not None:
            _replay_one(kit, args.id, args)
            return EXIT_OK
        status, seen = EXIT_OK, set()
        for dead in list_dead_letters(kit, args.limit, args.task):
            if dead.record.get("replayCount") and not args.again:
                continue
            task_id = dead.record.get("task_id")
            if task_id and task_id in seen:  # the same task kept twice (dead-letter and failed records)
                _mark_replayed(kit, dead.id, str(task_id))
                continue
            try:
                seen.add(_replay_one(kit, dead.id, args))
            except NotReplayable as e:
                print(f"taskkit: skipped {dead.id}: {e}", file=sys.stderr)
                status = EXIT_FAILED
        return status
    except DeadLetterNotFound as e:
        print(f"taskkit: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NotReplayable as e:
        print(f"taskkit: cannot replay: {e}", file=sys.stderr)
        return EXIT_FAILED


def build_kit(args: argparse.Namespace) -> Kit:
    """The application's Kit when one is named (--app or [tool.taskkit] app), else a bare Kit.

    A bare Kit (settings from the environment, no tasks) still reads the records and publishes, but
    to the default topic unless --topic is given: load the app to route each task to its own topic.
    """
    from taskkit.supervisor import load_kit, project_config

    ref = args.app or project_config().get("app")
    return load_kit(str(ref)) if ref else Kit("taskkit-dead-letters")


def cli(args: argparse.Namespace) -> int:
    """The `dead-letters` command's entry point (what `python -m taskkit` calls)."""
    kit = build_kit(args)
    try:
        return run_command(args, kit)
    finally:
        kit.close()


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `dead-letters {list,show,replay}` to a `python -m taskkit` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dead-letters",
        help="list, show and replay the messages kept in taskkit_dead_letters",
        description="Inspect and replay kept dead letters (undecodable messages, unknown tasks, messages "
        "Pub/Sub dead-lettered, tasks that failed for good). Works on both backend families "
        "(TASKKIT_BACKEND=local|gcp).",
    )
    actions = parser.add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--app",
            help="the Kit, as package.module:attribute (default: [tool.taskkit] app; optional, "
            "but without it replays go to the default topic unless --topic is given)",
        )

    lst = actions.add_parser("list", help="list kept dead letters, newest first")
    lst.add_argument(
        "--limit", type=_positive, default=DEFAULT_LIMIT, help=f"at most N records (default {DEFAULT_LIMIT})"
    )
    lst.add_argument("--task", help="only the records of this task name")
    lst.add_argument("--json", action="store_true", help="print the records as JSON")
    common(lst)

    show = actions.add_parser("show", help="show one record, its decoded task message, the reason and lease status")
    show.add_argument("id", help="the dead letter's id (first column of `list`)")
    common(show)

    rep = actions.add_parser(
        "replay",
        help="publish a kept task message again under the same task id",
        description="Publish the kept task message again under its SAME task id, to --topic, else the task's "
        "own topic (when the app is loaded), else the default topic. The task's lease decides whether it runs: "
        "a done task acks the replay as a duplicate, a task still retrying runs. A task that FAILED FOR GOOD is "
        "also finished, so its replay is acked without running unless --rerun-failed is given: that first "
        "resets its lease to retry with its attempts reset (its failure hook already ran once and will run "
        "again if it fails again). Replayed records are marked (replayedAt, replayCount), not deleted. "
        "Exit status: 0 replayed, 1 a record holds no replayable message, 2 no such record.",
    )
    rep.add_argument("id", nargs="?", help="the dead letter's id (first column of `list`)")
    rep.add_argument("--all", action="store_true", help="replay every listed record not yet replayed")
    rep.add_argument("--again", action="store_true", help="with --all: include records already replayed")
    rep.add_argument("--task", help="with --all: only the records of this task name")
    rep.add_argument("--limit", type=_positive, default=None, help="with --all: at most N records, newest first")
    rep.add_argument(
        "--rerun-failed",
        action="store_true",
        help="if the task failed for good, reset its lease (status retry, attempts 0) so the replay runs it again",
    )
    rep.add_argument("--topic", help="publish to this topic instead of the task's own")
    common(rep)

    parser.set_defaults(fn=cli)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
