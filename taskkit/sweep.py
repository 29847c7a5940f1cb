"""The reconciler: what a crash can strand, found and restarted (`python -m taskkit sweep`).

Two kinds of work: chords whose members all finished but whose callback was never published (its
publisher died), and whatever each application registered with `@kit.reconciler` (a render service
republishes jobs left `pending` under their original task ids, so a duplicate is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from taskkit import canvas
from taskkit.app import Kit

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
