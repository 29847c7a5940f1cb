"""Phrase -> acoustic model inputs, as openvpi's ds_acoustic.preprocess_input prepares them.

Frame boundaries: round(cumsum(ph_dur) / frame_s + 0.5); curves are linearly resampled from their
own timestep to the frame rate and padded with their last value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from singer_tasks.errors import RenderInputError
from singer_tasks.phrase import Phrase
from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.model import AcousticInputs
from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary


@dataclass(frozen=True)
class Curve:
    """A curve sampled every `timestep_s` seconds from the phrase start."""

    points: Sequence[float]
    timestep_s: float


def resample_curve(points: Sequence[float], timestep_s: float, frame_s: float, frames: int) -> np.ndarray:
    """Linear resampling of a curve to `frames` frames of `frame_s`, padded with its last value."""
    values = np.asarray(points, dtype=np.float32)
    if values.size == 0:
        raise RenderInputError("a curve has no points")
    t_max = (len(values) - 1) * timestep_s
    out = np.interp(np.arange(0, t_max, frame_s), timestep_s * np.arange(len(values)), values).astype(np.float32)
    if len(out) >= frames:
        return out[:frames]  # type: ignore[no-any-return]
    return np.concatenate([out, np.full(frames - len(out), out[-1] if len(out) else values[-1], np.float32)])


def phrase_mel2ph(ph_dur_s: Sequence[float], frame_s: float) -> torch.Tensor:
    """Frame -> 1-based phoneme index [1, T] from phoneme durations in seconds."""
    ph_acc = torch.round(torch.cumsum(torch.tensor(ph_dur_s, dtype=torch.float32), 0) / frame_s + 0.5).long()
    durations = torch.diff(ph_acc, dim=0, prepend=torch.zeros(1, dtype=torch.long))
    return torch.repeat_interleave(torch.arange(1, len(durations) + 1), durations.clamp(min=0))[None]


def phrase_inputs(
    phrase: Phrase,
    config: AcousticConfig,
    dictionary: PhonemeDictionary,
    *,
    curves: Mapping[str, float | Curve] | None = None,
    spk_id: int = 0,
) -> AcousticInputs:
    """Model inputs for one phrase. `curves` maps energy/breathiness/voicing/tension/key_shift/speed
    (those the config enables) to a constant or a Curve."""
    if not phrase.ph_seq:
        raise RenderInputError("the phrase has no phonemes")
    frame_s = config.mel.frame_s
    tokens = torch.tensor([dictionary.encode(phrase.ph_seq, phrase.lang)], dtype=torch.long)
    mel2ph = phrase_mel2ph(phrase.ph_dur_s, frame_s)
    frames = mel2ph.shape[1]
    if frames == 0:
        raise RenderInputError("the phrase is shorter than one frame")
    f0_points = phrase.f0_hz or (0.0,)
    f0 = torch.from_numpy(resample_curve(f0_points, phrase.f0_timestep_s, frame_s, frames))[None]
    values: dict[str, torch.Tensor] = {}
    wanted = list(config.variance_embeds)
    wanted += ["key_shift"] if config.use_key_shift_embed else []
    wanted += ["speed"] if config.use_speed_embed else []
    for name in wanted:
        if curves is None or name not in curves:
            raise RenderInputError(f"the voice needs a '{name}' curve or default and none was given")
        value = curves[name]
        if isinstance(value, (int, float)):
            arr = np.full(frames, float(value), np.float32)
        else:
            arr = resample_curve(value.points, value.timestep_s, frame_s, frames)
        if name == "key_shift":
            arr = np.clip(arr, *config.key_shift_range)
        elif name == "speed":
            arr = np.clip(arr, *config.speed_range)
        values[name] = torch.from_numpy(arr)[None]
    languages = None
    if config.use_lang_id:
        # openvpi feeds a language id only for phonemes merged across languages (merged groups, which
        # this loader refuses); every other phoneme gets 0.
        languages = torch.zeros_like(tokens)
    if config.use_spk_id and not 0 <= spk_id < config.num_spk:
        raise RenderInputError(f"speaker id {spk_id} is outside the voice's {config.num_spk} speakers")
    spk = torch.tensor([spk_id], dtype=torch.long) if config.use_spk_id else None
    return AcousticInputs(tokens=tokens, mel2ph=mel2ph, f0=f0, curves=values, languages=languages, spk_id=spk)
