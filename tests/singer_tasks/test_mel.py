"""The shared mel definition against an independent numpy computation.

The reference below builds the Slaney mel filterbank from its textbook definition (loop over filters,
mel scale from its two-segment formula) and the spectrogram by an explicit windowed DFT per frame,
sharing no code with singer_tasks.voices.mel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from singer_tasks.voices.mel import MelConfig, hz_to_mel, mel_filterbank, mel_spectrogram, mel_to_hz


def _slaney_mel(f: float) -> float:
    return f / (200 / 3) if f < 1000 else 15 + math.log(f / 1000) * 27 / math.log(6.4)


def _slaney_hz(m: float) -> float:
    return m * 200 / 3 if m < 15 else 1000 * math.exp((m - 15) * math.log(6.4) / 27)


def _reference_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    m_lo, m_hi = _slaney_mel(fmin), _slaney_mel(fmax)
    centers = [_slaney_hz(m_lo + (m_hi - m_lo) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    bins = [k * sr / n_fft for k in range(n_fft // 2 + 1)]
    fb = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        lo, mid, hi = centers[i], centers[i + 1], centers[i + 2]
        for k, f in enumerate(bins):
            if lo < f < hi:
                fb[i, k] = (f - lo) / (mid - lo) if f <= mid else (hi - f) / (hi - mid)
        fb[i] *= 2 / (hi - lo)  # Slaney normalisation: each triangle has unit area
    return fb


def _reference_mel(wav: np.ndarray, cfg: MelConfig) -> np.ndarray:
    pad_l = (cfg.win_size - cfg.hop_size) // 2
    pad_r = (cfg.win_size - cfg.hop_size + 1) // 2
    y = np.pad(wav.astype(np.float64), (pad_l, pad_r), mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.win_size) / cfg.win_size)  # periodic Hann
    frames = 1 + (len(y) - cfg.fft_size) // cfg.hop_size
    k = np.arange(cfg.fft_size // 2 + 1)[:, None]
    n = np.arange(cfg.fft_size)[None, :]
    dft = np.exp(-2j * np.pi * k * n / cfg.fft_size)
    spec = np.stack(
        [np.abs(dft @ (y[i * cfg.hop_size : i * cfg.hop_size + cfg.fft_size] * window)) for i in range(frames)], 1
    )
    fb = _reference_filterbank(cfg.sample_rate, cfg.fft_size, cfg.n_mels, cfg.fmin, cfg.fmax)
    return np.log(np.maximum(fb @ spec, 1e-5))


def test_mel_scale_known_points() -> None:
    assert hz_to_mel(np.array([1000.0]))[0] == pytest.approx(15.0)
    assert hz_to_mel(np.array([500.0]))[0] == pytest.approx(7.5)
    assert mel_to_hz(hz_to_mel(np.array([40.0, 3000.0, 16000.0]))) == pytest.approx([40.0, 3000.0, 16000.0])


def test_filterbank_matches_reference() -> None:
    cfg = MelConfig()
    ours = mel_filterbank(cfg.sample_rate, cfg.fft_size, cfg.n_mels, cfg.fmin, cfg.fmax)
    ref = _reference_filterbank(cfg.sample_rate, cfg.fft_size, cfg.n_mels, cfg.fmin, cfg.fmax)
    assert ours.shape == (128, 1025)
    assert np.abs(ours - ref).max() < 1e-6 * np.abs(ref).max() + 1e-9


def test_mel_spectrogram_matches_reference() -> None:
    cfg = MelConfig()
    rng = np.random.default_rng(0)
    t = np.arange(cfg.hop_size * 12) / cfg.sample_rate
    wav = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    ours = mel_spectrogram(torch.from_numpy(wav.astype(np.float32)), cfg).numpy()
    ref = _reference_mel(wav, cfg)
    assert ours.shape == ref.shape == (128, 12)
    assert np.abs(ours - ref).max() < 1e-3
    # The 220 Hz partial peaks in the mel bin whose centre frequency is nearest to it.
    centres = mel_to_hz(np.linspace(hz_to_mel(np.array([40.0]))[0], hz_to_mel(np.array([16000.0]))[0], 130))[1:-1]
    assert abs(int(ours[:, 6].argmax()) - int(np.abs(centres - 220).argmin())) <= 1


def test_batched_and_silent_input() -> None:
    cfg = MelConfig()
    mel = mel_spectrogram(torch.zeros(2, 2048), cfg)
    assert mel.shape == (2, 128, 4)
    assert torch.allclose(mel, torch.full_like(mel, math.log(1e-5)))
