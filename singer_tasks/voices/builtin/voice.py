"""The built-in voice's acoustic stage: Phrase -> mel [T, n_mels] + f0 [T] (+ the waveform behind them).

Frame count follows openvpi: round(cumsum(ph_dur) / frame_s + 0.5) of the last phoneme, so the audio
is exactly T * hop samples long and matches a DiffSinger voice's length for the same phrase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from singer_tasks.errors import RenderInputError
from singer_tasks.phrase import Phrase
from singer_tasks.voices.builtin.controls import build_controls, f0_track
from singer_tasks.voices.builtin.phonemes import sounds_for
from singer_tasks.voices.builtin.synth import synthesize
from singer_tasks.voices.diffsinger.acoustic.inputs import phrase_mel2ph, resample_curve
from singer_tasks.voices.mel import MelConfig, mel_spectrogram


@dataclass
class BuiltinRendering:
    """mel [T, n_mels] (ln), f0 [T] Hz (0 = unvoiced) and the waveform [T * hop] they were computed from."""

    mel: np.ndarray
    f0: np.ndarray
    waveform: np.ndarray


class BuiltinAcoustic:
    """Weight-free acoustic stage; `render` is deterministic for a given seed."""

    def __init__(self, mel_config: MelConfig | None = None) -> None:
        self.mel_config = mel_config or MelConfig()

    def check_phonemes(self, phrase: Phrase) -> None:
        """Raise PhonemeError naming any phoneme the built-in voice cannot sing."""
        sounds_for(phrase.ph_seq, phrase.lang)

    def render(self, phrase: Phrase, seed: int = 0) -> BuiltinRendering:
        """Synthesise one phrase and compute its mel with the shared mel definition."""
        cfg = self.mel_config
        if not phrase.ph_seq:
            raise RenderInputError("the phrase has no phonemes")
        sounds = sounds_for(phrase.ph_seq, phrase.lang)
        frames = int(phrase_mel2ph(phrase.ph_dur_s, cfg.frame_s).shape[1])
        if frames == 0:
            raise RenderInputError("the phrase is shorter than one frame")
        n = frames * cfg.hop_size
        controls = build_controls(phrase, sounds, n, cfg.sample_rate)
        wave = synthesize(controls, n, cfg.sample_rate, seed)
        mel = mel_spectrogram(torch.from_numpy(wave), cfg).T.numpy()
        f0 = self._frame_f0(phrase, sounds_voiced=[s.voiced for s in sounds], frames=frames)
        return BuiltinRendering(mel=mel, f0=f0, waveform=wave)

    def _frame_f0(self, phrase: Phrase, sounds_voiced: list[bool], frames: int) -> np.ndarray:
        cfg = self.mel_config
        times = (np.arange(frames) + 0.5) * cfg.frame_s
        if phrase.f0_hz and any(f > 0 for f in phrase.f0_hz):
            f0 = resample_curve(phrase.f0_hz, phrase.f0_timestep_s, cfg.frame_s, frames).astype(np.float64)
        else:
            f0 = f0_track(phrase, times)
        edges = np.cumsum(phrase.ph_dur_s)
        idx = np.clip(np.searchsorted(edges, times, side="right"), 0, len(sounds_voiced) - 1)
        return np.where(np.array(sounds_voiced)[idx], f0, 0.0).astype(np.float32)
