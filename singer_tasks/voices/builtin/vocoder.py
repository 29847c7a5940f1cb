"""Weight-free vocoders of the built-in voice.

`BuiltinVocoder.synthesize(mel, f0)` is a real, if plain, vocoder for any mel of the shared
definition: an excitation (band-limited pulses at f0 where voiced, white noise where not) is analysed
with the mel's own STFT, each frame's spectrum is reshaped so that its mel-band energies become the
target mel's, and the frames are overlap-added. It sounds buzzier than the DSP voice itself, so the
built-in voice's pipeline passes the waveform its acoustic stage synthesised straight through
(`BuiltinRendering.waveform`); this vocoder is the fallback for a mel without that waveform.
"""

from __future__ import annotations

import numpy as np
import torch

from singer_tasks.voices.mel import MelConfig, mel_filterbank


class BuiltinVocoder:
    """mel [T, n_mels] (ln) + f0 [T] Hz -> waveform [T * hop] float32, deterministic for a seed."""

    def __init__(self, mel_config: MelConfig | None = None) -> None:
        self.cfg = mel_config or MelConfig()
        cfg = self.cfg
        basis = mel_filterbank(cfg.sample_rate, cfg.fft_size, cfg.n_mels, cfg.fmin, cfg.fmax).astype(np.float64)
        self.basis = basis
        # Spreading a band's energy back over its bins: a flat spectrum c maps to mel c * rowsum.
        self.rowsum = basis.sum(axis=1)
        self.spread = basis / np.maximum(basis.sum(axis=0, keepdims=True), 1e-12)

    def _excitation(self, f0: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        cfg = self.cfg
        times = (np.arange(n) + 0.5) / cfg.sample_rate
        frame_times = (np.arange(len(f0)) + 0.5) * cfg.frame_s
        f0_s = np.interp(times, frame_times, f0)
        voiced = f0_s > 0
        phase = 2 * np.pi * np.cumsum(np.where(voiced, f0_s, 0.0) / cfg.sample_rate)
        k_max = int(0.45 * cfg.sample_rate / max(float(f0[f0 > 0].min()) if np.any(f0 > 0) else 100.0, 40.0))
        pulses = np.zeros(n)
        for k in range(1, k_max + 1):
            below = k * f0_s < 0.45 * cfg.sample_rate
            pulses += np.where(below, np.cos(k * phase), 0.0)
        # Equal-power harmonics: scale so that the average spectral density matches unit white noise.
        pulses *= np.sqrt(2.0 * np.maximum(f0_s, 1.0) / cfg.sample_rate)
        return np.where(voiced, pulses, rng.standard_normal(n))

    def synthesize(self, mel: np.ndarray, f0: np.ndarray, seed: int = 0) -> np.ndarray:
        """Waveform whose mel approximates `mel`, pitched at `f0` (0 = unvoiced frames)."""
        cfg = self.cfg
        frames = mel.shape[0]
        n = frames * cfg.hop_size
        rng = np.random.default_rng(seed)
        excitation = self._excitation(np.asarray(f0, dtype=np.float64), n, rng)
        left = (cfg.win_size - cfg.hop_size) // 2
        padded = np.pad(excitation, (left, cfg.win_size - cfg.hop_size - left), mode="reflect")
        window = torch.hann_window(cfg.win_size, dtype=torch.float64).numpy()
        idx = np.arange(cfg.win_size)[None, :] + cfg.hop_size * np.arange(frames)[:, None]
        spec = np.fft.rfft(padded[idx] * window, cfg.fft_size, axis=1)  # (T, F)
        # Per-bin gain: target band energy over the excitation's band energy, spread back to bins.
        have = np.abs(spec) @ self.basis.T  # (T, n_mels)
        want = np.exp(np.asarray(mel, dtype=np.float64))
        gain = (want / np.maximum(have, 1e-9)) @ self.spread  # (T, F)
        frames_out = np.fft.irfft(spec * gain, cfg.fft_size, axis=1)[:, : cfg.win_size] * window
        out = np.zeros(len(padded))
        norm = np.zeros(len(padded))
        for i in range(frames):
            out[idx[i]] += frames_out[i]
            norm[idx[i]] += window**2
        wave = out[left : left + n] / np.maximum(norm[left : left + n], 1e-3)
        return np.clip(wave, -1.0, 1.0).astype(np.float32)
