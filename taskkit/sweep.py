"""The reconciler: what a crash can strand, found and restarted (`python -m taskkit sweep`).

Two kinds of work: chords whose members all finished but whose callback was never published (its
publisher died), and whatever each application registered with `@kit.reconciler` (a render service
republishes jobs left `pending` under their original task ids, so a duplicate is harmless).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from taskkit import canvas
from taskkit.app import Kit
from taskkit.backends.local.blobs import LocalBlobStore
from taskkit.backends.local.cleanup import expire_blobs

log = structlog.get_logger("taskkit.sweep")


@dataclass
class SweepReport:
    """What one sweep did."""

    chords_checked: int = 0
    chords_fired: int = 0
    republished: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the sweep endpoint's answer, the CLI's output)."""
        return {
            "chords_checked": self.chords_checked,
            "chords_fired": self.chords_fired,
            "republished": self.republished,
            "errors": self.errors,
        }


def run_sweep(kit: Kit) -> SweepReport:
    """Fire complete chords and run every registered reconciler; errors are reported, not raised."""
    report = SweepReport()
    for snapshot in kit.documents.query(canvas.CHORDS, [("status", "==", "open")]):
        report.chords_checked += 1
        try:
            if canvas.maybe_fire_chord(kit, snapshot.id):
                report.chords_fired += 1
                log.info("sweep.chord_fired", chord=snapshot.id)
        except Exception as e:
            report.errors.append(f"chord {snapshot.id}: {e}")
            log.exception("sweep.chord_failed", chord=snapshot.id)
    for name, reconcile in kit.reconcilers.items():
        try:
            report.republished[name] = reconcile(kit)
        except Exception as e:
            report.errors.append(f"{name}: {e}")
            log.exception("sweep.reconciler_failed", reconciler=name)
    return report


def expire_local_blobs(kit: Kit, rules: Mapping[str, float], now: float | None = None) -> int:
    """Apply lifecycle rules {prefix: age in seconds} to the local family's blob store; returns how many
    objects were deleted. On the gcp family the bucket's own lifecycle rules do this (nothing here).

    An application registers it as a reconciler with the same ages as its bucket's rules, so the sweep
    the embedded stack runs on its schedule keeps its intermediates from piling up.
    """
    blobs = kit.blobs
    if not isinstance(blobs, LocalBlobStore):
        return 0
    return sum(expire_blobs(blobs, rules, time.time() if now is None else now).values())
