"""Walking one music21 part into timed notes and rests (used by `singer_tasks.score.read` only).

Offsets come from music21 in quarter lengths, measure by measure (pickup measures and time-signature
changes are already in the measure offsets); a tempo map built from the score's metronome marks turns
them into seconds. Only the first voice of a measure is sung; ties are merged here, grace notes are
skipped (they take no time in the score), a chord sings its top note.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from typing import Any

from singer_tasks.score.model import Event, Note, Rest, Syllabic

_SYLLABIC: dict[str, Syllabic] = {"single": "single", "begin": "begin", "middle": "middle", "end": "end"}
_EPS_Q = 1e-9


@dataclass(frozen=True)
class TempoMap:
    """Piecewise-constant tempo: quarter-length offsets to seconds."""

    starts_q: tuple[float, ...]
    starts_s: tuple[float, ...]
    s_per_q: tuple[float, ...]

    @classmethod
    def from_music21(cls, m21score: Any) -> TempoMap:
        """From music21's metronome-mark boundaries (120 bpm where the score gives no tempo)."""
        starts_q: list[float] = []
        starts_s: list[float] = []
        s_per_q: list[float] = []
        for start, end, mark in m21score.metronomeMarkBoundaries():
            if end <= start and starts_q:
                continue  # music21 reports zero-length boundaries for marks at the same offset
            if mark.getQuarterBPM() is None:  # a text-only tempo ("Langsam"): keep the previous tempo
                if starts_q:
                    continue
                spq = 0.5
            else:
                spq = float(mark.secondsPerQuarter())
            if starts_q and abs(float(start) - starts_q[-1]) < _EPS_Q:
                s_per_q[-1] = spq  # the later mark at one offset wins
                continue
            seconds = starts_s[-1] + (float(start) - starts_q[-1]) * s_per_q[-1] if starts_q else 0.0
            starts_q.append(float(start))
            starts_s.append(seconds)
            s_per_q.append(spq)
        if not starts_q:
            starts_q, starts_s, s_per_q = [0.0], [0.0], [0.5]
        return cls(tuple(starts_q), tuple(starts_s), tuple(s_per_q))

    def seconds(self, offset_q: float) -> float:
        """The time in seconds of a quarter-length offset."""
        i = max(bisect.bisect_right(self.starts_q, offset_q + _EPS_Q) - 1, 0)
        return self.starts_s[i] + (offset_q - self.starts_q[i]) * self.s_per_q[i]


@dataclass
class _Raw:
    """A note or rest in quarter lengths, before ties are merged and times converted."""

    onset_q: float
    dur_q: float
    midi: float | None  # None for a rest
    lyric: str | None = None
    syllabic: Syllabic = "single"
    tie_on: bool = False  # a tie starts or continues from this note
    tie_in: bool = False  # this note is tied from the previous one
    breath: bool = False


def lyric_lines(part: Any) -> list[int]:
    """The lyric line numbers used in a part, in order: verse N is the N-th of them."""
    return sorted({ly.number for n in part.recurse().notes for ly in n.lyrics if ly.text})


def part_events(part: Any, verse: int, tempo: TempoMap) -> tuple[list[Event], int]:
    """The part's events for one verse (1-based, counting the lyric lines the part uses), tiling
    [0, end]; also how many lyric-less notes after a rest were turned into rests (a note with nothing
    to sing and no syllable to continue)."""
    raws = _merge_ties(list(_walk(part, lyric_lines(part), verse)))
    events: list[Event] = []
    unsung = 0
    cursor_q = 0.0
    previous_sung = False
    for raw in raws:
        if raw.onset_q > cursor_q + _EPS_Q:  # a gap (hidden rest, missing notes): silence
            events.append(_rest(cursor_q, raw.onset_q, tempo))
            previous_sung = False
        if raw.onset_q + _EPS_Q < cursor_q:  # overlaps what is already placed (a stray second voice)
            continue
        cursor_q = raw.onset_q + raw.dur_q
        if raw.midi is None or (raw.lyric is None and not previous_sung):
            unsung += raw.midi is not None
            events.append(_rest(raw.onset_q, cursor_q, tempo))
            previous_sung = False
            continue
        onset_s = tempo.seconds(raw.onset_q)
        events.append(
            Note(
                onset_s=onset_s,
                duration_s=tempo.seconds(cursor_q) - onset_s,
                midi=raw.midi,
                lyric=raw.lyric,
                syllabic=raw.syllabic,
                melisma=raw.lyric is None,
                breath_after=raw.breath,
            )
        )
        previous_sung = True
    return _merge_rests(events), unsung


def _walk(part: Any, lines: list[int], verse: int) -> Any:
    passes: Counter[Any] = Counter()
    for measure in part.getElementsByClass("Measure"):
        container = measure.voices[0] if measure.hasVoices() else measure
        base_q = float(measure.offset) + (float(container.offset) if container is not measure else 0.0)
        line = _lyric_line(container, measure.number, lines, verse, passes)
        for el in container.notesAndRests:
            if el.duration.isGrace or float(el.quarterLength) <= 0:
                continue
            yield _raw(el, base_q + float(el.offset), line)


def _lyric_line(container: Any, number: Any, lines: list[int], verse: int, passes: Counter[Any]) -> int:
    """The lyric number to sing in this measure: after repeats are expanded, the k-th pass through a
    measure sings verse+k-1 where the measure has it (the usual "1. ... 2. ..." under a repeat), and
    the chosen verse where it does not (a refrain written once)."""
    passes[number] += 1
    chosen = lines[verse - 1] if verse <= len(lines) else -1
    index = verse - 1 + passes[number] - 1
    if passes[number] == 1 or index >= len(lines):
        return chosen
    line = lines[index]
    has_line = any(ly.number == line and ly.text for n in container.notes for ly in n.lyrics)
    return line if has_line else chosen


def _raw(el: Any, onset_q: float, verse: int) -> _Raw:
    dur_q = float(el.quarterLength)
    if el.isRest:
        return _Raw(onset_q, dur_q, None)
    if el.isChord:
        if not el.pitches:
            return _Raw(onset_q, dur_q, None)
        midi = max(float(p.ps) for p in el.pitches)
    elif hasattr(el, "pitch"):
        midi = float(el.pitch.ps)
    else:  # unpitched percussion: nothing to sing
        return _Raw(onset_q, dur_q, None)
    tie = getattr(el.tie, "type", None) if el.tie is not None else None
    lyric, syllabic = _lyric(el, verse)
    breath = any(type(a).__name__ == "BreathMark" for a in el.articulations)
    return _Raw(
        onset_q, dur_q, midi, lyric, syllabic, tie in ("start", "continue"), tie in ("stop", "continue"), breath
    )


def _lyric(el: Any, verse: int) -> tuple[str | None, Syllabic]:
    for lyric in el.lyrics:
        if lyric.number != verse:
            continue
        if lyric.components:  # an elision: two syllables on one note, sung as one
            text = " ".join(c.text or "" for c in lyric.components).strip()
            syllabic: Syllabic = "single"
        else:
            text = (lyric.text or "").strip()
            syllabic = _SYLLABIC.get(lyric.syllabic or "single", "single")
        return (text or None), syllabic
    return None, "single"


def _merge_ties(raws: list[_Raw]) -> list[_Raw]:
    merged: list[_Raw] = []
    for raw in raws:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and raw.tie_in
            and prev.tie_on
            and prev.midi == raw.midi
            and abs(prev.onset_q + prev.dur_q - raw.onset_q) < _EPS_Q
        ):
            prev.dur_q += raw.dur_q
            prev.tie_on = raw.tie_on
            prev.breath = raw.breath
            continue
        merged.append(raw)
    return merged


def _rest(start_q: float, end_q: float, tempo: TempoMap) -> Rest:
    start_s = tempo.seconds(start_q)
    return Rest(start_s, tempo.seconds(end_q) - start_s)


def _merge_rests(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for ev in events:
        if isinstance(ev, Rest) and out and isinstance(out[-1], Rest):
            out[-1] = Rest(out[-1].onset_s, ev.end_s - out[-1].onset_s)
        else:
            out.append(ev)
    return out
