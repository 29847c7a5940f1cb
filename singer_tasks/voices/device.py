"""Which device renders: CUDA when torch sees a GPU and `SINGER_DEVICE` allows it, else the CPU.

One worker process per GPU: a GPU worker (Cloud Run's worker-gpu: one GPU, concurrency 1) uses the
device torch calls `cuda`; on a machine with several GPUs, start one worker per GPU with
CUDA_VISIBLE_DEVICES naming its own. `half_dtype` is the reduced precision a GPU runs fast
(bfloat16 where the GPU has it, else float16), used where `SINGER_PRECISION` allows the fast mode.

`voice_device` is what the runtime reports: the device the voice's torch modules sit on ("cpu" for the
built-in voice and ONNX Runtime voicebanks). Phrase results carry it and the assembly writes the job's
`device`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from singer_tasks.errors import SettingsError

if TYPE_CHECKING:
    import torch

DeviceSetting = Literal["auto", "cpu", "cuda"]
Inputs = TypeVar("Inputs")


def cuda_available() -> bool:
    """Whether torch sees a usable GPU."""
    import torch

    return bool(torch.cuda.is_available())


def choose_device(setting: str = "auto", *, has_cuda: bool | None = None) -> str:
    """The device for `setting`, "cuda" or "cpu" (auto: cuda when a GPU is there); "cuda" without a GPU is an error
    naming the setting, rather than a silent CPU render on an expensive GPU instance."""
    if setting not in ("auto", "cpu", "cuda"):
        raise SettingsError(f"SINGER_DEVICE={setting!r} is not one of auto, cpu, cuda")
    if setting == "cpu":
        return "cpu"
    available = cuda_available() if has_cuda is None else has_cuda
    if setting == "cuda" and not available:
        raise SettingsError("SINGER_DEVICE=cuda but torch sees no GPU: set SINGER_DEVICE=auto or cpu")
    return "cuda" if available else "cpu"


def half_dtype(device: str, *, bf16_supported: bool | None = None) -> torch.dtype | None:
    """The reduced precision that is fast on `device`: bfloat16 or float16 on a GPU; None on the CPU
    (its fast mode is `runtime.resolve_precision`'s bf16 autocast where the CPU has native bf16)."""
    import torch

    if device != "cuda":
        return None
    native = torch.cuda.is_bf16_supported() if bf16_supported is None else bf16_supported
    return torch.bfloat16 if native else torch.float16


def module_device(module: Any) -> str | None:
    """The device type of a torch module's first parameter (None: not a module, or no parameters)."""
    parameters = getattr(module, "parameters", None)
    if parameters is None:
        return None
    first = next(iter(parameters()), None)
    return None if first is None else str(first.device.type)


def voice_device(voice: Any) -> str:
    """Where a loaded voice renders: the device of its acoustic model, else "cpu"."""
    return module_device(getattr(voice, "model", None)) or "cpu"


def to_device(inputs: Inputs, device: Any) -> Inputs:
    """A copy of a dataclass of tensors with every tensor on `device` (fields that are tensors, None, or
    dicts of tensors, as the acoustic and variance inputs and outputs)."""
    import torch

    def move(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(device)
        if isinstance(value, dict):
            return {key: move(item) for key, item in value.items()}
        return value

    moved = {f.name: move(getattr(inputs, f.name)) for f in dataclasses.fields(inputs)}  # type: ignore[arg-type]
    return dataclasses.replace(inputs, **moved)  # type: ignore[type-var]


def autocast(device_type: str, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast of a stage precision on a device type: "bf16" and "fp16" run under torch's autocast
    in that dtype; anything else (fp32, int8: weights, not autocast) runs as it is."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)
