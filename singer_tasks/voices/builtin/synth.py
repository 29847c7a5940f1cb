"""Source-filter synthesis of the built-in voice.

Voiced sound is additive: harmonics of f0 with a -6 dB/octave glottal tilt, each weighted by the
magnitude response of a cascade of formant resonators (F1-F3 from the controls, F4 and F5 fixed).
Noise (frication, bursts, aspiration, breaths) is shaped frame by frame in the frequency domain and
overlap-added. Everything is numpy; the output is float32 at the mel config's sample rate.
"""

from __future__ import annotations

import numpy as np

from singer_tasks.voices.builtin.controls import CTRL_HOP, Controls

BANDWIDTHS = (80.0, 100.0, 140.0, 200.0, 260.0)  # Hz, F1..F5
FIXED_HIGH_FORMANTS = (3500.0, 4500.0)
MAX_HARMONIC_HZ = 11000.0
VOICE_LEVEL = 0.05  # scales the resonator cascade's gain to a peak level around 0.3-0.5
NOISE_LEVEL = 0.9
_NOISE_WIN = 1024
_NOISE_HOP = 256


def resonance_gain(freqs: np.ndarray, formants: np.ndarray, sample_rate: int) -> np.ndarray:
    """|H(f)| of a cascade of unity-DC-gain two-pole resonators (Klatt-style).

    freqs: (..., K) Hz; formants: (..., 3) Hz, broadcast against freqs' leading dims.
    """
    all_formants = np.concatenate(
        [formants, np.broadcast_to(np.array(FIXED_HIGH_FORMANTS), (*formants.shape[:-1], 2))], axis=-1
    )
    omega = 2 * np.pi * freqs / sample_rate
    z1 = np.exp(-1j * omega)
    gain = np.ones(freqs.shape)
    for i, bw in enumerate(BANDWIDTHS):
        r = np.exp(-np.pi * bw / sample_rate)
        theta = 2 * np.pi * all_formants[..., i : i + 1] / sample_rate
        c = 2 * r * np.cos(theta)
        gain = gain * np.abs((1 - c + r * r) / (1 - c * z1 + r * r * z1 * z1))
    return gain


def _ctrl_to_samples(track: np.ndarray, n: int) -> np.ndarray:
    return np.interp(np.arange(n) / CTRL_HOP, np.arange(len(track)), track)  # type: ignore[no-any-return]


def voiced_part(ctrl: Controls, n: int, sample_rate: int, chunk: int = 8192) -> np.ndarray:
    """Harmonic synthesis of the voiced source through the formant cascade."""
    f0 = _ctrl_to_samples(ctrl.f0, n)
    phase = 2 * np.pi * np.cumsum(f0 / sample_rate)
    k_max = max(1, int(MAX_HARMONIC_HZ / max(float(ctrl.f0.min()), 50.0)))
    k = np.arange(1, k_max + 1, dtype=np.float64)
    # Harmonic amplitudes at the control rate: tilt x formant response x band limit x voicing.
    freqs = ctrl.f0[:, None] * k[None, :]
    amps = resonance_gain(freqs, ctrl.formants, sample_rate) / k[None, :]
    amps *= (freqs < min(MAX_HARMONIC_HZ, 0.45 * sample_rate)) * ctrl.voice[:, None] * VOICE_LEVEL
    out = np.zeros(n)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        pos = np.arange(start, stop) / CTRL_HOP
        i0 = np.minimum(pos.astype(int), len(ctrl.f0) - 2)
        frac = (pos - i0)[:, None]
        a = amps[i0] * (1 - frac) + amps[i0 + 1] * frac  # (S, K)
        out[start:stop] = np.sum(a * np.sin(phase[start:stop, None] * k[None, :]), axis=1)
    return out


def _band_shape(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Smooth band-pass (Gaussian in log frequency) between lo and hi Hz."""
    centre = np.sqrt(lo * hi)
    width = np.log(hi / lo) / 2.0
    return np.exp(-0.5 * (np.log(np.maximum(freqs, 1.0) / centre) / width) ** 2)  # type: ignore[no-any-return]


def noise_part(ctrl: Controls, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Frication and aspiration: random spectra shaped per frame, overlap-added with a Hann window."""
    freqs = np.fft.rfftfreq(_NOISE_WIN, 1 / sample_rate)
    window = np.hanning(_NOISE_WIN)
    frames = n // _NOISE_HOP + 2
    out = np.zeros(frames * _NOISE_HOP + _NOISE_WIN)
    highpass = 1 / (1 + (300.0 / np.maximum(freqs, 1.0)) ** 4)
    for i in range(frames):
        centre = i * _NOISE_HOP  # frame i covers [centre - WIN/2, centre + WIN/2)
        c = min(centre // CTRL_HOP, len(ctrl.f0) - 1)
        fric, asp = ctrl.frication[c], ctrl.aspiration[c]
        if fric < 1e-4 and asp < 1e-4:
            continue
        shape = np.zeros_like(freqs)
        if fric >= 1e-4:
            shape += fric * _band_shape(freqs, ctrl.band_lo[c], ctrl.band_hi[c])
        if asp >= 1e-4:
            shape += asp * 0.1 * resonance_gain(freqs, ctrl.formants[c], sample_rate) * highpass
        spectrum = (rng.standard_normal(len(freqs)) + 1j * rng.standard_normal(len(freqs))) * shape
        out[centre : centre + _NOISE_WIN] += np.fft.irfft(spectrum, _NOISE_WIN) * window
    # Hann windows at 1/4 overlap sum to 2; the irfft of unit-variance bins has variance ~ 1/WIN.
    scale = NOISE_LEVEL * np.sqrt(_NOISE_WIN) / 2
    return out[_NOISE_WIN // 2 : _NOISE_WIN // 2 + n] * scale  # type: ignore[no-any-return]


def synthesize(ctrl: Controls, n: int, sample_rate: int, seed: int = 0) -> np.ndarray:
    """The phrase's waveform (float32, n samples, within [-1, 1])."""
    rng = np.random.default_rng(seed)
    wave = voiced_part(ctrl, n, sample_rate) + noise_part(ctrl, n, sample_rate, rng)
    fade = min(n // 2, int(0.005 * sample_rate))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return np.clip(wave, -1.0, 1.0).astype(np.float32)  # type: ignore[no-any-return]
