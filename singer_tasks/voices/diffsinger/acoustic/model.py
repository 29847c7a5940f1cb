"""DiffSingerAcoustic: fs2 condition -> (aux decoder mel) -> diffusion/reflow decoder -> mel.

Inference only. `render` takes prepared inputs (see `inputs.py`) and returns the ln-magnitude mel
[B, T, n_mels] that openvpi's own inference produces for the same weights, inputs and noise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from singer_tasks.voices.device import autocast
from singer_tasks.voices.diffsinger.acoustic.aux_decoder import AuxDecoderAdaptor
from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.encoder import FastSpeech2Acoustic
from singer_tasks.voices.diffsinger.acoustic.gaussian import GaussianDiffusion
from singer_tasks.voices.diffsinger.acoustic.reflow import RectifiedFlow
from singer_tasks.voices.diffsinger.acoustic.samplers import StepCallback

# fp32: exact (openvpi's output); bf16: the denoiser under bfloat16 autocast (CPUs with native bf16, GPUs);
# fp16: under float16 autocast (GPUs without bf16); int8: the denoiser's inner Linear layers with int8
# weights (CPUs with VNNI; see int8.py).
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
_INT8_LOCK = threading.Lock()


@dataclass
class AcousticInputs:
    """Model inputs for one phrase: tokens [B, N], mel2ph [B, T] (1-based), f0 [B, T] Hz, curves [B, T]."""

    tokens: Tensor
    mel2ph: Tensor
    f0: Tensor
    curves: dict[str, Tensor] = field(default_factory=dict)
    languages: Tensor | None = None
    spk_id: Tensor | None = None
    spk_mix: Tensor | None = None


@dataclass
class AcousticOutput:
    """mel [B, T, M] (ln magnitude) and the aux decoder's mel (None without shallow diffusion)."""

    mel: Tensor
    aux_mel: Tensor | None


class DiffSingerAcoustic(nn.Module):
    """Submodules `fs2`, `aux_decoder` (shallow diffusion only) and `diffusion`, named as openvpi's."""

    def __init__(self, config: AcousticConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.fs2 = FastSpeech2Acoustic(config, vocab_size)
        if config.use_shallow_diffusion:
            self.aux_decoder = AuxDecoderAdaptor(config)
        self.diffusion: RectifiedFlow | GaussianDiffusion
        if config.diffusion_type == "reflow":
            self.diffusion = RectifiedFlow(config)
        elif config.diffusion_type == "ddpm":
            self.diffusion = GaussianDiffusion(config)
        else:
            raise ValueError(f"diffusion_type {config.diffusion_type!r} is not ddpm or reflow")
        # a plain dict, not an attribute: a Module attribute would join the state dict and parameters()
        self._int8: dict[str, Any] = {}

    def int8_backbone(self) -> Any:
        """The denoiser backbone with int8 inner layers (see int8.py), made on the first int8 render and kept;
        an ONNX Runtime copy is read from (or built into) the voice cache."""
        with _INT8_LOCK:  # one lock for all models (a per-model lock would make them uncopyable)
            if "backbone" not in self._int8:
                from singer_tasks.settings import get_settings
                from singer_tasks.voices.diffsinger.acoustic.int8 import int8_backbone
                from singer_tasks.voices.runtime import cpu_flags, onnx_threads

                diffusion = self.diffusion
                fp32 = diffusion.velocity_fn if isinstance(diffusion, RectifiedFlow) else diffusion.denoise_fn
                cache = get_settings().voice_cache_dir / "int8"
                flags = cpu_flags() or frozenset()
                self._int8["backbone"] = int8_backbone(fp32, cache, onnx_threads(), flags)
            return self._int8["backbone"]

    def default_algorithm(self) -> str:
        """The sampler the experiment's config names."""
        cfg = self.config
        return cfg.sampling_algorithm if cfg.diffusion_type == "reflow" else cfg.diff_accelerator

    @torch.inference_mode()
    def render(
        self,
        inputs: AcousticInputs,
        *,
        steps: int | None = None,
        depth: float | None = None,
        algorithm: str | None = None,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        on_step: StepCallback | None = None,
        precision: str = "fp32",
    ) -> AcousticOutput:
        """Sample a mel. `noise` [B, 1, M, T] is the starting noise (drawn from `generator` if None);
        `depth` in [0, 1] is the shallow-diffusion depth (1 = from pure noise). precision "fp32" is exact
        (openvpi's output); "bf16" runs the denoiser under bfloat16 autocast (about 2.5x faster on CPUs
        with avx512_bf16, mel within about 0.01 of fp32); "int8" runs it with int8 inner layers (about 2x
        faster with VNNI, mel within about 0.002 of fp32). The encoder and aux decoder run once per phrase,
        the conditioner projections once per render (not per step)."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        cfg = self.config
        steps = cfg.default_steps if steps is None else steps
        depth = cfg.default_depth if depth is None else depth
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if not 0.0 <= depth <= 1.0:
            raise ValueError(f"depth must lie in [0, 1], got {depth}")
        if not cfg.use_shallow_diffusion:
            depth = 1.0
        condition = self.fs2(
            inputs.tokens,
            inputs.mel2ph,
            inputs.f0,
            inputs.curves,
            languages=inputs.languages,
            spk_id=inputs.spk_id,
            spk_mix=inputs.spk_mix,
        )
        frames_mask = (inputs.mel2ph > 0).float()[:, :, None]
        aux_mel = self.aux_decoder(condition) * frames_mask if cfg.use_shallow_diffusion else None
        b, t = inputs.mel2ph.shape
        shape = (b, 1, cfg.mel.n_mels, t)
        if noise is None:  # drawn on the host: a seed gives the same noise on every device
            noise = torch.randn(shape, generator=generator)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"starting noise has shape {tuple(noise.shape)}, expected {shape}")
        noise = noise.to(condition.device)
        fast = precision in ("bf16", "fp16")
        backbone = self.int8_backbone() if precision == "int8" else None
        # autocast caches its half copies of the weights across the steps, but not for inference-mode
        # tensors: fast mode samples under no_grad instead (measured 5 % faster), exact mode stays as is.
        with torch.inference_mode(not fast), torch.no_grad(), autocast(condition.device.type, precision):
            mel = self.diffusion.sample(
                condition,
                noise,
                src_spec=aux_mel,
                depth=depth,
                steps=steps,
                algorithm=algorithm or self.default_algorithm(),
                on_step=on_step,
                backbone=backbone,
            ).float()
        return AcousticOutput(mel=mel * frames_mask, aux_mel=aux_mel)
