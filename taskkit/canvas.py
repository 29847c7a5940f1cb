"""Canvas: chain, group and chord over task signatures.

Completion accounting is keyed by member task id, never a bare counter: a chord's members are the
lease records that carry `chord: <id>`, so a redelivered member cannot be counted twice, and the
callback's deterministic task id makes a second publication of it a duplicate that acks without
running. A chord whose last member died before publishing the callback is fired by the sweep.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskkit.backends.base import Snapshot
from taskkit.errors import EnqueueError
from taskkit.lease import LEASES, lease_path
from taskkit.message import TaskMessage, check_task_id

if TYPE_CHECKING:
    from taskkit.app import Kit

CHORDS = "taskkit_chords"


def chord_path(chord_id: str) -> str:
    """The document path of a chord record."""
    return f"{CHORDS}/{chord_id}"


@dataclass(frozen=True)
class Signature:
    """A task invocation not yet sent: name, keyword arguments, task id and topic."""

    task: str
    kwargs: dict[str, Any]
    task_id: str
    topic: str | None = None

    def message(self, parent: dict[str, Any] | None = None) -> TaskMessage:
        """The message this signature sends."""
        return TaskMessage(self.task, self.task_id, self.kwargs, parent)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, carried inside a parent message."""
        return {"task": self.task, "kwargs": self.kwargs, "id": self.task_id, "topic": self.topic}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        """Inverse of `to_dict`."""
        return cls(data["task"], dict(data.get("kwargs") or {}), check_task_id(data["id"]), data.get("topic"))

    def apply_async(self, kit: Kit) -> str:
        """Send it; returns the task id."""
        return kit.publish(self.message(), topic=self.topic)


@dataclass(frozen=True)
class Chain:
    """Run signatures one after another; each is published when the previous one is done.

    The next link is published before the current one is marked done, so a crash in between reruns
    the current link (idempotent) and republishes the next one under its fixed id (a duplicate).
    """

    links: tuple[Signature, ...]

    def apply_async(self, kit: Kit) -> str:
        """Send the first link; returns its task id."""
        first, rest = self.links[0], self.links[1:]
        parent = {"chain": [s.to_dict() for s in rest]} if rest else None
        return kit.publish(first.message(parent), topic=first.topic)


def chain(*links: Signature) -> Chain:
    """Signatures to run in order."""
    if not links:
        raise EnqueueError("a chain needs at least one signature")
    return Chain(tuple(links))


@dataclass(frozen=True)
class Group:
    """Run signatures in parallel."""

    members: tuple[Signature, ...]

    def apply_async(self, kit: Kit) -> list[str]:
        """Send every member; returns their task ids."""
        return [m.apply_async(kit) for m in self.members]


def group(*members: Signature) -> Group:
    """Signatures to run in parallel."""
    return Group(tuple(members))


@dataclass(frozen=True)
class Chord:
    """A group, then one callback once every member is done."""

    header: tuple[Signature, ...]
    callback: Signature
    chord_id: str = field(default="")

    def apply_async(self, kit: Kit) -> str:
        """Record the chord, then send the members; returns the chord id. Safe to call again."""
        chord_id = self.chord_id or self.callback.task_id
        ids = [m.task_id for m in self.header]
        if len(set(ids)) != len(ids):
            raise EnqueueError("chord members need distinct task ids")
        if not ids:
            raise EnqueueError("a chord needs at least one member")
        now = time.time()
        kit.documents.create(
            chord_path(chord_id),
            {
                "members": ids,
                "size": len(ids),
                "callback": self.callback.to_dict(),
                "status": "open",
                "createdAt": now,
                "updatedAt": now,
                "expireAt": now + kit.settings.record_retention_s,
            },
        )
        for member in self.header:
            kit.publish(member.message({"chord": chord_id}), topic=member.topic)
        return chord_id


def chord(header: Sequence[Signature], callback: Signature, *, chord_id: str | None = None) -> Chord:
    """Members, then a callback; `chord_id` defaults to the callback's task id."""
    return Chord(tuple(header), callback, check_task_id(chord_id) if chord_id else "")


@dataclass(frozen=True)
class ChordProgress:
    """How far a chord got: finished member ids out of its size."""

    done: frozenset[str]
    size: int
    status: str

    @property
    def complete(self) -> bool:
        """Whether every member is done."""
        return len(self.done) >= self.size


def chord_progress(kit: Kit, chord_id: str) -> ChordProgress | None:
    """Progress derived from the members' lease records (None if no such chord)."""
    record = kit.documents.get(chord_path(chord_id))
    if record is None:
        return None
    done: list[Snapshot] = kit.documents.query(LEASES, [("chord", "==", chord_id), ("status", "==", "done")])
    members = set(record["members"])
    return ChordProgress(frozenset(s.id for s in done) & members, int(record["size"]), str(record["status"]))


def member_result(kit: Kit, task_id: str) -> dict[str, Any] | None:
    """The recorded result of a finished task (a chord member, say), read from its lease record.

    None while the task has not finished, when it failed, or when it returned nothing to keep: None,
    anything but a JSON object, or more than the 16 kB a lease record keeps.
    """
    record = kit.documents.get(lease_path(task_id))
    if record is None or record.get("status") != "done":
        return None
    result = record.get("result")
    return dict(result) if isinstance(result, dict) else None


def maybe_fire_chord(kit: Kit, chord_id: str) -> bool:
    """Publish the chord's callback if every member is done. Returns whether it published."""
    progress = chord_progress(kit, chord_id)
    if progress is None or progress.status != "open" or not progress.complete:
        return False
    record = kit.documents.get(chord_path(chord_id)) or {}
    callback = Signature.from_dict(record["callback"])
    callback_lease = kit.documents.get(f"{LEASES}/{callback.task_id}")
    if callback_lease is not None and callback_lease.get("status") in ("done", "failed"):
        # The callback already ran (its chord's status update was lost after it): record that, so the
        # sweep stops looking at this chord until its TTL.
        kit.documents.update(chord_path(chord_id), {"status": "fired", "updatedAt": time.time()})
        return False
    kit.publish(callback.message({"chord_callback": chord_id}), topic=callback.topic)
    kit.documents.update(chord_path(chord_id), {"status": "fired", "updatedAt": time.time()})
    return True


def mark_chord_failed(kit: Kit, chord_id: str, reason: str) -> None:
    """Record that a member failed for good: the callback will never fire."""
    if kit.documents.get(chord_path(chord_id)) is not None:
        kit.documents.update(chord_path(chord_id), {"status": "failed", "error": reason, "updatedAt": time.time()})
