"""Measurement helpers for the voice tests: a YIN pitch tracker and LPC formant estimation (numpy)."""

from __future__ import annotations

import numpy as np


def yin_pitch(x: np.ndarray, sr: int, hop: int = 512, frame: int = 2048, fmin: float = 60.0, fmax: float = 1200.0,
              threshold: float = 0.15) -> np.ndarray:  # fmt: skip
    """f0 per hop (0 where aperiodic or silent) by YIN's cumulative mean normalised difference."""
    x = np.asarray(x, dtype=np.float64)
    tau_min, tau_max = int(sr / fmax), int(sr / fmin)
    out = []
    for start in range(0, len(x) - frame - tau_max, hop):
        seg = x[start : start + frame + tau_max]
        if np.sum(seg[:frame] ** 2) < 1e-5 * frame:
            out.append(0.0)
            continue
        d = np.array([np.sum((seg[:frame] - seg[tau : tau + frame]) ** 2) for tau in range(tau_max + 1)])
        cmnd = np.concatenate([[1.0], d[1:] * np.arange(1, tau_max + 1) / np.maximum(np.cumsum(d[1:]), 1e-12)])
        below = np.where(cmnd[tau_min:] < threshold)[0]
        if len(below) == 0:
            out.append(0.0)
            continue
        tau = int(below[0]) + tau_min
        while tau + 1 <= tau_max and cmnd[tau + 1] < cmnd[tau]:
            tau += 1
        shift = 0.0
        if 1 <= tau < tau_max:
            a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        out.append(sr / (tau + shift))
    return np.array(out)


def lpc_formants(x: np.ndarray, sr: int, order: int = 10, target_sr: int = 10000) -> list[float]:
    """Formant frequencies (ascending) from LPC roots of a vowel segment resampled to target_sr."""
    x = np.asarray(x, dtype=np.float64)
    spec = np.fft.rfft(x)
    y = np.fft.irfft(spec[: int(len(spec) * target_sr / sr)], int(len(x) * target_sr / sr))
    y = np.append(y[0], y[1:] - 0.63 * y[:-1]) * np.hamming(len(y))
    r = np.correlate(y, y, "full")[len(y) - 1 : len(y) + order]
    a = np.zeros(order + 1)
    a[0] = 1.0
    err = r[0]
    for i in range(1, order + 1):  # Levinson-Durbin
        k = -(r[i] + np.dot(a[1:i], r[i - 1 : 0 : -1])) / err
        a[1 : i + 1] = a[1 : i + 1] + k * np.concatenate([a[i - 1 : 0 : -1], [1.0]])
        err *= 1 - k * k
    roots = [z for z in np.roots(a) if z.imag > 0]
    freqs = np.angle(roots) * target_sr / (2 * np.pi)
    bandwidths = -np.log(np.abs(roots)) * target_sr / np.pi
    return sorted(float(f) for f, b in zip(freqs, bandwidths, strict=True) if f > 150 and b < 500)


def cents(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|1200 log2(a / b)|."""
    return np.abs(1200 * np.log2(a / b))
