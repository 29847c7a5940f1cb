"""Pitch prediction parts: the melody encoder, the pitch condition, and repeat-bin sampling.

openvpi's pitch predictor is a diffusion (or rectified flow) over `repeat_bins` copies of the pitch delta
(MIDI semitones above the smoothed note curve `base_pitch`); the copies are averaged after sampling. The
multi-variance predictor samples its curves the same way, so `sample_repeated` serves both.
Shapes: B batch, Nn notes, T frames, H hidden, F features, R repeat bins.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.encoder import FastSpeech2Encoder
from singer_tasks.voices.diffsinger.acoustic.gaussian import GaussianDiffusion
from singer_tasks.voices.diffsinger.acoustic.reflow import RectifiedFlow
from singer_tasks.voices.diffsinger.acoustic.samplers import SampleLayout, StepCallback
from singer_tasks.voices.diffsinger.variance.config import VarianceConfig

Sampler = RectifiedFlow | GaussianDiffusion


class MelodyEncoder(nn.Module):
    """Notes (MIDI key, rest flag, duration, glide) -> [B, Nn, H]; parameter names as openvpi's."""

    def __init__(self, config: VarianceConfig) -> None:
        super().__init__()
        enc = config.melody_encoder
        self.use_variance_scaling = config.use_variance_scaling
        self.note_midi_embed = nn.Linear(1, enc.hidden_size)
        self.note_dur_embed = nn.Linear(1, enc.hidden_size)
        self.use_glide_embed = config.use_glide_embed
        self.glide_embed_scale = config.glide_embed_scale
        if config.use_glide_embed:
            # 0: none, then one id per glide type
            self.note_glide_embed = nn.Embedding(len(config.glide_types) + 1, enc.hidden_size, padding_idx=0)
        self.encoder = FastSpeech2Encoder(enc)
        self.out_proj = nn.Linear(enc.hidden_size, config.hidden_size)

    def forward(self, note_midi: Tensor, note_rest: Tensor, note_dur: Tensor, glide: Tensor | None) -> Tensor:
        """note_midi float [B, Nn] (-1 = padding), note_rest bool, note_dur int frames, glide int."""
        midi_in = note_midi[:, :, None]
        dur_in = note_dur.float()[:, :, None]
        if self.use_variance_scaling:
            midi_in, dur_in = midi_in / 128, torch.log(1 + dur_in)
        midi_embed = self.note_midi_embed(midi_in) * ~note_rest[:, :, None]  # rests carry no key
        extra = self.note_dur_embed(dur_in)
        if self.use_glide_embed:
            glide = torch.zeros_like(note_dur) if glide is None else glide
            extra = extra + self.note_glide_embed(glide) * self.glide_embed_scale
        out = self.encoder(midi_embed, extra, note_midi < 0, None)
        return self.out_proj(out)  # type: ignore[no-any-return]


def build_sampler(config: VarianceConfig, layout: SampleLayout) -> Sampler:
    """The diffusion module the config names, sampling `layout` (its parameters load as openvpi's)."""
    if config.diffusion_type == "reflow":
        return RectifiedFlow(config, layout)
    return GaussianDiffusion(config, layout)


def pitch_layout(config: VarianceConfig) -> SampleLayout:
    """One feature (the pitch delta) of repeat_bins bins, normalised from [norm_min, norm_max]."""
    p = config.pitch
    return SampleLayout(p.repeat_bins, 1, p.backbone, (p.norm_min,), (p.norm_max,))


def sample_repeated(
    sampler: Sampler,
    condition: Tensor,
    noise: Tensor,
    *,
    steps: int,
    algorithm: str,
    generator: torch.Generator | None = None,
    on_step: StepCallback | None = None,
) -> Tensor:
    """condition [B, T, H], noise [B, F, R, T] -> the mean over the R bins of the denormalised sample:
    [B, T] for one feature, [B, F, T] for several (clamping is the caller's)."""
    if isinstance(sampler, GaussianDiffusion):
        x = sampler.sample(
            condition, noise, src_spec=None, depth=1.0, steps=steps, algorithm=algorithm, on_step=on_step,
            generator=generator,
        )  # fmt: skip
    else:
        x = sampler.sample(
            condition, noise, src_spec=None, depth=1.0, steps=steps, algorithm=algorithm, on_step=on_step
        )
    return x.mean(dim=-1)  # (B, T, R) -> (B, T) or (B, F, T, R) -> (B, F, T)


def retake_embedding(embed: nn.Embedding, retake: Tensor, expr: Tensor | None) -> Tensor:
    """[B, T, H]: the retake flag's embedding, or with an expressiveness (scalar [B, 1] or curve [B, T]) the
    blend expr * embed(1) + (1 - expr) * embed(0) on retaken frames (embed(0) elsewhere)."""
    if expr is None:
        return embed(retake.long())  # type: ignore[no-any-return]
    one = embed(torch.ones(1, 1, dtype=torch.long, device=retake.device))  # (1, 1, H)
    zero = embed(torch.zeros(1, 1, dtype=torch.long, device=retake.device))
    weight = (expr * retake)[:, :, None]  # (B, T, 1)
    return weight * one + (1.0 - weight) * zero  # type: ignore[no-any-return]


def gather_frames(encoded: Tensor, index: Tensor) -> Tensor:
    """encoded [B, N, H], frame -> 1-based index [B, T] -> [B, T, H] (index 0 gives zeros)."""
    padded = F.pad(encoded, [0, 0, 1, 0])
    return torch.gather(padded, 1, index[..., None].expand(-1, -1, encoded.shape[-1]))
