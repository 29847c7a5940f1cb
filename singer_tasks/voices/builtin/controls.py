"""Control tracks of the built-in voice: f0, formants and source amplitudes at a fixed control rate.

Each phoneme writes its targets into its own time span; formant tracks are then smoothed across
boundaries (coarticulation) and amplitudes lightly smoothed (no clicks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from singer_tasks.phrase import Phrase
from singer_tasks.voices.builtin.phonemes import TARGETS, Sound

CTRL_HOP = 128  # samples per control frame (2.9 ms at 44.1 kHz)
_NASAL_MURMURS = ("m", "n", "ng")
_NOTE = re.compile(r"^([A-Ga-g])([#b]*)(-?\d+)$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass
class Controls:
    """Tracks at the control rate (length C); Hz for frequencies, linear gains for amplitudes."""

    f0: np.ndarray
    formants: np.ndarray  # (C, 3)
    voice: np.ndarray
    frication: np.ndarray
    band_lo: np.ndarray
    band_hi: np.ndarray
    aspiration: np.ndarray


def note_hz(name: str) -> float:
    """Frequency of a note name such as 'C#4' or 'Bb3' (A4 = 440 Hz); 0 for 'rest'."""
    if name == "rest":
        return 0.0
    match = _NOTE.match(name)
    if match is None:
        raise ValueError(f"cannot read note name {name!r}")
    semitone = _STEPS[match.group(1).upper()] + match.group(2).count("#") - match.group(2).count("b")
    midi = 12 * (int(match.group(3)) + 1) + semitone
    return float(440.0 * 2 ** ((midi - 69) / 12))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    pad = width // 2
    padded = np.pad(x, [(pad, width - 1 - pad)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    if x.ndim == 1:
        return np.convolve(padded, kernel, mode="valid")
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(x.shape[1])], axis=1)


def f0_track(phrase: Phrase, times: np.ndarray) -> np.ndarray:
    """The phrase's f0 at `times`; unvoiced gaps are bridged with the nearest sung pitch."""
    f0 = np.asarray(phrase.f0_hz, dtype=np.float64)
    if f0.size == 0 or not np.any(f0 > 0):
        # No pitch curve: hold each note's pitch.
        edges = np.concatenate([[0.0], np.cumsum(phrase.note_dur_s)])
        pitches = np.array([note_hz(n) for n in phrase.note_seq] or [220.0])
        idx = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, len(pitches) - 1)
        f0_t = pitches[idx]
    else:
        grid = np.arange(f0.size) * phrase.f0_timestep_s
        f0_t = np.interp(times, grid, f0)
        # np.interp blends into zeros at voicing edges; take the nearest value there instead.
        nearest = f0[np.clip(np.round(times / phrase.f0_timestep_s).astype(int), 0, f0.size - 1)]
        f0_t = np.where((nearest > 0) & (f0_t < nearest * 0.97), nearest, f0_t)
    voiced = f0_t > 0
    if not np.any(voiced):
        return np.full_like(times, 220.0)
    idx = np.where(voiced, np.arange(len(times)), 0)
    np.maximum.accumulate(idx, out=idx)
    filled = f0_t[idx]
    first = int(np.argmax(voiced))
    filled[:first] = f0_t[first]
    return filled


def _vibrato(phrase: Phrase, times: np.ndarray) -> np.ndarray:
    """Pitch factor with a gentle vibrato (5.5 Hz, +-15 cents) that grows in on notes longer than 0.4 s."""
    factor = np.ones_like(times)
    onset = 0.0
    for dur in phrase.note_dur_s:
        if dur > 0.4:
            local = times - onset
            ramp = np.clip((local - 0.25) / 0.2, 0.0, 1.0) * (local < dur)
            factor *= 2 ** (0.15 * ramp * np.sin(2 * np.pi * 5.5 * local) / 12)
        onset += dur
    return factor


def _trajectory(sound: Sound, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Formants (n, 3) and voice gain (n,) along one phoneme at relative positions rel in [0, 1)."""
    points = np.array([t for _, t in sound.trajectory])
    targets = np.array(sound.targets, dtype=np.float64)
    gains = np.array(
        [0.45 if name in _NASAL_MURMURS and sound.kind == "vowel" else 1.0 for name, _ in sound.trajectory]
    )
    formants = np.stack([np.interp(rel, points, targets[:, i]) for i in range(3)], axis=1)
    return formants, np.interp(rel, points, gains) * sound.voice_gain


@dataclass
class _Tracks:
    formants: np.ndarray
    voice: np.ndarray
    fric: np.ndarray
    asp: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _write_phoneme(tracks: _Tracks, sound: Sound, span: np.ndarray, local: np.ndarray, dur: float) -> None:
    """Write one phoneme's targets into the control frames `span` (local = seconds into the phoneme)."""
    if sound.trajectory:
        f, g = _trajectory(sound, local / max(dur, 1e-9))
        tracks.formants[span] = f
        if sound.voiced and not sound.closure:
            tracks.voice[span] = g
    if sound.noise_band is not None:
        tracks.lo[span], tracks.hi[span] = sound.noise_band
    if sound.kind in ("stop", "affricate"):
        # A closure (silent, or a soft voice bar when voiced), then the burst / frication at the end.
        noisy_s = min(dur * 0.5, 0.02 + (0.04 if sound.aspirated else 0.0))
        if sound.kind == "affricate":
            noisy_s = max(noisy_s, min(dur * 0.7, 0.06 + (0.05 if sound.aspirated else 0.0)))
        noisy = local >= dur - noisy_s
        tracks.fric[span] = np.where(noisy, sound.noise_gain, 0.0)
        if sound.voiced:
            tracks.voice[span] = np.where(noisy, sound.voice_gain, sound.voice_gain * 0.6)
        if sound.aspirated:
            tracks.asp[span] = np.where(local >= dur - noisy_s * 0.6, 0.08, 0.0)
    elif sound.kind == "fricative":
        tracks.fric[span] = sound.noise_gain
        if sound.voiced:
            tracks.voice[span] = sound.voice_gain
    elif sound.kind in ("aspirate", "breath"):
        tracks.asp[span] = sound.noise_gain * np.clip(np.minimum(local, dur - local) / 0.05, 0.0, 1.0)


def _fill_formants(formants: np.ndarray) -> np.ndarray:
    """Frames without targets (consonants, rests) take the nearest vowel's, the next one first."""
    count = len(formants)
    known = ~np.isnan(formants[:, 0])
    if not np.any(known):
        return np.tile(np.array(TARGETS["ax"], dtype=np.float64), (count, 1))
    idx = np.arange(count)
    nxt = np.minimum.accumulate(np.where(known, idx, count)[::-1])[::-1]
    prev = np.maximum.accumulate(np.where(known, idx, -1))
    return formants[np.clip(np.where(nxt < count, nxt, prev), 0, count - 1)]  # type: ignore[no-any-return]


def build_controls(phrase: Phrase, sounds: list[Sound], n_samples: int, sample_rate: int) -> Controls:
    """Control tracks for a phrase whose audio is `n_samples` long."""
    count = n_samples // CTRL_HOP + 2
    times = np.arange(count) * CTRL_HOP / sample_rate
    tracks = _Tracks(
        formants=np.full((count, 3), np.nan),
        voice=np.zeros(count),
        fric=np.zeros(count),
        asp=np.zeros(count),
        lo=np.full(count, 2000.0),
        hi=np.full(count, 6000.0),
    )
    edges = np.concatenate([[0.0], np.cumsum(phrase.ph_dur_s)])
    for sound, start, end in zip(sounds, edges[:-1], edges[1:], strict=True):
        span = (times >= start) & (times < end)
        if np.any(span) and sound.kind != "silence":
            _write_phoneme(tracks, sound, span, times[span] - start, end - start)
    rate = sample_rate / CTRL_HOP
    return Controls(
        f0=f0_track(phrase, times) * _vibrato(phrase, times),
        formants=_smooth(_fill_formants(tracks.formants), int(0.03 * rate)),
        voice=_smooth(tracks.voice, int(0.012 * rate)),
        frication=_smooth(tracks.fric, int(0.006 * rate)),
        band_lo=tracks.lo,
        band_hi=tracks.hi,
        aspiration=_smooth(tracks.asp, int(0.01 * rate)),
    )
