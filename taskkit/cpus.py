"""How many CPUs this process may really use: the container's cgroup quota, capped by CPU affinity.

The supervisor shares them among its workers; a worker sizes its thread pools from its share.
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def quota_from(text_max: str | None, text_quota: str | None, text_period: str | None) -> float | None:
    """The CPU quota from cgroup v2's cpu.max, else v1's quota/period; None when unlimited or unknown."""
    if text_max is not None:
        fields = text_max.split()
        if len(fields) >= 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    if text_quota is not None and text_period is not None:
        quota, period = int(text_quota), int(text_period)
        return quota / period if quota > 0 and period > 0 else None
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota() -> float:
    """CPUs this process may use: the cgroup quota (v2, then v1), capped by the affinity mask."""
    cpus = float(affinity_cpus())
    try:
        quota = quota_from(_read(CGROUP_V2), _read(CGROUP_V1_QUOTA), _read(CGROUP_V1_PERIOD))
    except ValueError:
        quota = None
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1.0, cpus)
