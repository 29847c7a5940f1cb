"""The duration / pitch / variance stages of an openvpi DiffSinger voice (its `variance:` checkpoint).

`VarianceStage.apply` turns a phrase into the phrase the acoustic model sings: the variance model runs on the
phrase as a .ds segment, and what it predicts is written back into a copy of the phrase (ph_dur, f0 and the
curves, as openvpi's own ds_variance writes them back), so the acoustic side reads it like any phrase.

- expression ``voice``: durations from the duration predictor (aligned to the notes by openvpi's rhythm
  regulator), pitch from the pitch predictor, curves from the variance predictor;
- expression ``score``: the phrase's own durations and f0 are kept; the curves are predicted on them.

A stage the checkpoint lacks leaves the phrase's value in place (rules fill in).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from singer_tasks.phrase import Phrase
from singer_tasks.voices.chain import Expression, Source
from singer_tasks.voices.manifest import VarianceFiles

StepHook = Any  # Callable[[int, int], None]; kept loose: the model's sampler callback type


@dataclass(frozen=True)
class StageResult:
    """The phrase for the acoustic model and where its durations, pitch and curves came from."""

    phrase: Phrase
    durations_from: Source
    pitch_from: Source
    curves_from: Source
    curve_names: tuple[str, ...]


def _f0_to_midi_frames(phrase: Phrase, timestep: float, frames: int) -> np.ndarray:
    """The phrase's f0 as MIDI on the model's frames; unvoiced stretches are bridged linearly."""
    f0 = np.asarray(phrase.f0_hz, dtype=np.float64)
    times = np.arange(len(f0)) * phrase.f0_timestep_s
    voiced = f0 > 0
    at = np.arange(frames) * timestep
    if not voiced.any():
        return np.full(frames, 60.0, np.float32)
    midi = 69.0 + 12.0 * np.log2(f0[voiced] / 440.0)
    curve: np.ndarray = np.interp(at, times[voiced], midi).astype(np.float32)
    return curve


def _segment(phrase: Phrase, keep_durations: bool) -> dict[str, Any]:
    """The phrase as a .ds segment at full precision (lists, not rounded text)."""
    segment: dict[str, Any] = {
        "ph_seq": list(phrase.ph_seq),
        "ph_num": [str(n) for n in phrase.ph_num],
        "note_seq": list(phrase.note_seq),
        "note_dur": [repr(float(d)) for d in phrase.note_dur_s],
        "note_slur": [str(s) for s in phrase.note_slur],
    }
    if keep_durations:
        segment["ph_dur"] = [repr(float(d)) for d in phrase.ph_dur_s]
    if phrase.lang is not None:
        segment["lang"] = phrase.lang
    for key in ("note_glide", "expr"):
        if key in phrase.extra:
            segment[key] = phrase.extra[key]
    return segment


class VarianceStage:
    """An openvpi variance experiment used as the duration, pitch and variance stages of a voice."""

    def __init__(self, files: VarianceFiles) -> None:
        from singer_tasks.voices.diffsinger.variance import VarianceModel

        self.files = files
        self.model = VarianceModel.from_files(files.checkpoint, files.config, dict(files.dictionaries), files.spk_map)
        cfg = self.model.config
        self.stages = tuple(
            name
            for name, present in (
                ("duration", cfg.predict_dur),
                ("pitch", cfg.predict_pitch),
                ("variance", cfg.predict_variances),
            )
            if present
        )
        self.curve_names: tuple[str, ...] = tuple(cfg.variances.names) if cfg.predict_variances else ()
        self.speakers = tuple(self.model.spk_map)

    def _speaker_mix(self, speaker: str | None) -> dict[str, float | str] | None:
        if not self.model.config.use_spk_id:
            return None
        name = speaker if speaker in self.model.spk_map else (self.files.speaker or self.speakers[0])
        return {str(name): 1.0}

    def apply(
        self, phrase: Phrase, expression: Expression, *, speaker: str | None, seed: int, on_step: StepHook = None
    ) -> StageResult:
        """The phrase with what this voice's variance model predicts written in (see the module docstring)."""
        cfg = self.model.config
        predict_durations = expression == "voice" and cfg.predict_dur
        inputs = self.model.build_inputs(_segment(phrase, not predict_durations), speakers=self._speaker_mix(speaker))
        timestep = cfg.timestep
        use_score_pitch = expression == "score" or not cfg.predict_pitch
        if use_score_pitch and cfg.predict_variances:
            # The variance predictor hears the score's pitch (openvpi: a given f0 is used, not re-predicted).
            inputs.pitch = torch.from_numpy(_f0_to_midi_frames(phrase, timestep, inputs.frames))[None]
        generator = torch.Generator().manual_seed(seed)
        pred = self.model.predict(inputs, generator=generator, on_step=on_step)
        changes: dict[str, Any] = {}
        if predict_durations and pred.ph_dur_raw is not None:
            frames = pred.ph_dur.reshape(-1).numpy().astype(np.int64)
            changes["ph_dur_s"] = tuple(float(f) * timestep for f in frames)
        pitch_from: Source = "score"
        if not use_score_pitch and pred.pitch_midi is not None:
            midi = pred.pitch_midi.reshape(-1).numpy().astype(np.float64)
            changes["f0_hz"] = tuple((440.0 * 2.0 ** ((midi - 69.0) / 12.0)).tolist())
            changes["f0_timestep_s"] = timestep
            pitch_from = "model"
        extra = dict(phrase.extra)
        for name, curve in pred.variances.items():
            extra[name] = [round(float(v), 4) for v in curve.reshape(-1).tolist()]
            extra[f"{name}_timestep"] = timestep
        changes["extra"] = extra
        return StageResult(
            phrase=replace(phrase, **changes),
            durations_from="model" if "ph_dur_s" in changes else "score",
            pitch_from=pitch_from,
            curves_from="model" if pred.variances else "defaults",
            curve_names=tuple(pred.variances),
        )
