"""Cutting the timed words of a song into phrases, and writing each as a Phrase (.ds segment).

Phrases split inside rests of at least options.split_rest_s: the phrase before keeps up to
tail_pad_s of the rest as SP, the next starts up to head_pad_s before its first consonant. A phrase
still longer than max_phrase_s is cut at a note onset (a word boundary), so each piece can be
rendered on its own. With options.first_phrase_s the song's first phrase is cut shorter still (sound
within seconds: the first phrase is the one a listener waits for), preferably where the syllable after
the cut begins with an unvoiced consonant, which ends the phrase before: the join then falls where the
voice starts anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

from singer_tasks.phonemize.dictionary import BREATH, SILENCE
from singer_tasks.phonemize.options import PhraseOptions
from singer_tasks.phonemize.pitch import PitchSegment, f0_curve
from singer_tasks.phonemize.timing import Slot, Word
from singer_tasks.phrase import Phrase

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: float) -> str:
    """Scientific pitch name of the nearest MIDI note (60 -> C4), as openvpi's note_seq writes it."""
    m = round(midi)
    return f"{_NAMES[m % 12]}{m // 12 - 1}"


def split_phrases(words: Sequence[Word], options: PhraseOptions) -> list[list[Word]]:
    """Words grouped into phrases (silences at the cuts clipped to their pads)."""
    groups: list[list[Word]] = []
    current: list[Word] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        splits = word.kind == SILENCE and (i in (0, last) or word.end_s - word.start_s >= options.split_rest_s)
        if not splits:
            current.append(word)
            continue
        silence_end = word.bounds_s[1]  # the SP itself ends where the next onset consonants start
        floor = word.start_s
        if current:
            room = silence_end - word.start_s
            floor = word.start_s + min(options.tail_pad_s, room if i == last else room / 2)
            current.append(clip(word, word.start_s, floor))
            groups.append(current)
            current = []
        if i != last:
            current = [clip(word, max(floor, silence_end - options.head_pad_s), word.end_s)]
    if current:
        groups.append(current)
    out: list[list[Word]] = []
    for group in groups:
        out.extend(_limit_length(group, options.max_phrase_s))
    out = [g for g in out if any(w.kind == "note" for w in g)]
    if out and options.first_phrase_s > 0:
        out[:1] = short_first_phrase(out[0], options.first_phrase_s)
    return out


# Consonants unvoiced in every phoneme set the voices use (ARPAbet, opencpop pinyin, Japanese romaji);
# a phoneme may carry a language prefix ("zh/sh").
UNVOICED = frozenset({"p", "t", "k", "f", "s", "sh", "ch", "hh", "h", "th", "c", "q", "x", "ts"})


# How far the first of the two phrases runs on into the second's first note, at most (and at most half of
# it): the assembly cross-fades the overlap, so the second phrase's abrupt start (a vowel with nothing
# before it) fades in under the first phrase's natural onset instead of joining it edge to edge.
FIRST_PHRASE_OVERLAP_S = 0.05


def short_first_phrase(group: list[Word], max_s: float) -> list[list[Word]]:
    """The song's first phrase in two when it runs past `max_s`: cut at a note onset within `max_s` of
    its start, after at least one sung note; the latest whose syllable begins unvoiced (the phrase before
    ends on that consonant) if one lies in the second half of that span, else the latest onset. The
    first part also sings the start of the cut note (FIRST_PHRASE_OVERLAP_S), for the cross-fade."""
    start = group[0].start_s
    if group[-1].end_s - start <= max_s:
        return [group]
    first_note = next(j for j, w in enumerate(group) if w.kind == "note")
    cuts = [
        j for j in range(first_note + 1, len(group)) if group[j].kind == "note" and group[j].start_s <= start + max_s
    ]
    if not cuts:
        return [group]
    quiet = [j for j in cuts if _ends_unvoiced(group[j - 1]) and group[j].start_s >= start + max_s / 2]
    cut = (quiet or cuts)[-1]
    onset = group[cut]
    overlap = min(FIRST_PHRASE_OVERLAP_S, (onset.slots[0].end_s - onset.start_s) / 2)
    return [[*group[:cut], clip(onset, onset.start_s, onset.start_s + overlap)], group[cut:]]


def _ends_unvoiced(word: Word) -> bool:
    return bool(word.phonemes) and word.phonemes[-1].rpartition("/")[2] in UNVOICED


def _limit_length(group: list[Word], max_s: float) -> list[list[Word]]:
    out: list[list[Word]] = []
    while group[-1].end_s - group[0].start_s > max_s:
        limit = group[0].start_s + max_s
        cuts = [j for j in range(1, len(group)) if group[j].kind == "note" and group[j].start_s <= limit]
        if not cuts:
            break
        out.append(group[: cuts[-1]])
        group = group[cuts[-1] :]
    out.append(group)
    return out


def clip(word: Word, start_s: float, end_s: float) -> Word:
    """The part of a word within [start_s, end_s] (phonemes and slots left empty are dropped)."""
    slots = [Slot(max(s.start_s, start_s), min(s.end_s, end_s), s.midi) for s in word.slots]
    slots = [s for s in slots if s.end_s > s.start_s]
    phonemes: list[str] = []
    bounds = [start_s]
    for p, lo, hi in zip(word.phonemes, word.bounds_s, word.bounds_s[1:], strict=False):
        lo, hi = max(lo, start_s), min(hi, end_s)
        if hi > lo:
            phonemes.append(p)
            bounds.append(hi)
    return Word(word.kind, slots, word.syllable, phonemes, bounds)


def to_phrase(group: Sequence[Word], lang: str | None, options: PhraseOptions) -> Phrase:
    """One phrase as the .ds structure, timed from its own start."""
    start = group[0].start_s
    ph_seq: list[str] = []
    ph_dur: list[float] = []
    ph_num: list[int] = []
    note_seq: list[str] = []
    note_dur: list[float] = []
    note_slur: list[int] = []
    segments: list[PitchSegment] = []
    for i, word in enumerate(group):
        durations = [hi - lo for lo, hi in zip(word.bounds_s, word.bounds_s[1:], strict=False)]
        ph_seq += word.phonemes
        ph_dur += durations
        ph_num.append(len(word.phonemes))
        if word.kind == "note":
            for k, slot in enumerate(word.slots):
                note_seq.append(note_name(slot.midi if slot.midi is not None else 0))
                note_dur.append(slot.end_s - slot.start_s)
                note_slur.append(1 if k else 0)
                segments.append(PitchSegment(slot.start_s - start, slot.end_s - start, slot.midi, True))
            continue
        note_seq.append("rest")
        note_dur.append(word.end_s - word.start_s)
        note_slur.append(0)
        following = group[i + 1].slots[0].midi if i + 1 < len(group) and group[i + 1].kind == "note" else None
        for p, lo, hi in zip(word.phonemes, word.bounds_s, word.bounds_s[1:], strict=False):
            # silence is unvoiced; the next syllable's consonants sung in the rest take its pitch
            segments.append(PitchSegment(lo - start, hi - start, None if p in (SILENCE, BREATH) else following))
    duration = group[-1].end_s - start
    return Phrase(
        offset_s=start,
        ph_seq=tuple(ph_seq),
        ph_dur_s=tuple(ph_dur),
        ph_num=tuple(ph_num),
        note_seq=tuple(note_seq),
        note_dur_s=tuple(note_dur),
        note_slur=tuple(note_slur),
        f0_hz=tuple(float(x) for x in f0_curve(segments, duration, options)),
        f0_timestep_s=options.f0_timestep_s,
        lang=lang,
    )
