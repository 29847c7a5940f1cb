"""Note inputs of the pitch predictor, built as OpenUtau's DsPitch builds them from a phrase."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from singer_tasks.voices.voicebank.builders import (
    HEAD_FRAMES,
    TAIL_FRAMES,
    Note,
    durations_ms_to_frames,
    fill_rest_midi,
    fit_duration_sum,
)

_EPS_MS = 1e-3  # OpenUtau compares ticks with a 1-tick margin; a microsecond margin does the same here


def _is_rest(
    note_start: float,
    note_end: float,
    names: Sequence[str],
    starts: NDArray[np.float64],
    ends: NDArray[np.float64],
    is_vowel: Callable[[str], bool],
) -> bool:
    """A note is a rest when no phoneme sung over it is a vowel other than SP/AP."""
    inside = [i for i in range(len(names)) if ends[i] > note_start + _EPS_MS and starts[i] < note_end - _EPS_MS]
    return all(names[i] in ("SP", "AP") or not is_vowel(names[i]) for i in inside)


def pitch_notes(
    notes: Sequence[Note],
    names: Sequence[str],
    phone_starts_ms: ArrayLike,
    phone_durations_ms: ArrayLike,
    frame_ms: float,
    total_frames: int,
    is_vowel: Callable[[str], bool],
) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.int64]]:
    """(note_midi, note_rest, note_dur frames) with a leading and a trailing rest note; time 0 = first note start.

    The head rest covers the pad and any leading consonants; rests (given or found from the phonemes) take the
    nearest note's pitch; note frames are fitted to the phrase's total.
    """
    starts = np.asarray(phone_starts_ms, dtype=np.float64)
    ends = starts + np.asarray(phone_durations_ms, dtype=np.float64)
    phrase_start = float(starts[0]) - HEAD_FRAMES * frame_ms
    dur_ms = [max(0.0, 0.0 - phrase_start)]
    midi = [notes[0].midi]
    rest = [True]
    position = 0.0
    for note in notes:
        dur_ms.append(note.duration_ms)
        midi.append(note.midi)
        if note.slur:
            rest.append(rest[-1])
        else:
            found = _is_rest(position, position + note.duration_ms, names, starts, ends, is_vowel)
            rest.append(note.rest or found)
        position += note.duration_ms
    dur_ms.append(TAIL_FRAMES * frame_ms)
    midi.append(notes[-1].midi)
    rest.append(True)
    note_dur = fit_duration_sum(durations_ms_to_frames(dur_ms, frame_ms), total_frames)
    return fill_rest_midi(midi, rest), np.array(rest, dtype=np.bool_), note_dur
