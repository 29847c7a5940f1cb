"""The benchmark's application: one no-op task."""

from __future__ import annotations

from taskkit import Kit

kit = Kit("bench")


@kit.task(name="bench.noop", time_limit_s=30)
def noop(sent_at: float) -> None:
    """Does nothing: what remains is taskkit's own cost."""
