"""The f0 curve of a phrase: note pitches, smooth note-to-note transitions, light vibrato, 0 on rests."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from singer_tasks.phonemize.options import PhraseOptions

A4_MIDI = 69.0
A4_HZ = 440.0
_VIBRATO_RELEASE_S = 0.1


@dataclass(frozen=True)
class PitchSegment:
    """A stretch of the phrase (seconds from its start) at one MIDI pitch; midi None is unvoiced (0 Hz).

    vibrato: the segment is a whole sung note, eligible for vibrato when long enough.
    """

    start_s: float
    end_s: float
    midi: float | None
    vibrato: bool = False


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray:
    """Equal-tempered frequency of a (fractional) MIDI pitch."""
    return np.asarray(A4_HZ * 2.0 ** ((np.asarray(midi, dtype=np.float64) - A4_MIDI) / 12.0))


def f0_curve(segments: Sequence[PitchSegment], duration_s: float, options: PhraseOptions) -> np.ndarray:
    """f0 in Hz sampled every options.f0_timestep_s from 0 while t < duration_s."""
    step = options.f0_timestep_s
    n = max(1, math.ceil(duration_s / step - 1e-9))
    t = np.arange(n) * step
    midi = np.full(n, np.nan)
    for seg in segments:
        midi[(t >= seg.start_s) & (t < seg.end_s)] = np.nan if seg.midi is None else seg.midi
    for left, right in itertools.pairwise(segments):
        _transition(t, midi, left, right, options.transition_s)
    for seg in segments:
        if seg.vibrato and seg.midi is not None and seg.end_s - seg.start_s >= options.vibrato_min_note_s:
            _vibrato(t, midi, seg, options)
    voiced = ~np.isnan(midi)
    f0 = np.zeros(n)
    f0[voiced] = midi_to_hz(midi[voiced])
    return f0


def _transition(t: np.ndarray, midi: np.ndarray, left: PitchSegment, right: PitchSegment, width_s: float) -> None:
    """Replace the step at a boundary by a raised-cosine glide (in semitones, i.e. log frequency)."""
    if left.midi is None or right.midi is None or left.midi == right.midi:
        return
    half = min(width_s / 2, 0.25 * (left.end_s - left.start_s), 0.25 * (right.end_s - right.start_s))
    if half <= 0:
        return
    lo = right.start_s - half
    window = (t >= lo) & (t < right.start_s + half)
    x = (t[window] - lo) / (2 * half)
    midi[window] = left.midi + (right.midi - left.midi) * (1 - np.cos(np.pi * x)) / 2


def _vibrato(t: np.ndarray, midi: np.ndarray, seg: PitchSegment, options: PhraseOptions) -> None:
    begin = seg.start_s + options.vibrato_delay_s
    window = (t >= begin) & (t < seg.end_s)
    since = t[window] - begin
    fade_in = np.clip(since / max(options.vibrato_fade_s, 1e-9), 0.0, 1.0)
    fade_out = np.clip((seg.end_s - t[window]) / _VIBRATO_RELEASE_S, 0.0, 1.0)
    depth = options.vibrato_cents / 100.0 * fade_in * fade_out
    midi[window] += depth * np.sin(2 * np.pi * options.vibrato_hz * since)
