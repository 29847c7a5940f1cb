"""Walking one music21 part into timed notes and rests (used by `singer_tasks.score.read` only).

Offsets come from music21 in quarter lengths, measure by measure (pickup measures and time-signature
changes are already in the measure offsets); a tempo map built from the score's metronome marks turns
them into seconds. One voice of a measure is sung (the one with the part's words, unless the tune is in
another one there: `_sung_voice`); ties are merged here (unless the tied-to note carries a syllable of its
own), grace notes with words are sung on their note's beat and those without are skipped, cue notes are
silent, a chord sings its top note. Which lyric line a bar sings, and which lyric-less notes hold a
syllable, follow the marks `singer_tasks.score.annotate` saved before music21 read the file.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from singer_tasks.score.annotate import MAX_BPM, MIN_BPM, NoteMarks, sane_bpm
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
    def from_music21(cls, m21score: Any, warnings: list[str] | None = None) -> TempoMap:
        """From music21's metronome-mark boundaries (120 bpm where the score gives no tempo). A mark
        whose quarter-note tempo is not finite or outside MIN_BPM..MAX_BPM is ignored (the previous
        tempo goes on), with a warning appended to `warnings`."""
        starts_q: list[float] = []
        starts_s: list[float] = []
        s_per_q: list[float] = []
        ignored: set[str] = set()
        for start, end, mark in m21score.metronomeMarkBoundaries():
            if end <= start and starts_q:
                continue  # music21 reports zero-length boundaries for marks at the same offset
            bpm = _quarter_bpm(mark)
            if bpm is None or not sane_bpm(bpm):  # text-only ("Langsam") or absurd: keep the previous tempo
                if bpm is not None:
                    ignored.add(f"{bpm:g}")
                if starts_q:
                    continue
                spq = 0.5
            else:
                spq = 60.0 / bpm
            if starts_q and abs(float(start) - starts_q[-1]) < _EPS_Q:
                s_per_q[-1] = spq  # the later mark at one offset wins
                continue
            seconds = starts_s[-1] + (float(start) - starts_q[-1]) * s_per_q[-1] if starts_q else 0.0
            starts_q.append(float(start))
            starts_s.append(seconds)
            s_per_q.append(spq)
        if not starts_q:
            starts_q, starts_s, s_per_q = [0.0], [0.0], [0.5]
        if ignored and warnings is not None:
            warnings.append(
                f"tempo(s) of {', '.join(sorted(ignored))} quarter notes per minute ignored: a tempo must be from "
                f"{MIN_BPM:g} to {MAX_BPM:g}; the previous tempo (or 120) is used there"
            )
        return cls(tuple(starts_q), tuple(starts_s), tuple(s_per_q))

    def seconds(self, offset_q: float) -> float:
        """The time in seconds of a quarter-length offset."""
        i = max(bisect.bisect_right(self.starts_q, offset_q + _EPS_Q) - 1, 0)
        return self.starts_s[i] + (offset_q - self.starts_q[i]) * self.s_per_q[i]


def _quarter_bpm(mark: Any) -> float | None:
    """A metronome mark's tempo in quarter notes per minute; None for a text-only mark. music21 divides
    by the number, so a zero or non-numeric one counts as absurd (nan), not as an error."""
    try:
        bpm = mark.getQuarterBPM()
    except (ZeroDivisionError, TypeError, ValueError, AttributeError):
        return math.nan
    if bpm is None:
        return None
    try:
        return float(bpm)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class LineChoice:
    """Which lyric line to sing where.

    verses: the verse lines' numbers (as `annotate` wrote them) in verse order; index: the sung
    verse's place in it (-1 when the sung line is not a verse, e.g. a translation); line: the line
    sung on a first pass; choruses: lines sung wherever the sung line has no syllable on a note.
    """

    verses: tuple[int, ...]
    index: int
    line: int
    choruses: tuple[int, ...] = ()


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
    bar: str = ""  # the bar's number as written, for warnings
    line: int = 0  # the lyric line this note's lyric (or hold) belongs to
    marks: NoteMarks = field(default_factory=NoteMarks)


@dataclass
class PartEvents:
    """A part's events for one line, the notes left silent and those held without a mark (with their
    bars), for the warnings."""

    events: list[Event]
    silent: int = 0
    silent_bars: list[str] = field(default_factory=list)
    unmarked: int = 0
    unmarked_bars: list[str] = field(default_factory=list)
    unsingable: int = 0  # sung notes outside MIDI's range (MIDI_RANGE): a wrong octave in the file
    unsingable_bars: list[str] = field(default_factory=list)
    extreme: int = 0  # sung notes outside every singer's range (HUMAN_RANGE)
    extreme_bars: list[str] = field(default_factory=list)


# Pitches (MIDI numbers) a sung note may have: MIDI's own range, C-1 (8 Hz) to G9 (12.5 kHz); beyond it
# an octave in the file is wrong (and the f0 curve overflows). Within it, what no singer reaches, C1
# (33 Hz, below the lowest basso profondo) to C7 (2.1 kHz, above a coloratura's whistle notes), is sung
# with a warning: the voice models were never trained there.
MIDI_RANGE = (0.0, 127.0)
HUMAN_RANGE = (24.0, 96.0)


# An unmarked run of lyric-less notes this short after a syllable is held anyway (a melisma whose slur
# the writer forgot); a longer one is an interlude in the vocal staff and stays silent.
MAX_UNMARKED_HOLD = 2


def lyric_lines(part: Any) -> Counter[int]:
    """The lyric line numbers used in a part, with how many notes carry each."""
    return Counter(number for n in part.recurse().notes for number in {ly.number for ly in n.lyrics if ly.text})


def part_events(part: Any, choice: LineChoice, tempo: TempoMap) -> PartEvents:
    """The part's events for one line choice, tiling [0, end].

    A note with a syllable is sung. A note without one continues the syllable before it where the
    score says so: a slur runs into it, the syllable's extend line runs under it, or it lies inside a
    hyphenated word (between a "begin"/"middle" syllable and the next). An unmarked run of at most
    MAX_UNMARKED_HOLD such notes is held too, and counted in `unmarked`; a longer run, or lyric-less
    notes after a rest, are silent and counted in `silent`.
    """
    raws = _merge_ties(list(_walk(part, choice)))
    out = PartEvents([])
    events = out.events
    cursor_q = 0.0
    holding: _Raw | None = None  # the last sung syllable, while lyric-less notes may still hold it
    unmarked_left = 0  # notes of an unmarked run still to hold
    for i, raw in enumerate(raws):
        if raw.onset_q > cursor_q + _EPS_Q:  # a gap (hidden rest, missing notes): silence
            events.append(_rest(cursor_q, raw.onset_q, tempo))
            holding = None
        if raw.onset_q + _EPS_Q < cursor_q:  # overlaps what is already placed (a stray second voice)
            continue
        cursor_q = raw.onset_q + raw.dur_q
        held = False
        if raw.midi is not None and raw.lyric is None and holding is not None:
            if _held(holding, raw):
                held, unmarked_left = True, 0
            else:
                if unmarked_left == 0:
                    run = _unmarked_run(raws, i, holding)
                    unmarked_left = run if run <= MAX_UNMARKED_HOLD else -run
                held = unmarked_left > 0
                if held:
                    unmarked_left -= 1
                    _count(out, "unmarked", raw.bar)
                else:
                    unmarked_left += 1
        if raw.midi is None or (raw.lyric is None and not held):
            if raw.midi is not None:
                _count(out, "silent", raw.bar)
            events.append(_rest(raw.onset_q, cursor_q, tempo))
            holding, unmarked_left = None, 0
            continue
        _count_out_of_range(out, raw.midi, raw.bar)
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
        if raw.lyric is not None:
            holding, unmarked_left = raw, 0
    out.events = _merge_rests(events)
    return out


def _count(out: PartEvents, kind: str, bar: str) -> None:
    setattr(out, kind, getattr(out, kind) + 1)
    bars: list[str] = getattr(out, f"{kind}_bars")
    if bar and bar not in bars:
        bars.append(bar)


def _count_out_of_range(out: PartEvents, midi: float, bar: str) -> None:
    if not MIDI_RANGE[0] <= midi <= MIDI_RANGE[1]:
        _count(out, "unsingable", bar)
    elif not HUMAN_RANGE[0] <= midi <= HUMAN_RANGE[1]:
        _count(out, "extreme", bar)


def _unmarked_run(raws: list[_Raw], start: int, syllable: _Raw) -> int:
    """How many contiguous lyric-less notes from raws[start] no mark ties to `syllable`."""
    run = 0
    end_q = raws[start].onset_q
    for raw in raws[start:]:
        if raw.midi is None or raw.lyric is not None or abs(raw.onset_q - end_q) > _EPS_Q or _held(syllable, raw):
            break
        run += 1
        end_q = raw.onset_q + raw.dur_q
    return run


def _held(syllable: _Raw, raw: _Raw) -> bool:
    """Whether a lyric-less note continues `syllable` by the score's own marks."""
    return (
        raw.marks.slurred
        or syllable.syllabic in ("begin", "middle")  # inside a word: the hyphen runs to the next syllable
        or syllable.line in raw.marks.extend_through  # the extend line runs here (annotate ends it at a stop)
    )


def _walk(part: Any, choice: LineChoice) -> Any:
    passes: Counter[Any] = Counter()
    bars = []
    measures = list(part.getElementsByClass("Measure"))
    tune = _tune_voice(measures)
    for measure in measures:
        containers = list(measure.voices) if measure.hasVoices() else [measure]
        containers.sort(key=lambda c: c is not measure and str(c.id) != tune)  # the tune's voice first
        voices = [_voice_elements(c) for c in containers]
        offsets = [float(c.offset) if c is not measure else 0.0 for c in containers]
        lines = [_lines_present(v) for v in voices]
        bars.append((measure, offsets, voices, lines, set().union(*lines)))
    last_own = max((i for i, (*_, present) in enumerate(bars) if choice.line in present), default=-1)
    for i, (measure, offsets, voices, lines, present) in enumerate(bars):
        line = _measure_line([el for v in voices for el in v], present, choice, passes, after_own_text=i > last_own)
        sung = _sung_voice(voices, lines, {line, *choice.choruses})
        base_q = float(measure.offset) + offsets[sung]
        bar = str(measure.measureNumberWithSuffix() if hasattr(measure, "measureNumberWithSuffix") else measure.number)
        for raw in _timed(voices[sung], base_q, line, choice.choruses):
            raw.bar = bar
            yield raw


def _tune_voice(measures: list[Any]) -> str:
    """The voice (its MusicXML number) that carries the part's tune: voice 1, unless voice 1 has no words
    anywhere in the part (the writer put the melody in another voice and a wordless line in voice 1): then
    the voice with the most words. A bar with one voice only counts as voice 1's."""
    words: Counter[str] = Counter()
    for measure in measures:
        for voice in measure.voices if measure.hasVoices() else (measure,):
            key = str(voice.id) if voice is not measure else "1"
            words[key] += sum(1 for el in voice.notes if _lines_present([el]))
    if words.get("1", 0):
        return "1"
    best, count = max(words.items(), key=lambda item: item[1], default=("1", 0))
    return best if count else "1"


def _voice_elements(container: Any) -> list[Any]:
    """The notes and rests of a bar or of one of its voices that take time, and the grace notes that carry
    words (the others are ornaments: they take no time in the score and are not sung)."""
    return [
        el
        for el in container.notesAndRests
        if (float(el.quarterLength) > 0 and not el.duration.isGrace) or (el.duration.isGrace and _lines_present([el]))
    ]


def _timed(elements: list[Any], base_q: float, line: int, choruses: tuple[int, ...]) -> Any:
    """The raw notes and rests of one voice of a bar, in order.

    A grace note with words is sung on the beat of the note it ornaments, taking its written value (an
    eighth by default) but at most half of that note's time; the note then holds the grace note's syllable
    unless it has words of its own (the writer put the syllable on the grace note). A grace note after the
    last note of the bar, or before a rest, takes its time from the end of the note before it instead."""
    graces: list[Any] = []
    out: list[_Raw] = []
    for el in elements:
        if el.duration.isGrace:
            if _lines_present([el]) & {line, *choruses}:  # words of another verse: an ornament in this one
                graces.append(el)
            continue
        raw = _raw(el, base_q + float(el.offset), line, choruses)
        if graces and raw.midi is not None:
            out.extend(_steal(graces, raw, line, choruses, at_start=True))
        elif graces:  # before a rest: sung at the end of the note before it
            _steal_from_last(out, graces, line, choruses)
        out.append(raw)
        graces = []
    _steal_from_last(out, graces, line, choruses)
    return out


def _written_quarters(grace: Any) -> float:
    """A grace note's written value in quarters (its type: a 16th is 0.25), an eighth where it has none."""
    from music21 import duration  # heavy: the worker has imported music21 already by now

    try:
        value = float(duration.convertTypeToQuarterLength(grace.duration.type, grace.duration.dots))
    except Exception:  # music21 raises assorted errors for "zero", "complex" and unknown types
        return 0.5
    return value if math.isfinite(value) and value > 0 else 0.5


def _steal_from_last(out: list[_Raw], graces: list[Any], line: int, choruses: tuple[int, ...]) -> None:
    if graces and out and out[-1].midi is not None:
        out.extend(_steal(graces, out[-1], line, choruses, at_start=False))


def _steal(graces: list[Any], note: _Raw, line: int, choruses: tuple[int, ...], *, at_start: bool) -> list[_Raw]:
    """Raw notes for `graces`, in the time they take from `note` (at its start or its end; `note` shrinks)."""
    share = note.dur_q / (len(graces) + 1)
    out = []
    for grace in graces:
        out.append(_raw(grace, 0.0, line, choruses))
        out[-1].dur_q = min(_written_quarters(grace), share)
    taken = sum(raw.dur_q for raw in out)
    start = note.onset_q if at_start else note.onset_q + note.dur_q - taken
    for raw in out:
        raw.onset_q, start = start, start + raw.dur_q
        raw.tie_on = raw.tie_in = False
    note.dur_q -= taken
    if at_start:
        note.onset_q += taken
        if note.lyric is None:  # the syllable was written on the grace note: the note holds it
            note.marks = dataclasses.replace(note.marks, slurred=True)
    return out


def _sung_voice(voices: list[list[Any]], lines: list[set[int]], wanted: set[int]) -> int:
    """Which voice of a bar is sung (an index into `voices`, the bar's voices with the part's tune voice
    first, `_tune_voice`, the others in the file's order; `lines`: each voice's `_lines_present`; `wanted`:
    the lines this bar sings).

    The first voice, as a rule. Another voice where the first cannot be the tune in this bar: the first
    has no pitched note (the melody moved to voice 2 while voice 1 rests), or the first carries words of
    other verses only while another voice carries the sung line's (a verse whose rhythm differs, written
    as a second voice). A first voice with notes but no words keeps the bar: a melisma or a held note
    goes on there, and a second voice's words then belong to another singer (an alto on the same staff)."""
    if lines[0] & wanted:
        return 0
    words_elsewhere = bool(lines[0]) or not any(_pitched(el) for el in voices[0])
    if not words_elsewhere:
        return 0
    return next((index for index in range(1, len(voices)) if lines[index] & wanted), 0)


def _pitched(el: Any) -> bool:
    return not el.isRest and bool(getattr(el, "pitches", ())) and not NoteMarks.of(el).cue


def _lines_present(elements: list[Any]) -> set[int]:
    """The lyric lines that put text under some note of a bar (a cue note's words are another singer's)."""
    return {ly.number for el in elements if not NoteMarks.of(el).cue for ly in getattr(el, "lyrics", ()) if ly.text}


def _measure_line(
    elements: list[Any], present: set[int], choice: LineChoice, passes: Counter[Any], *, after_own_text: bool
) -> int:
    """The lyric line to sing in this bar (`present`: the lines with text in it, `_lines_present`).
    After repeats are expanded, the k-th pass through a source bar sings verse+k-1 where the bar has it
    (the usual "1. ... 2. ..." under a repeat), and the chosen line where it does not. Passes are
    counted by the bar's source (its footnote), not by its number: implicit bars and repeated numbers
    ("X1", pickups) are different bars sung once each.

    `after_own_text`: the chosen line puts no text under any later bar. There a bar with text on one
    other verse line only sings that line: the rest of the song written once, numbered as the verse it
    follows (a chorale's "1. 2." under the repeat, then its close as line 2 alone)."""
    source = next((m.bar for m in map(NoteMarks.of, elements) if m.bar >= 0), None)
    line = choice.line
    if source is not None:
        passes[source] += 1
        k = passes[source]
        index = choice.index + k - 1
        if k > 1 and choice.index >= 0 and index < len(choice.verses) and choice.verses[index] in present:
            line = choice.verses[index]
    if line not in present and not present & set(choice.choruses) and choice.verses and choice.index > 0:
        # a refrain written once, under the first verse only: every verse sings it
        first = choice.verses[0]
        if first in present:
            return first
    others = [v for v in choice.verses if v in present]
    written_once = len(others) == 1 and not present & set(choice.choruses)
    if after_own_text and choice.index >= 0 and line not in present and written_once:
        return others[0]
    return line


def _raw(el: Any, onset_q: float, line: int, choruses: tuple[int, ...]) -> _Raw:
    dur_q = float(el.quarterLength)
    marks = NoteMarks.of(el)
    if el.isRest or marks.cue:  # a cue note is another part's line: silent, its words not this singer's
        return _Raw(onset_q, dur_q, None, marks=marks)
    if el.isChord:
        if not el.pitches:
            return _Raw(onset_q, dur_q, None, marks=marks)
        midi = max(float(p.ps) for p in el.pitches)
    elif hasattr(el, "pitch"):
        midi = float(el.pitch.ps)
    else:  # unpitched percussion: nothing to sing
        return _Raw(onset_q, dur_q, None, marks=marks)
    tie = getattr(el.tie, "type", None) if el.tie is not None else None
    sung_line, lyric = line, None
    syllabic: Syllabic = "single"
    for candidate in (line, *choruses):
        lyric, syllabic = _lyric(el, candidate)
        if lyric is not None:
            sung_line = candidate
            break
    breath = any(type(a).__name__ == "BreathMark" for a in el.articulations)
    return _Raw(
        onset_q,
        dur_q,
        midi,
        lyric,
        syllabic,
        tie in ("start", "continue"),
        tie in ("stop", "continue"),
        breath,
        line=sung_line,
        marks=marks,
    )


def _lyric(el: Any, line: int) -> tuple[str | None, Syllabic]:
    for lyric in el.lyrics:
        if lyric.number != line:
            continue
        if lyric.components:  # an elision: two syllables on one note, sung as one
            text = " ".join(c.text or "" for c in lyric.components).strip()
            syllabic: Syllabic = "single"
        else:
            text = (lyric.text or "").strip()
            syllabic = _SYLLABIC.get(lyric.syllabic or "single", "single")
        if text:
            return text, syllabic
    return None, "single"


def _merge_ties(raws: list[_Raw]) -> list[_Raw]:
    """Tied notes become one note, except where the tied-to note carries a syllable of its own: a new
    syllable starts there (a tie under two syllables is how some programs write a re-articulation)."""
    merged: list[_Raw] = []
    for raw in raws:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and raw.tie_in
            and prev.tie_on
            and raw.lyric is None
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
