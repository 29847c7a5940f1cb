"""Process-level runtime for rendering: torch threads pinned to the real CPU quota, precision, memory.

Containers often see every host CPU in os.cpu_count() but may only use their cgroup quota; torch's
default thread count then oversubscribes. `configure_torch` sets intra-op threads to the quota
(divided among worker processes sharing it) and inter-op threads to 1; ONNX Runtime sessions (voicebanks)
get the same share (`onnx_threads`).

Render precision: "exact" is float32 and reproduces openvpi's output; "fast" runs the acoustic
denoiser and the vocoder under bfloat16 autocast (about 2x faster where the CPU has native bf16:
avx512_bf16 or AMX; emulated and slower elsewhere); "auto" (the default) is fast where the CPU has native
bf16 and exact elsewhere. `SINGER_PRECISION=exact|fast|auto` sets it for the process.
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path
from typing import Any

from singer_tasks.errors import PrecisionError
from singer_tasks.settings import get_settings
from taskkit.cpus import cpu_quota as taskkit_cpu_quota

_lock = threading.Lock()
_configured: int | None = None
_onnx_threads: int | None = None

PRECISION_MODES = ("exact", "fast", "auto")
_CPUINFO = Path("/proc/cpuinfo")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bfloat16 natively (avx512_bf16 or AMX flags; else oneDNN's own check)."""
    text = _read(_CPUINFO) if cpuinfo is None else cpuinfo
    if text is not None:
        for line in text.splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[-1].split())
                return bool(flags & {"avx512_bf16", "amx_bf16"})
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_setting(value: str | None = None) -> str:
    """The requested mode: `value`, else SINGER_PRECISION, else "auto"; PrecisionError names a bad one."""
    raw = value if value is not None else (get_settings().precision or "auto")
    mode = raw.strip().lower() or "auto"
    aliases = {"fp32": "exact", "bf16": "fast"}
    mode = aliases.get(mode, mode)
    if mode not in PRECISION_MODES:
        source = "precision" if value is not None else "SINGER_PRECISION"
        raise PrecisionError(f"{source}={raw!r} is not one of exact, fast, auto (or fp32, bf16)")
    return mode


def resolve_precision(mode: str | None = None, *, bf16_native: bool | None = None) -> str:
    """The model precision ("fp32" or "bf16") for a mode (see `precision_setting`); auto checks the CPU."""
    chosen = precision_setting(mode)
    if chosen == "auto":
        native = cpu_has_bf16() if bf16_native is None else bf16_native
        return "bf16" if native else "fp32"
    return "bf16" if chosen == "fast" else "fp32"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota() -> int:
    """CPUs this process may use: the cgroup quota (v2, then v1) rounded up, capped by the affinity mask."""
    return max(1, math.ceil(taskkit_cpu_quota()))


_libc: Any = None


def release_free_memory() -> None:
    """Give freed heap pages back to the system (glibc malloc_trim); a no-op elsewhere.

    Tensors of a few MiB to 32 MiB come from glibc's heap once its adaptive mmap threshold has grown,
    and the heap keeps their freed pages resident; trimming between vocoder chunks keeps a long phrase's
    peak near what is really live (about 300 MiB lower for 30 s). Forcing such tensors onto mmap instead
    (a fixed M_MMAP_THRESHOLD) was measured 40-50 % slower in the vocoder, from page faults.
    """
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim  # noqa: B018 (raises AttributeError off glibc)
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


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
        _set_onnx_threads(wanted)
        return wanted


def configure_torch_once() -> None:
    """Configure torch with the defaults unless a caller already did (a worker's configure_torch(threads=N))."""
    if _configured is None:
        configure_torch()


def _set_onnx_threads(threads: int) -> None:
    global _onnx_threads
    _onnx_threads = threads


def configure_onnx(workers: int = 1, threads: int | None = None) -> int:
    """Intra-op threads for the ONNX Runtime sessions voices open from now on (inter-op is always 1).

    The same share as torch's: `threads`, else the CPU quota divided among `workers`. `configure_torch`
    sets it too, so a worker's `configure_torch(threads=N)` pins both runtimes to its share. Sessions keep
    the count they were created with (voices are loaded once per process)."""
    wanted = threads or max(1, cpu_quota() // max(1, workers))
    with _lock:
        _set_onnx_threads(wanted)
    return wanted


def onnx_threads() -> int:
    """The intra-op thread count for new ONNX Runtime sessions (see `configure_onnx`)."""
    return _onnx_threads or cpu_quota()
