"""Process-level runtime for rendering: torch threads pinned to the real CPU quota, precision, memory.

Containers often see every host CPU in os.cpu_count() but may only use their cgroup quota; torch's
default thread count then oversubscribes. `configure_torch` sets intra-op threads to the quota
(divided among worker processes sharing it) and inter-op threads to 1; ONNX Runtime sessions (voicebanks)
get the same share (`onnx_threads`).

Render precision: "exact" is float32 and reproduces openvpi's output. "fast" is the quicker path this
CPU has, chosen per stage (the acoustic denoiser, then the vocoder), because the fastest kernel differs
by stage and by CPU: with AMX both stages run under bf16 autocast ("bf16"); with VNNI and no AMX
(AMD Zen 4, Intel Cascade Lake / Ice Lake) both run int8 ("int8": int8 weights in the denoiser's inner
layers, the vocoder's convolutions in ONNX Runtime's int8 kernels; emulated bf16 is slower than float32
on CPUs without avx512_bf16). "auto" (the default) is the fast path where the CPU has bf16 or VNNI and
exact elsewhere (`precision_for_cpu`: a static table keyed by the CPU flags, from the figures in
docs/benchmarks.md). A precision names the denoiser's kernel, then "+" and the vocoder's when it
differs ("int8+bf16", "int8+fp32": `stage_precisions`).
`SINGER_PRECISION=exact|fast|auto` sets it for the process.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable
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


BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
AMX_BF16_FLAGS = frozenset({"amx_bf16"})
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
# Every model precision a render may run: the denoiser's kernel, "+", the vocoder's where it differs.
# fp16 is a GPU's (one without bf16); a CPU's fast path is one of the others.
MODEL_PRECISIONS = ("fp32", "bf16", "fp16", "int8", "int8+fp32", "int8+bf16")


def stage_precisions(precision: str) -> tuple[str, str]:
    """(the acoustic denoiser's precision, the vocoder's) for a model precision: "bf16", "fp16" and "int8"
    are that kernel for both; "int8+fp32" and "int8+bf16" an int8 denoiser and that vocoder."""
    if precision not in MODEL_PRECISIONS:
        raise ValueError(f"precision must be one of {MODEL_PRECISIONS}, got {precision!r}")
    denoiser, _, vocoder = precision.partition("+")
    return denoiser, vocoder or denoiser


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (or the text given); None where there is none."""
    text = _read(_CPUINFO) if cpuinfo is None else cpuinfo
    if text is not None:
        for line in text.splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[-1].split())
    return None


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bfloat16 natively (avx512_bf16 or AMX flags; else oneDNN's own check)."""
    flags = cpu_flags(cpuinfo)
    if flags is not None:
        return bool(flags & BF16_FLAGS)
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_for_cpu(mode: str, flags: Iterable[str], *, int8_available: bool = True) -> str:
    """The model precision (one of MODEL_PRECISIONS) for a resolved mode (exact, fast, auto) on a CPU
    with these feature flags. A pure function: the table the figures in docs/benchmarks.md justify.

    AMX -> bf16 (the denoiser about 2.7x float32's speed, faster than int8; the vocoder 3x);
    VNNI without AMX -> int8 for both stages (on a Zen 4, which has avx512_bf16 too: the denoiser 0.29
    RTF against bf16's 0.40, the vocoder 0.15 against bf16's 0.17 and float32's 0.34); avx512_bf16
    alone -> bf16; none of these -> auto is exact (nothing measured faster), fast is int8 where torch has
    the kernels, else bf16."""
    if mode == "exact":
        return "fp32"
    have = frozenset(flags)
    int8_fast = int8_available and bool(have & VNNI_FLAGS)
    if have & AMX_BF16_FLAGS:
        return "bf16"
    if int8_fast:
        return "int8"
    if have & BF16_FLAGS:
        return "bf16"
    return "int8" if int8_available and mode == "fast" else "bf16" if mode == "fast" else "fp32"


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


def resolve_precision(
    mode: str | None = None,
    *,
    bf16_native: bool | None = None,
    flags: Iterable[str] | None = None,
    device: str = "cpu",
) -> str:
    """The model precision (one of MODEL_PRECISIONS) for a mode (see `precision_setting`) on this CPU,
    or on one with the feature `flags` given (`bf16_native` adds or removes the bf16 ones). On a GPU
    (`device` "cuda") the fast path is its half type for both stages (`device.half_dtype`)."""
    chosen = precision_setting(mode)
    if chosen == "exact":
        return "fp32"
    if device == "cuda":
        import torch

        from singer_tasks.voices.device import half_dtype

        return "bf16" if half_dtype(device) is torch.bfloat16 else "fp16"
    have = set(cpu_flags() or ()) if flags is None else set(flags)
    if flags is None and not have and cpu_has_bf16():  # no /proc/cpuinfo: oneDNN's own bf16 check
        have |= BF16_FLAGS
    if bf16_native is not None:
        have = (have | BF16_FLAGS) if bf16_native else (have - BF16_FLAGS)
    from singer_tasks.voices.diffsinger.acoustic.int8 import int8_supported

    return precision_for_cpu(chosen, have, int8_available=int8_supported())


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
