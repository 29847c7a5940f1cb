"""What a bench prints about the machine it ran on: the CPU model and the ISA features that decide
which kernels run (bf16, AMX, VNNI)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_description() -> tuple[str, dict[str, bool]]:
    """The CPU model name and which of ISA_FLAGS /proc/cpuinfo lists."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    return model, {flag: flag in flags for flag in ISA_FLAGS}


def cpu_line() -> str:
    """One line for a bench's header: the model, the logical CPUs this process sees, the ISA flags present."""
    model, isa = cpu_description()
    present = " ".join(flag for flag, has in isa.items() if has) or "none of " + " ".join(ISA_FLAGS)
    return f"{model} ({os.cpu_count()} logical); ISA: {present}"
