"""Process-level runtime for rendering: torch threads pinned to the real CPU quota, a voice cache.

Containers often see every host CPU in os.cpu_count() but may only use their cgroup quota; torch's
default thread count then oversubscribes. `configure_torch` sets intra-op threads to the quota
(divided among worker processes sharing it) and inter-op threads to 1.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from singer_tasks.voice_models import Voice

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
_CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")

_lock = threading.Lock()
_configured: int | None = None
_voices: dict[tuple[str, str], Voice] = {}


def _affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _quota_from(text_max: str | None, text_quota: str | None, text_period: str | None) -> float | None:
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


def cpu_quota() -> int:
    """CPUs this process may use: the cgroup quota (v2, then v1) rounded up, capped by the affinity mask."""
    cpus = _affinity_cpus()
    try:
        quota = _quota_from(_read(_CGROUP_V2), _read(_CGROUP_V1_QUOTA), _read(_CGROUP_V1_PERIOD))
    except ValueError:
        quota = None
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def configure_torch(workers: int = 1, threads: int | None = None) -> int:
    """Set torch's thread pools once per process; returns the intra-op thread count in use."""
    global _configured
    import torch

    with _lock:
        wanted = threads or max(1, cpu_quota() // max(1, workers))
        if _configured != wanted:
            torch.set_num_threads(wanted)
            # Settable only before the first parallel region; later calls keep the first value.
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(1)
            _configured = wanted
        torch.set_grad_enabled(False)
        return wanted


def get_voice(voice: str | Path = "builtin", root: Path | None = None) -> Voice:
    """The voice, loaded once per process and reused (thread-safe)."""
    from singer_tasks.voice_models import load_voice

    key = (str(voice), str(root or ""))
    with _lock:
        cached = _voices.get(key)
    if cached is not None:
        return cached
    if _configured is None:  # keep a worker's earlier configure_torch(workers=N)
        configure_torch()
    loaded = load_voice(voice, root)
    with _lock:
        return _voices.setdefault(key, loaded)


def clear_voice_cache() -> None:
    """Forget every loaded voice (tests, or after replacing a voice's files)."""
    with _lock:
        _voices.clear()
