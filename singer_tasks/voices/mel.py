"""The one mel spectrogram definition of the project (openvpi / NSF-HiFiGAN's).

Reflect-pad (win - hop) / 2 samples on each side, `torch.stft` with center=False and a Hann window,
magnitude, a Slaney-style mel filterbank (librosa's default: Slaney mel scale, area-normalised
triangles), then ln(clamp(x, 1e-5)). The acoustic model predicts this mel and the vocoder consumes it;
the built-in voice computes its mel with it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

CLIP_VAL = 1e-5


@dataclass(frozen=True)
class MelConfig:
    """The mel spectrogram both the acoustic model and the vocoder must agree on."""

    sample_rate: int = 44100
    n_mels: int = 128
    hop_size: int = 512
    win_size: int = 2048
    fft_size: int = 2048
    fmin: float = 40.0
    fmax: float = 16000.0
    mel_base: str = "e"

    @property
    def frame_s(self) -> float:
        """Seconds per mel frame."""
        return self.hop_size / self.sample_rate


# Slaney mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel of frequencies in Hz."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = hz >= _MIN_LOG_HZ
    mel[log_part] = _MIN_LOG_MEL + np.log(hz[log_part] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    log_part = mel >= _MIN_LOG_MEL
    hz[log_part] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[log_part] - _MIN_LOG_MEL))
    return hz


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] float32 triangles on the Slaney mel scale, each of unit area (Slaney norm)."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array([fmin]))[0], hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _basis(config: MelConfig) -> Tensor:
    return torch.from_numpy(
        mel_filterbank(config.sample_rate, config.fft_size, config.n_mels, config.fmin, config.fmax)
    )


def mel_spectrogram(wav: Tensor, config: MelConfig) -> Tensor:
    """wav [B, N] or [N] in [-1, 1] -> ln mel [B, n_mels, N // hop] (or [n_mels, T] for 1-D input)."""
    squeeze = wav.dim() == 1
    y = wav[None] if squeeze else wav
    left = (config.win_size - config.hop_size) // 2
    right = (config.win_size - config.hop_size + 1) // 2
    y = torch.nn.functional.pad(y.unsqueeze(1).float(), (left, right), mode="reflect").squeeze(1)
    spec = torch.stft(
        y,
        config.fft_size,
        hop_length=config.hop_size,
        win_length=config.win_size,
        window=torch.hann_window(config.win_size),
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    ).abs()
    mel = torch.log(torch.clamp(torch.matmul(_basis(config), spec), min=CLIP_VAL))
    return mel[0] if squeeze else mel


def to_natural_log(mel: Tensor, mel_base: str) -> Tensor:
    """Convert a log10 mel (older voices, mel_base 10) to the ln mel the vocoder expects."""
    if mel_base == "e":
        return mel
    if mel_base in ("10", "10.0"):
        return 2.30259 * mel
    raise ValueError(f"mel_base must be 'e' or 10, got {mel_base!r}")
