"""The f0 curve: on pitch in each note's steady part, smooth transitions, light vibrato, 0 on rests."""

from __future__ import annotations

import numpy as np
import pytest

from singer_tasks.phonemize import PhraseOptions, score_to_phrases
from singer_tasks.phrase import Phrase
from tests.singer_tasks.fixtures.scores.songs import song
from tests.singer_tasks.fixtures.scores.xmlbuild import midi_of

STEP = 0.005


def cents(f0: np.ndarray, midi: float) -> np.ndarray:
    return 1200 * np.log2(f0 / (440.0 * 2 ** ((midi - 69) / 12)))


def one_phrase(items: list[tuple[object, ...]], **kw: float) -> Phrase:
    (p,) = score_to_phrases(song(items), language="en", options=PhraseOptions(**kw))
    return p


def note_spans(p: Phrase) -> list[tuple[str, float, float]]:
    out, t = [], 0.0
    for name, dur in zip(p.note_seq, p.note_dur_s, strict=True):
        out.append((name, t, t + dur))
        t += dur
    return out


def test_f0_length_and_timestep() -> None:
    p = one_phrase([("rest", 0.5), ("A4", 1.0, "la"), ("rest", 0.5)])
    assert p.f0_timestep_s == STEP
    assert len(p.f0_hz) == int(np.ceil(p.duration_s / STEP - 1e-9))


def test_steady_parts_are_on_pitch_without_vibrato() -> None:
    pitches = ["C4", "G4", "E4", "A#4", "D5"]
    p = one_phrase([("rest", 0.5), *[(n, 0.6, "la") for n in pitches], ("rest", 0.5)], vibrato_cents=0)
    f0 = np.array(p.f0_hz)
    t = np.arange(len(f0)) * STEP
    sung = [span for span in note_spans(p) if span[0] != "rest"]
    assert [s[0] for s in sung] == pitches
    for name, start, end in sung:
        steady = (t >= start + 0.06) & (t < end - 0.1)  # away from glides and the next l
        assert np.max(np.abs(cents(f0[steady], midi_of(name)))) < 3


def test_zero_on_rests() -> None:
    p = one_phrase([("rest", 1.0), ("A4", 1.0, "ah"), ("rest", 1.0)])
    f0 = np.array(p.f0_hz)
    t = np.arange(len(f0)) * STEP
    start, end = note_spans(p)[1][1:]
    assert np.all(f0[t < start - 1e-9] == 0)
    assert np.all(f0[t >= end] == 0)
    assert np.all(f0[(t > start) & (t < end)] > 0)


def test_transition_is_smooth_and_monotonic() -> None:
    p = one_phrase([("rest", 0.5), ("C4", 0.5, "ah"), ("G4", 0.5, "ah"), ("rest", 0.5)], vibrato_cents=0)
    f0 = np.array(p.f0_hz)
    t = np.arange(len(f0)) * STEP
    boundary = note_spans(p)[2][1]
    around = (t > boundary - 0.1) & (t < boundary + 0.1)
    semis = 12 * np.log2(f0[around] / 440.0)
    assert np.all(np.diff(semis) >= -1e-9)
    assert np.max(np.diff(semis)) < 1.0  # no jump of a semitone between 5 ms samples
    mid = 12 * np.log2(f0[np.argmin(np.abs(t - boundary))] / 440.0) + 69
    assert midi_of("C4") + 2 < mid < midi_of("G4") - 2


def test_vibrato_on_long_notes_only() -> None:
    opts = PhraseOptions()
    p = one_phrase([("rest", 0.5), ("A4", 2.0, "ah"), ("C5", 0.3, "ah"), ("rest", 0.5)])
    f0 = np.array(p.f0_hz)
    t = np.arange(len(f0)) * STEP
    (_, a_start, a_end), (_, c_start, c_end) = [s for s in note_spans(p) if s[0] != "rest"]
    settled = (t >= a_start + opts.vibrato_delay_s + opts.vibrato_fade_s) & (t < a_end - 0.15)
    dev = cents(f0[settled], midi_of("A4"))
    assert opts.vibrato_cents * 0.9 < np.max(np.abs(dev)) <= opts.vibrato_cents + 0.5
    assert abs(np.mean(dev)) < 3
    # zero crossings of the deviation give the rate
    crossings = np.sum(np.diff(np.sign(dev)) != 0)
    seconds = np.sum(settled) * STEP
    assert crossings / (2 * seconds) == pytest.approx(opts.vibrato_hz, rel=0.15)
    short = (t >= c_start + 0.06) & (t < c_end - 0.06)
    assert np.max(np.abs(cents(f0[short], midi_of("C5")))) < 3
